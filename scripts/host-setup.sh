#!/usr/bin/env bash
# Prepares a host for srtfwd, idempotently: reserves hugepages (1 GiB pages
# where the CPU has them, else 2 MiB), mounts hugetlbfs, loads vfio-pci and,
# when PCI addresses are given, binds those NICs to it with dpdk-devbind.py
# (Debian package dpdk). It prints what it did and how to undo it; --undo
# gives back what it took (hugepages to their earlier count, the mount, each
# NIC to its earlier driver), as recorded in its state file.
#
#   scripts/host-setup.sh [options] [PCI-ADDRESS ...]
#   scripts/host-setup.sh --undo
#
#   --pages N          hugepages to have reserved (default: 2 of 1 GiB, or 1024 of 2 MiB)
#   --page-size 1G|2M  default: 1G when /proc/cpuinfo has pdpe1gb, else 2M
#   --mount DIR        hugetlbfs mount point (default /dev/hugepages)
#   --driver NAME      driver to bind the NICs to (default vfio-pci)
#   --noiommu          enable vfio's unsafe no-IOMMU mode (a VM without a vIOMMU)
#   --state FILE       what was done, for --undo (default /run/srtfwd-host-setup.state)
#   --undo             undo what the state file records
#   --status           only print the status
#
# Without PCI addresses nothing is bound: hugepages, the module and the status.
# Pages reserved at run time may fall short on a fragmented host (1 GiB pages
# above all); then it says so and fails. Reserve at boot instead:
# default_hugepagesz=1G hugepagesz=1G hugepages=N on the kernel command line.
set -euo pipefail

pages=""
size=""
mnt=/dev/hugepages
driver=vfio-pci
noiommu=0
state=/run/srtfwd-host-setup.state
mode=setup
pci=()

die() { echo "host-setup: $*" >&2; exit 1; }
say() { echo "host-setup: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --pages) pages=${2:?--pages needs a number}; shift 2 ;;
    --page-size) size=${2:?--page-size needs 1G or 2M}; shift 2 ;;
    --mount) mnt=${2:?--mount needs a directory}; shift 2 ;;
    --driver) driver=${2:?--driver needs a name}; shift 2 ;;
    --noiommu) noiommu=1; shift ;;
    --state) state=${2:?--state needs a file}; shift 2 ;;
    --undo) mode=undo; shift ;;
    --status) mode=status; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ "$1" =~ ^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]] ||
         die "$1 is not a PCI address like 0000:01:00.0"
       a=$1; [ ${#a} -eq 7 ] && a="0000:$a"; pci+=("${a,,}"); shift ;;
  esac
done

devbind=$(command -v dpdk-devbind.py || true)

status() {
  echo "--- hugepages (/proc/meminfo)"
  grep -E '^(HugePages_Total|HugePages_Free|Hugepagesize|Hugetlb):' /proc/meminfo
  for d in /sys/kernel/mm/hugepages/hugepages-*; do
    echo "$(basename "$d"): $(cat "$d/nr_hugepages") reserved, $(cat "$d/free_hugepages") free"
  done
  echo "--- hugetlbfs mounts"
  grep -w hugetlbfs /proc/mounts || echo "(none)"
  echo "--- NICs (dpdk-devbind.py --status-dev net)"
  if [ -n "$devbind" ]; then
    "$devbind" --status-dev net 2>/dev/null
  else
    echo "dpdk-devbind.py not found (Debian package dpdk)"
  fi
}

# State file: shell assignments, read back by --undo and by a second run.
size_kb="" prev_pages="" mounted="" bound=""
[ -f "$state" ] && . "$state"
save_state() {
  umask 077
  printf 'size_kb=%q\nprev_pages=%q\nmounted=%q\nbound=%q\n' \
    "$size_kb" "$prev_pages" "$mounted" "$bound" > "$state.tmp"
  mv "$state.tmp" "$state"
}

need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root"; }

if [ "$mode" = status ]; then
  status
  exit 0
fi

if [ "$mode" = undo ]; then
  need_root "--undo"
  [ -f "$state" ] || { say "nothing to undo ($state does not exist)"; status; exit 0; }
  for entry in $bound; do
    dev=${entry%%=*} orig=${entry#*=}
    if [ "$orig" = none ]; then
      say "unbinding $dev (it had no driver before)"
      "$devbind" -u "$dev"
    else
      say "binding $dev back to $orig"
      "$devbind" -b "$orig" "$dev"
    fi
  done
  if [ -n "$mounted" ] && grep -qs " $mounted hugetlbfs " /proc/mounts; then
    say "unmounting $mounted"
    umount "$mounted" || say "cannot unmount $mounted (in use?); left mounted"
  fi
  if [ -n "$size_kb" ] && [ -n "$prev_pages" ]; then
    f=/sys/kernel/mm/hugepages/hugepages-${size_kb}kB/nr_hugepages
    say "hugepages of ${size_kb} kB: back to $prev_pages (from $(cat "$f"))"
    echo "$prev_pages" > "$f"
    now=$(cat "$f")
    [ "$now" -eq "$prev_pages" ] ||
      say "still $now reserved: pages in use (a running srtfwd?) are freed when released"
  fi
  rm -f "$state"
  status
  exit 0
fi

need_root "host set-up"

# --- hugepages
if [ -z "$size" ]; then
  if grep -qw pdpe1gb /proc/cpuinfo; then size=1G; else size=2M; fi
fi
case "$size" in
  1G|1g|1024M) want_kb=1048576; default_pages=2 ;;
  2M|2m) want_kb=2048; default_pages=1024 ;;
  *) die "--page-size $size: use 1G or 2M" ;;
esac
pages=${pages:-$default_pages}
[[ "$pages" =~ ^[0-9]+$ ]] || die "--pages $pages is not a number"
f=/sys/kernel/mm/hugepages/hugepages-${want_kb}kB/nr_hugepages
[ -w "$f" ] || die "$f: not available (no ${size} pages on this kernel/CPU, or /sys read-only)"
if [ -n "$size_kb" ] && [ "$size_kb" != "$want_kb" ]; then
  die "$state records ${size_kb} kB pages; run --undo before switching to $size"
fi
have=$(cat "$f")
if [ "$have" -ge "$pages" ]; then
  say "hugepages: $have of $size already reserved (>= $pages): unchanged"
else
  if [ -z "$prev_pages" ]; then size_kb=$want_kb; prev_pages=$have; fi
  echo "$pages" > "$f"
  got=$(cat "$f")
  save_state
  say "hugepages: $size reserved $have -> $got (undo: $0 --undo --state $state)"
  [ "$got" -ge "$pages" ] ||
    die "only $got of $pages $size pages could be reserved (memory fragmented): reserve them at boot"
fi

# --- hugetlbfs
if grep -qs " $mnt hugetlbfs " /proc/mounts; then
  say "hugetlbfs: $mnt already mounted"
else
  mkdir -p "$mnt"
  mount -t hugetlbfs -o "pagesize=$size" nodev "$mnt"
  mounted=$mnt
  save_state
  say "hugetlbfs: mounted on $mnt (pagesize=$size)"
fi

# --- the driver module
mod=${driver//-/_}
if [ -d "/sys/module/$mod" ]; then
  say "$driver: loaded"
elif command -v modprobe >/dev/null && modprobe "$driver"; then
  say "$driver: loaded now (modprobe $driver)"
elif [ ${#pci[@]} -gt 0 ]; then
  die "$driver: cannot load the module (modprobe $driver) and NICs are to be bound to it"
else
  say "$driver: not loaded and cannot be loaded here (no modprobe or no module); nothing to bind"
fi
if [ "$noiommu" = 1 ]; then
  p=/sys/module/vfio/parameters/enable_unsafe_noiommu_mode
  [ -w "$p" ] || die "--noiommu: $p not writable (vfio not loaded?)"
  echo 1 > "$p"
  say "vfio: unsafe no-IOMMU mode on (no DMA isolation: only for a VM without vIOMMU)"
fi

# --- NICs
if [ ${#pci[@]} -gt 0 ]; then
  [ -n "$devbind" ] || die "dpdk-devbind.py not found: apt-get install dpdk"
  for dev in "${pci[@]}"; do
    [ -e "/sys/bus/pci/devices/$dev" ] || die "$dev: no such PCI device"
    cur=none
    [ -e "/sys/bus/pci/devices/$dev/driver" ] && cur=$(basename "$(readlink "/sys/bus/pci/devices/$dev/driver")")
    if [ "$cur" = "$driver" ]; then
      say "$dev: already bound to $driver"
      continue
    fi
    # dpdk-devbind.py refuses an interface with routes (it would cut this
    # host off): that refusal stands.
    "$devbind" -b "$driver" "$dev" || die "$dev: dpdk-devbind.py -b $driver failed (see above)"
    case " $bound " in *" $dev="*) ;; *) bound="${bound:+$bound }$dev=$cur" ;; esac
    save_state
    say "$dev: $cur -> $driver"
  done
fi

status
if [ -f "$state" ]; then
  echo "--- to undo: $0 --undo --state $state"
else
  echo "--- nothing was changed (nothing to undo)"
fi

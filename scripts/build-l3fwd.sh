#!/usr/bin/env bash
# Builds DPDK's own l3fwd example, a peer of scripts/bench.sh, from the
# examples Debian ships in dpdk-doc (the same DPDK release srtfwd links
# against), with the example's own Makefile against pkg-config libdpdk.
# Nothing of DPDK's is kept in the repository: the examples tree is copied
# under the build directory (l3fwd includes ../common), its RX checksum
# offload request dropped (below: virtual ports refuse it), and built there.
# Installs dpdk-doc and make if missing (root); does nothing when the binary
# is there and up to date. Prints the binary's path.
#   usage: scripts/build-l3fwd.sh [OUT_DIR]   (default build/l3fwd)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/l3fwd}
src=/usr/share/dpdk/examples

missing=()
for p in dpdk-doc make; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "build-l3fwd: missing ${missing[*]} and not root: run as root" >&2; exit 1; }
  echo "build-l3fwd: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -f "$src/l3fwd/Makefile" ] || { echo "build-l3fwd: $src/l3fwd/Makefile missing (dpdk-doc)" >&2; exit 1; }

# A fresh copy when the package's tree (an upgrade) or this script changed,
# else make decides.
mkdir -p "$out"
stamp="$out/examples/.source-version"
version="$(dpkg-query -W -f='${Version}' dpdk-doc) $(cksum < "$0")"
if [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
  rm -rf "$out/examples"
  cp -r "$src" "$out/examples"
  # The one change to DPDK's code: 22.11's l3fwd asks every port and RX
  # queue for checksum offload, which no virtual port (net_pcap, net_null)
  # offers, and DPDK refuses the port. The request goes; l3fwd's lookup path
  # reads no checksum flag, so its forwarding work is unchanged.
  sed -i 's/^\(\t*\.offloads = \)RTE_ETH_RX_OFFLOAD_CHECKSUM,$/\10, \/* bench: no RX checksum offload on virtual ports *\//' \
    "$out/examples/l3fwd/main.c"
  grep -q 'bench: no RX checksum offload' "$out/examples/l3fwd/main.c" \
    || { echo "build-l3fwd: l3fwd's main.c is not the 22.11 one this script patches" >&2; exit 1; }
  echo "$version" > "$stamp"
fi
# The example's Makefile: -O3, DPDK's -march from pkg-config, shared libraries.
nice make -s -C "$out/examples/l3fwd" >&2
echo "$out/examples/l3fwd/build/l3fwd"

#!/usr/bin/env bash
# Data-plane benchmark (prints figures; not a test). One worker lcore forwards
# a looped pcap (net_pcap infinite_rx=1) to net_null, next to dpdk-testpmd
# --forward-mode=5tswap on the same pcap in the same run, with 1 and 100,000
# installed sessions. Figures move between machines: read the ratio.
# Each pair runs REPEAT times (default 3), alternating, and the median ratio
# is printed: on a shared host one pair can move by 30 %.
# HUGE=1 runs both forwarders on 2 MiB hugepages (reserved here if needed,
# root), as a production host would; by default both run with --no-huge.
# SESSIONS="1 64 100000" picks the session counts (default "1 100000");
# HANDSHAKES=0 leaves out the handshake figures (rates, and
# scripts/bench-handshake.sh's latency and flood figures). FLOOR=0 leaves out the
# third program of each run, srtfwd-lookup-floor (tests/bench/lookup_floor.cc):
# the least a forwarder with a per-packet session lookup does, on the same
# pcap with as many keys installed, whose ratio to testpmd says how much of
# the gap any such forwarder has on the machine at hand. BASELINE=PATH runs the
# srtfwd-testbed at PATH (another build) as the peer instead of testpmd: the
# ratio is then this build against that one. L3FWD=0 leaves out the fourth,
# DPDK's l3fwd in exact-match mode (scripts/build-l3fwd.sh builds it), a
# lookup forwarder of DPDK's own with rte_hash holding as many keys as
# srtfwd's table (scripts/bench-l3fwd-rules.py). Every figure also goes to
# BENCH_CSV (default build/bench/bench.csv), drawn by scripts/bench-plot.py
# into BENCH_PLOTS (default: the CSV's directory) as bench-mpps.png and
# bench-handshakes.png. FAMILIES="6 64 46" (the
# default; "" leaves them out) adds, per session count, one srtfwd run each
# of IPv6 callers to IPv6 origins (6), IPv6 callers to IPv4 origins (64: the
# header translated 6->4) and IPv4 callers to IPv6 origins (46), printed as
# Mpps and as a ratio to the IPv4 runs' median.
#   usage: [REPEAT=N] [HUGE=1] [SESSIONS=...] scripts/bench.sh [SECONDS_PER_RUN]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
repeat=${REPEAT:-3}
. scripts/bench-lib.sh
bench_init srtfwd-bench
bench_csv_init "${BENCH_CSV:-build/bench/bench.csv}"
l3fwd=""
if [ "${L3FWD:-1}" != 0 ] && [ -z "${BASELINE:-}" ]; then
  l3fwd=$(bash scripts/build-l3fwd.sh) || { echo "bench: l3fwd not built, its figures are n/a" >&2; l3fwd=""; }
fi

mem="--no-huge -m 2048"
if [ "${HUGE:-0}" = 1 ]; then
  have=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
  if [ "${have:-0}" -lt 1100 ]; then
    echo $(( $(awk '/^HugePages_Total:/ {print $2}' /proc/meminfo) + 1100 - have )) > /proc/sys/vm/nr_hugepages
  fi
  mount | grep -q ' type hugetlbfs ' || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
  have=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
  [ "$have" -ge 1100 ] || {
    echo "bench: HUGE=1 needs 1100 free 2 MiB hugepages, $have free: run as root with 2.2 GiB free, or leave HUGE unset" >&2
    exit 1
  }
  # Hugepage files unlinked once mapped: none outlives a run (the pages
  # stay reserved, free again). Without it a run left 1,024 pages in files.
  mem="-m 2048 --huge-unlink"
fi

packets=32768
admin_port=$(free_port)
payload=${PAYLOAD:-200}
bench_toml "$admin_port" 131072 131071 > "$work/bench.toml"

testpmd_mpps() {  # pcap
  local log="$work/testpmd.log"
  # net_null with no-rx=1: a sink only, so both programs forward one direction.
  # shellcheck disable=SC2086
  stdbuf -oL dpdk-testpmd -l 0-1 $mem --no-pci \
    --file-prefix=srtfwd-bench-tp --vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" --vdev net_null0,no-rx=1 \
    -- --forward-mode=5tswap --total-num-mbufs=131072 --no-lsc-interrupt --stats-period 3600 \
    >"$log" 2>&1 &
  local pid=$!
  while ! grep -q 'start packet forwarding' "$log"; do
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; echo n/a; return; }
    sleep 0.1
  done
  local t0; t0=$(date +%s.%N)
  sleep "$secs"
  kill -INT $pid 2>/dev/null || true
  local t1; t1=$(date +%s.%N)
  wait $pid 2>/dev/null || true
  # Packets the sink port sent over the forwarding time (start-up excluded).
  # A run that forwarded nothing (testpmd stalled or stopped early) is n/a,
  # not a figure: its log goes to stderr and the median leaves it out.
  local mpps
  mpps=$(grep -A2 'Forward statistics for port 1' "$log" | grep -o 'TX-packets: *[0-9]*' | awk '{print $2}' \
    | awk -v t0="$t0" -v t1="$t1" '$1 > 0 {printf "%.2f", $1 / (t1 - t0) / 1e6; found=1} END {if (!found) print "n/a"}')
  [ "$mpps" = n/a ] && { echo "bench: testpmd run without a figure:" >&2; tail -20 "$log" >&2; }
  echo "$mpps"
}

# The benchmark session (one caller, one origin) in family F: 4, 6, 64, 46.
session_arg() {  # family
  local c=198.18.0.2:10000 v=198.18.0.1:10080 b=198.18.1.2:10080 l=198.18.1.1:20000
  case "$1" in 6|64) c="[2001:db8::2]:10000" v="[2001:db8::1]:10080" ;; esac
  case "$1" in 6|46) b="[2001:db8:1::2]:10080" l="[2001:db8:1::1]:20000" ;; esac
  echo "caller=$c vip=$v backend=$b leg=$l caller_mac=02:00:00:00:00:02 backend_mac=02:00:00:00:01:02"
}

srtfwd_mpps() {  # pcap sessions [family]
  local log="$work/srtfwd.log"
  rm -f "$log"  # a previous run's "srtfwd ready" must not be taken for this one's
  # shellcheck disable=SC2086
  "$testbed" -l 0-1 $mem --no-pci --file-prefix=srtfwd-bench-sf \
    --vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" --vdev net_null0,no-rx=1 -- --config "$work/bench.toml" \
    --log-level info --session-count "$2" \
    --session "$(session_arg "${3:-4}")" \
    >"$log" 2>&1 &
  local pid=$!
  while ! grep -qs 'srtfwd ready' "$log"; do
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.2
  done
  # Forwarded packets over a measured window, read from /metrics.
  /usr/bin/python3 - "$log" "$admin_port" "$secs" <<'PY'
import json, re, sys, time, urllib.request
log, port, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
def fwd():
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return float(re.search(r"^srtfwd_forwarded_packets_total (\S+)", text, re.M).group(1)), time.monotonic()
time.sleep(1)  # warm-up
f0, t0 = fwd()
time.sleep(secs)
f1, t1 = fwd()
installed = re.search(r"testbed: (\d+) session", open(log).read()).group(1)
print(f"{(f1 - f0) / (t1 - t0) / 1e6:.2f} {installed}")
PY
  kill -TERM $pid
  wait $pid || true
  local c; c=$(grep -o 'final counters: .*' "$log" | head -1)
  /usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1][16:]); print("%.4f" % (c["forwarded"]/max(c["rx_packets"],1)))' "$c"
}

floor_mpps() {  # pcap sessions
  local bin=build/tests/bench/srtfwd-lookup-floor out
  [ -x "$bin" ] || { echo n/a; return; }
  # shellcheck disable=SC2086
  out=$("$bin" -l 0-1 $mem --no-pci --file-prefix=srtfwd-bench-fl --log-level=error \
    --vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" --vdev net_null0,no-rx=1 -- "$2" "$secs" 2>&1) || true
  sed -n 's/^lookup-floor: \([0-9.]*\) Mpps.*/\1/p' <<<"$out" | grep . || { echo "bench: lookup floor without a figure: $out" >&2; echo n/a; }
}

echo "srtfwd bench: 1 worker lcore, looped pcap -> net_null, ${secs}s per run, $(nproc) cores, EAL memory: $mem"
peer="testpmd 5tswap"
[ -n "${BASELINE:-}" ] && peer="baseline srtfwd"
for sessions in ${SESSIONS:-1 100000}; do
  pcap="$work/bench-$sessions.pcap"
  /usr/bin/python3 scripts/bench-pcap.py "$pcap" "$sessions" "$packets" "$payload" >/dev/null
  ratios=()
  floor_ratios=()
  l3_ratios=()
  l3_figures=()
  sf_runs=()
  for ((r = 1; r <= repeat; r++)); do
    # Side by side, alternating: neighbours on a shared host move both alike.
    if [ -n "${BASELINE:-}" ]; then
      { read -r tp _; read -r _; } <<<"$(testbed=$BASELINE srtfwd_mpps "$pcap" "$sessions")"
    else
      tp=$(testpmd_mpps "$pcap")
    fi
    { read -r sf installed; read -r hit; } <<<"$(srtfwd_mpps "$pcap" "$sessions")"
    sf_runs+=("$sf")
    ratio=$(awk -v a="$sf" -v b="$tp" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }')
    ratios+=("$ratio")
    floor=""
    if [ "${FLOOR:-1}" != 0 ] && [ -z "${BASELINE:-}" ]; then
      fl=$(floor_mpps "$pcap" "$sessions")
      fr=$(awk -v a="$fl" -v b="$tp" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }')
      floor_ratios+=("$fr")
      floor=$(printf ' | lookup floor %6s Mpps, ratio %s' "$fl" "$fr")
      bench_csv_row lookup-floor "$sessions" "$r" mpps "$fl"
    fi
    l3=""
    if [ -n "$l3fwd" ]; then
      read -r l3f l3hit <<<"$(l3fwd_mpps "$pcap" "$sessions")"
      l3_figures+=("$l3f")
      l3_ratios+=("$(bench_ratio "$sf" "$l3f")")
      l3=$(printf ' | l3fwd-EM %6s Mpps (%s of rx forwarded), srtfwd / l3fwd-EM %s' "$l3f" "${l3hit:-n/a}" "${l3_ratios[-1]}")
      bench_csv_row l3fwd-em "$sessions" "$r" mpps "$l3f"
    fi
    bench_csv_row "$(tr ' ' - <<<"$peer")" "$sessions" "$r" mpps "$tp"
    bench_csv_row srtfwd "$sessions" "$r" mpps "$sf"
    printf 'sessions %-7s run %d: %s %6s Mpps | srtfwd %6s Mpps (%s installed, %s of rx forwarded) | ratio %s%s%s\n' \
      "$sessions" "$r" "$peer" "$tp" "$sf" "$installed" "$hit" "$ratio" "$floor" "$l3"
  done
  if [ ${#floor_ratios[@]} -gt 0 ]; then
    printf '%s\n' "${floor_ratios[@]}" | grep -v 'n/a' | sort -n \
      | awk -v s="$sessions" -v r="$repeat" '{v[NR] = $1} END {
          printf "sessions %-7s lookup floor median ratio over %d of %d runs: %s  (a minimal forwarder with a lookup per packet, tests/bench/lookup_floor.cc)\n", s, NR, r, NR ? v[int((NR + 1) / 2)] : "n/a" }'
  fi
  # The median of the runs that gave a ratio (n/a runs are left out and counted).
  printf '%s\n' "${ratios[@]}" | grep -v 'n/a' | sort -n \
    | awk -v s="$sessions" -v r="$repeat" -v t="${BASELINE:+this build / baseline}" '{v[NR] = $1} END {
        printf "sessions %-7s median ratio over %d of %d runs: %s  (%s)\n", s, NR, r, NR ? v[int((NR + 1) / 2)] : "n/a", t ? t : "target 0.90" }'
  if [ ${#l3_ratios[@]} -gt 0 ]; then l3fwd_summary "$sessions"; fi
  # The other families, one run each, next to the IPv4 runs' median Mpps.
  v4=$(printf '%s\n' "${sf_runs[@]}" | grep -v 'n/a' | sort -n | awk '{v[NR] = $1} END { print NR ? v[int((NR + 1) / 2)] : "n/a" }')
  for fam in ${FAMILIES-6 64 46}; do
    fpcap="$work/bench-$sessions-$fam.pcap"
    /usr/bin/python3 scripts/bench-pcap.py "$fpcap" "$sessions" "$packets" "$payload" "${fam:0:1}" >/dev/null
    { read -r fsf finst; read -r fhit; } <<<"$(srtfwd_mpps "$fpcap" "$sessions" "$fam")"
    case $fam in 6) label="IPv6      " ;; 64) label="IPv6->IPv4" ;; 46) label="IPv4->IPv6" ;; *) label=$fam ;; esac
    printf 'sessions %-7s %s: srtfwd %6s Mpps (%s installed, %s of rx forwarded) | against IPv4 %s Mpps: %s\n' \
      "$sessions" "$label" "$fsf" "$finst" "$fhit" "$v4" \
      "$(awk -v a="$fsf" -v b="$v4" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }')"
  done
done

# Handshakes per second through one control lcore (targets: memory 50,000/s,
# redis 20,000/s). Ports are rte_rings; a generator thread plays callers and
# origin (tests/bench/hs_bench.cc).
hsbench=build/tests/bench/srtfwd-hs-bench
if [ -x "$hsbench" ] && [ "${HANDSHAKES:-1}" != 0 ]; then
  { ports_toml; cat <<TOML
drain_timeout_ms = 0
[[backend]]
ip = "198.18.1.2"
srt = 10080
[admin]
listen = ""
TOML
  } > "$work/hs.toml"
  "$hsbench" -l 0-1 --no-huge -m 1024 --no-pci --file-prefix=srtfwd-bench-hs -- \
    --config "$work/hs.toml" --log-level info --seconds "$secs" --label memory 2>/dev/null \
    | grep -E "handshakes/s|control lcore:" | sed "1s/$/  target 50000/" | tee "$work/hs-memory.out"
  bench_hs_csv memory "$work/hs-memory.out"
  # Redis: a private server holding one origin as the SRS Go proxy writes it.
  rport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$work/redis.pid" --logfile "$work/redis.log"
  sleep 0.5
  key="srs-proxy-server:bench-1-1"
  redis-cli -p "$rport" SET "$key" \
    '{"ip":"198.18.1.2","device_id":"bench","server_id":"bench","service_id":"1","pid":"1","rtmp":["1935"],"srt":["10080"],"update_at":"2026-01-01T00:00:00Z"}' \
    EX 300 >/dev/null
  redis-cli -p "$rport" SET srs-proxy-all-servers "[\"$key\"]" >/dev/null
  sed -e 's/^\[\[backend\]\]$//' -e '/^ip = "198.18.1.2"$/d' -e '/^srt = 10080$/d' "$work/hs.toml" > "$work/hs-redis.toml"
  printf '[balancer]\ntype = "redis"\nredis = "127.0.0.1:%s"\n' "$rport" >> "$work/hs-redis.toml"
  "$hsbench" -l 0-1 --no-huge -m 1024 --no-pci --file-prefix=srtfwd-bench-hs -- \
    --config "$work/hs-redis.toml" --log-level info --seconds "$secs" --label redis 2>/dev/null \
    | grep -E "handshakes/s|control lcore:" | sed "1s/$/  target 20000/" | tee "$work/hs-redis.out"
  bench_hs_csv redis "$work/hs-redis.out"
  # Gone before the exit trap removes $work (it writes its log to the end).
  rpid=$(cat "$work/redis.pid")
  kill "$rpid" 2>/dev/null || true
  while kill -0 "$rpid" 2>/dev/null; do sleep 0.1; done
  # Latency with 1,000 in flight and the spoofed-flood figures, rows in this CSV.
  bench_csv=$bench_csv bench_date=$bench_date bash scripts/bench-handshake.sh "$secs"
fi
echo "results: $bench_csv"
bench_plot "$bench_csv" "${BENCH_PLOTS:-$(dirname "$bench_csv")}"

#!/usr/bin/env bash
# Data-plane benchmark (prints figures; not a test). One worker lcore forwards
# a looped pcap (net_pcap infinite_rx=1) to net_null, next to dpdk-testpmd
# --forward-mode=5tswap on the same pcap in the same run, with 1 and 100,000
# installed sessions. Figures move between machines: read the ratio.
#   usage: scripts/bench.sh [SECONDS_PER_RUN]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
bash scripts/setup.sh >/dev/null
[ -x build/tests/support/srtfwd-testbed ] || { meson setup build >/dev/null; ninja -C build >/dev/null; }
testbed=build/tests/support/srtfwd-testbed
work=$(mktemp -d /tmp/srtfwd-bench.XXXXXX)
trap 'pkill -f "file-prefix=srtfwd-bench" 2>/dev/null || true; rm -rf "$work"' EXIT

packets=32768
payload=${PAYLOAD:-200}
cat > "$work/bench.toml" <<TOML
[[port]]
ipv4 = "198.18.0.1/24"
[[port]]
ipv4 = "198.18.1.1/24"
[srt]
listen = [10080]
idle_timeout_ms = 3600000
[dataplane]
sessions = 131072
mbufs = 131071
idle_sleep_us = 0
TOML

testpmd_mpps() {  # pcap
  local log="$work/testpmd.log"
  timeout -s INT $((secs + 5)) dpdk-testpmd -l 0-1 --no-huge -m 2048 --no-pci \
    --file-prefix=srtfwd-bench-tp --vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" --vdev net_null0 \
    -- --forward-mode=5tswap --stats-period 1 --total-num-mbufs=131072 --no-lsc-interrupt \
    >"$log" 2>&1 || true
  # Median of the per-second Tx-pps lines of the forwarding port, skipping warm-up.
  grep -A8 'Port 1' "$log" | grep -o 'Tx-pps: *[0-9]*' | awk '{print $2}' | tail -n +3 | head -n -1 \
    | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.2f", a[int((NR+1)/2)]/1e6; else print "n/a"}'
}

srtfwd_mpps() {  # pcap sessions
  local log="$work/srtfwd.log"
  "$testbed" -l 0-1 --no-huge -m 2048 --no-pci --file-prefix=srtfwd-bench-sf \
    --vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" --vdev net_null0 -- --config "$work/bench.toml" \
    --log-level info --session-count "$2" \
    --session "caller=198.18.0.2:10000 vip=198.18.0.1:10080 backend=198.18.1.2:10080 leg=198.18.1.1:20000 caller_mac=02:00:00:00:00:02 backend_mac=02:00:00:00:01:02" \
    >"$log" 2>&1 &
  local pid=$!
  while ! grep -q 'srtfwd ready' "$log"; do
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.2
  done
  local t0; t0=$(date +%s.%N)
  sleep "$secs"
  kill -TERM $pid
  wait $pid || true
  local t1; t1=$(date +%s.%N)
  /usr/bin/python3 - "$log" "$t0" "$t1" <<'PY'
import json, re, sys
log, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
text = open(log).read()
c = json.loads(re.search(r"final counters: (\{.*\})", text).group(1))
installed = re.search(r"testbed: (\d+) session", text).group(1)
ok = c["forwarded"] / max(c["rx_packets"], 1)
print(f"{c['forwarded'] / (t1 - t0) / 1e6:.2f} {installed} {ok:.4f}")
PY
}

echo "srtfwd bench: 1 worker lcore, looped pcap -> net_null, ${secs}s per run, $(nproc) cores"
for sessions in 1 100000; do
  pcap="$work/bench-$sessions.pcap"
  /usr/bin/python3 scripts/bench-pcap.py "$pcap" "$sessions" "$packets" "$payload" >/dev/null
  tp=$(testpmd_mpps "$pcap")
  read -r sf installed hit <<<"$(srtfwd_mpps "$pcap" "$sessions")"
  ratio=$(awk -v a="$sf" -v b="$tp" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  printf 'sessions %-7s testpmd 5tswap %6s Mpps | srtfwd %6s Mpps (%s installed, %s of rx forwarded) | ratio %s\n' \
    "$sessions" "$tp" "$sf" "$installed" "$hit" "$ratio"
done

#!/usr/bin/env bash
# Instructions per forwarded packet on the forwarding thread: srtfwd's worker
# against dpdk-testpmd --forward-mode=5tswap, both under callgrind on the same
# looped pcap to net_null (prints figures; not a test). Unlike the
# Mpps of scripts/bench.sh these do not move with the host's load, so they
# tell two builds of the worker apart; they say nothing of cache misses.
# Both threads pay the same net_pcap receive copy and net_null transmit.
#   usage: scripts/bench-instr.sh [SECONDS_PER_RUN]   (default 20)
#   SESSIONS=N (default 1) spreads the pcap over N installed sessions in a
#   shuffled order: with N >= 32 nearly every packet is a run of its own, so
#   the difference to N=1 is the worker's cost per run (hash, probe, set-up).
#   KEEP=DIR keeps the callgrind outputs there, for callgrind_annotate
#   (srtfwd's are built with --dump-instr=yes: per instruction and line).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
sessions=${SESSIONS:-1}
. scripts/bench-lib.sh
bench_init srtfwd-binstr
/usr/bin/python3 scripts/bench-pcap.py "$work/one.pcap" "$sessions" 32768 "${PAYLOAD:-200}" >/dev/null
bench_toml "$(free_port)" 1024 65535 > "$work/bench.toml"
vg=(valgrind --tool=callgrind --separate-threads=yes)
[ -n "${KEEP:-}" ] && vg+=(--dump-instr=yes)
eal=(-l 0-1 --no-huge -m 512 --no-pci --vdev "net_pcap0,rx_pcap=$work/one.pcap,infinite_rx=1"
     --vdev net_null0,no-rx=1)

wait_for() {  # log pattern pid
  while ! grep -q "$2" "$1"; do
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; exit 1; }
    sleep 0.5
  done
}

# The busiest thread's instructions (the forwarding lcore's) over the packets forwarded.
per_packet() {  # callgrind-out-prefix packets
  local ir
  ir=$(for f in "$1"-*; do grep -m1 -E '^(summary|totals):' "$f" | awk '{print $2}'; done | sort -n | tail -1)
  awk -v a="$ir" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'
}

log="$work/testpmd.log"
stdbuf -oL "${vg[@]}" --callgrind-out-file="$work/cg.testpmd" dpdk-testpmd "${eal[@]}" \
  --file-prefix=srtfwd-binstr-tp -- --forward-mode=5tswap --total-num-mbufs=65536 \
  --no-lsc-interrupt --stats-period 3600 >"$log" 2>&1 &
pid=$!
wait_for "$log" 'start packet forwarding' $pid
sleep "$secs"
kill -INT $pid; wait $pid || true
tp_pkts=$(grep -A2 'Forward statistics for port 1' "$log" | grep -o 'TX-packets: *[0-9]*' | awk '{print $2}')
tp=$(per_packet "$work/cg.testpmd" "${tp_pkts:-0}")

log="$work/srtfwd.log"
"${vg[@]}" --callgrind-out-file="$work/cg.srtfwd" "$testbed" "${eal[@]}" --file-prefix=srtfwd-binstr-sf \
  -- --config "$work/bench.toml" --log-level info --session-count "$sessions" \
  --session "caller=198.18.0.2:10000 vip=198.18.0.1:10080 backend=198.18.1.2:10080 leg=198.18.1.1:20000 caller_mac=02:00:00:00:00:02 backend_mac=02:00:00:00:01:02" \
  >"$log" 2>&1 &
pid=$!
wait_for "$log" 'srtfwd ready' $pid
sleep "$secs"
kill -TERM $pid; wait $pid || true
sf_pkts=$(grep -o '"forwarded":[0-9]*' "$log" | head -1 | cut -d: -f2)
sf=$(per_packet "$work/cg.srtfwd" "${sf_pkts:-0}")

if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$work"/cg.* "$KEEP"/; fi
echo "instructions per forwarded packet on the forwarding thread (callgrind, ${sessions} session(s), ${secs}s each):"
echo "  testpmd 5tswap ${tp} (${tp_pkts:-0} packets) | srtfwd ${sf} (${sf_pkts:-0} packets) | ratio $(awk -v a="$tp" -v b="$sf" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }')"

#!/usr/bin/env bash
# The cost of a second-chance packet (control/directory.h, net/encap.h):
# instructions per packet on the forwarding thread, under callgrind as
# scripts/bench-instr.sh counts them, for
#   relay  a caller's packet relayed by its session (the common path),
#   hop    the same packet on a host without the session, encapsulated to
#          the owner by a hop entry (the forwarding host),
#   decap  that encapsulated packet on the owner: taken out and relayed by
#          its session,
# each over the same looped pcap (one flow, net_pcap to net_null). Prints
# figures; not a test.
#   usage: scripts/bench-hop.sh [SECONDS_PER_RUN]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
. scripts/bench-lib.sh
bench_init srtfwd-bhop
/usr/bin/python3 scripts/bench-pcap.py "$work/one.pcap" 1 32768 "${PAYLOAD:-200}" >/dev/null
# The owner's input: each packet behind the outer headers another host adds.
/usr/bin/python3 - "$work/one.pcap" "$work/hop.pcap" <<'PY'
import sys
from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap  # type: ignore
frames = [Ether(src="02:00:00:00:00:09", dst="02:00:00:00:00:01") /
          IP(src="198.18.0.9", dst="198.18.0.1", ttl=64, flags="DF", id=0) /
          UDP(sport=50000, dport=19523, chksum=0) / Raw(bytes(f[IP])) for f in rdpcap(sys.argv[1])]
wrpcap(sys.argv[2], frames)
PY
bench_toml "$(free_port)" 1024 65535 > "$work/bench.toml"
vg=(valgrind --tool=callgrind --separate-threads=yes)
session="caller=198.18.0.2:10000 vip=198.18.0.1:10080 backend=198.18.1.2:10080 leg=198.18.1.1:20000 caller_mac=02:00:00:00:00:02 backend_mac=02:00:00:00:01:02"
hop="caller=198.18.0.2:10000 vip=198.18.0.1:10080 owner=198.18.0.9 owner_mac=02:00:00:00:00:09"

wait_for() {  # log pattern pid
  while ! grep -q "$2" "$1"; do
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; exit 1; }
    sleep 0.5
  done
}

# run NAME PCAP COUNTER testbed-options...: instructions per packet of the
# busiest thread over the final counter COUNTER.
run() {
  local name=$1 pcap=$2 counter=$3 log="$work/$1.log" ir pkts
  shift 3
  "${vg[@]}" --callgrind-out-file="$work/cg.$name" "$testbed" -l 0-1 --no-huge -m 512 --no-pci \
    --file-prefix=srtfwd-bhop-$name --vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" \
    --vdev net_null0,no-rx=1 -- --config "$work/bench.toml" --log-level info "$@" >"$log" 2>&1 &
  local pid=$!
  wait_for "$log" 'srtfwd ready' $pid
  sleep "$secs"
  kill -TERM $pid; wait $pid || true
  pkts=$(grep -o "\"$counter\":[0-9]*" "$log" | head -1 | cut -d: -f2)
  ir=$(for f in "$work/cg.$name"-*; do grep -m1 -E '^(summary|totals):' "$f" | awk '{print $2}'; done | sort -n | tail -1)
  awk -v a="$ir" -v b="${pkts:-0}" -v n="$name" 'BEGIN { printf "  %-6s %7.1f  (%d packets)\n", n, (b > 0 ? a / b : 0), b }'
}

echo "instructions per packet on the forwarding thread (callgrind, one flow, ${secs}s each):"
run relay "$work/one.pcap" forwarded --session "$session"
run hop "$work/one.pcap" hopped --hop "$hop"
run decap "$work/hop.pcap" forwarded --hop-port 19523 --session "$session"

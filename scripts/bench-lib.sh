# Sourced by the benchmark scripts (bench.sh, bench-instr.sh): packages, a
# build of the testbed, a work directory removed on exit, and the part of the
# config they share.

# bench_init TAG: sets $testbed and $work (/tmp/TAG.XXXXXX); on exit kills
# what runs with --file-prefix=TAG* and removes $work.
bench_init() {
  bash scripts/setup.sh >/dev/null
  [ -x build/tests/support/srtfwd-testbed ] || { meson setup build >/dev/null; ninja -C build >/dev/null; }
  testbed=build/tests/support/srtfwd-testbed
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  bench_tag=$1
  trap 'pkill -f "file-prefix=$bench_tag" 2>/dev/null || true; rm -rf "$work"' EXIT
}

# A free TCP port on loopback for the admin listener.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Two ports, callers on the first, origins on the second; [srt] is left open.
ports_toml() {
  cat <<TOML
[[port]]
ipv4 = "198.18.0.1/24"
ipv6 = "2001:db8::1/64"
[[port]]
ipv4 = "198.18.1.1/24"
ipv6 = "2001:db8:1::1/64"
[srt]
listen = [10080]
TOML
}

# The forwarding benchmarks' config: sessions that never idle out, no drain,
# admin on loopback.
bench_toml() {  # admin_port sessions mbufs
  ports_toml
  cat <<TOML
idle_timeout_ms = 3600000
drain_timeout_ms = 0
[admin]
listen = "127.0.0.1:$1"
[dataplane]
sessions = $2
mbufs = $3
# idle_sleep_us left at its default: a loaded worker never idles, the control lcore does
TOML
}

# Debian packages a benchmark needs beyond scripts/setup.sh's (kept out of
# it so the test path stays lean); installed here if missing, as root.
bench_need() {  # package...
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || { echo "bench: missing ${missing[*]} and not root" >&2; return 1; }
  echo "bench: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Results as CSV, one row per figure: date (the run's start, UTC), program,
# sessions, run, metric (mpps; handshakes_per_s and
# handshakes_per_s_dedicated_core with the balancer as program and no
# session count), value. bench_csv_init PATH starts the file.
bench_csv_init() {  # path
  bench_csv=$1
  bench_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  mkdir -p "$(dirname "$bench_csv")"
  echo "date,program,sessions,run,metric,value" > "$bench_csv"
}
bench_csv_row() {  # program sessions run metric value (n/a rows are left out)
  [ -n "${bench_csv:-}" ] || return 0
  [[ "$5" =~ ^[0-9.]+$ ]] || return 0
  echo "$bench_date,$1,$2,$3,$4,$5" >> "$bench_csv"
}

# DPDK's l3fwd in exact-match mode (scripts/build-l3fwd.sh builds it into
# build/l3fwd) on the pcap, rte_hash holding the keys that
# scripts/bench-l3fwd-rules.py writes for the session count: every key of
# srtfwd's table, both directions. l3fwd prints no counters; its ports' are
# read through DPDK's telemetry socket over a measured window after a
# second's warm-up, as srtfwd's are. Prints "MPPS FRACTION" (fraction: the
# sink's TX over port 0's RX in the window; 1.0000 when every packet hit).
# Needs $work, $secs, $mem and $l3fwd (the binary).
l3fwd_mpps() {  # pcap sessions
  local log="$work/l3fwd.log" prefix=srtfwd-bench-l3
  [ -x "${l3fwd:-}" ] || { echo n/a; return; }
  /usr/bin/python3 scripts/bench-l3fwd-rules.py "$1" "$2" "$work/l3fwd.v4" "$work/l3fwd.v6" >/dev/null
  # --parse-ptype: the virtual ports set no packet types. Port 1's queue is
  # polled too (net_null no-rx: always empty), as testpmd and srtfwd poll it.
  # The RX ring is large enough that the mbuf pool, sized from it, also
  # holds the copy of the pcap that net_pcap's infinite_rx keeps.
  : >"$log"
  # One lcore, CPU 1 as the others' worker: l3fwd gives every lcore a TX
  # queue on every port, and net_pcap with only an rx_pcap has one.
  # shellcheck disable=SC2086
  "$l3fwd" -l 1 $mem --no-pci --file-prefix=$prefix \
    --vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" --vdev net_null0,no-rx=1 -- \
    -p 0x3 -E --parse-ptype --config "(0,0,1),(1,0,1)" --rx-queue-size 32768 \
    --eth-dest=1,02:00:00:00:01:02 --eth-dest=0,02:00:00:00:00:02 \
    --rule_ipv4="$work/l3fwd.v4" --rule_ipv6="$work/l3fwd.v6" >"$log" 2>&1 &
  local pid=$!
  while ! grep -q 'entering main loop on lcore 1' "$log"; do
    kill -0 $pid 2>/dev/null || { echo "bench: l3fwd exited:" >&2; tail -20 "$log" >&2; echo n/a; return; }
    sleep 0.2
  done
  /usr/bin/python3 - "/var/run/dpdk/$prefix/dpdk_telemetry.v2" "$secs" <<'PY' || echo n/a
import json, socket, sys, time
path, secs = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
s.recv(4096)  # the greeting
def stats(port):
    s.send(f"/ethdev/stats,{port}".encode())
    return json.loads(s.recv(65536))["/ethdev/stats"]
def sample():
    return stats(0)["ipackets"], stats(1)["opackets"], time.monotonic()
time.sleep(1)  # warm-up
r0, f0, t0 = sample()
time.sleep(secs)
r1, f1, t1 = sample()
print(f"{(f1 - f0) / (t1 - t0) / 1e6:.2f} {(f1 - f0) / max(r1 - r0, 1):.4f}")
PY
  kill -INT $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
}

# Plots a run's CSV (scripts/bench-plot.py, matplotlib) into DIR.
bench_plot() {  # csv dir
  bench_need python3-matplotlib || return 0
  /usr/bin/python3 scripts/bench-plot.py "$1" "$2"
}

# The median of the figures on stdin and how many there were, n/a left out:
# prints "MEDIAN COUNT" ("n/a 0" when none).
bench_median() {
  grep -v 'n/a' | sort -n | awk '{v[NR] = $1} END { if (NR) print v[int((NR + 1) / 2)], NR; else print "n/a", 0 }'
}

# A ratio of two figures to 2 decimals, n/a when either is not a figure.
bench_ratio() {  # a b
  awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}

# bench.sh's line per session count for l3fwd-EM: its median Mpps and the
# median of srtfwd / l3fwd-EM over the runs (targets printed, not asserted:
# at least 0.95 with 1 session, 1.20 with 100,000).
l3fwd_summary() {  # sessions; reads l3_figures, l3_ratios, repeat
  local med n fig target
  read -r fig _ <<<"$(printf '%s\n' "${l3_figures[@]}" | bench_median)"
  read -r med n <<<"$(printf '%s\n' "${l3_ratios[@]}" | bench_median)"
  case $1 in
    1) target="target >= 0.95" ;;
    100000) target="target >= 1.20" ;;
    *) target="no target at this count" ;;
  esac
  printf 'sessions %-7s l3fwd-EM median %s Mpps; srtfwd / l3fwd-EM median ratio over %d of %d runs: %s  (%s)\n' \
    "$1" "$fig" "$n" "$repeat" "$med" "$target"
}

# The handshakes per second of an srtfwd-hs-bench output into the CSV: as
# measured over the window, and as the control lcore's CPU time per
# handshake gives them for a core of its own (the figure a shared host
# moves less).
bench_hs_csv() {  # balancer output_file
  bench_csv_row "$1" "" 1 handshakes_per_s "$(sed -n 's/^handshakes\/s[^:]*: \([0-9.]*\).*/\1/p' "$2" | head -1)"
  bench_csv_row "$1" "" 1 handshakes_per_s_dedicated_core "$(sed -n 's/.* = \([0-9.]*\)\/s on a dedicated core.*/\1/p' "$2" | head -1)"
}

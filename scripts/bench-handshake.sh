#!/usr/bin/env bash
# Handshake latency and flood figures (prints figures; not a test), from
# srtfwd-hs-bench (tests/bench/hs_bench.cc): the real srtfwd on two ring
# ports, a generator thread playing callers and the origin.
#
# Latency: WINDOW (default 1000) handshakes in flight, once per delay of
# DELAYS (ms, default "0 10 50 100"): the callers and the origin send each packet
# that long after the one it answers, as over a network. With 0 the window
# saturates the control lcore and the figure is its queue; with a delay the
# handshakes wait outside srtfwd and the figure is what srtfwd adds at the
# rate the window then offers. Printed: handshakes/s, the control lcore's CPU
# per handshake, p50/p99/p999/max of the time srtfwd adds (caller CONCLUSION
# in -> leg INDUCTION out, plus origin INDUCTION answer in -> leg CONCLUSION
# out, plus origin answer in -> caller answer out; target p99 <= 1 ms), each
# step's p50/p99, and the generator's time between polls (in those figures).
#
# Flood: per rate of FLOOD_RATES (spoofed INDUCTIONs per second, default
# "100000 400000 1000000 2000000 0"; 0 is as fast as the generator can), one good
# session streaming GOOD_RATE (default 10000) numbered data packets a second
# through the worker: INDUCTION answers per second leaving srtfwd, the
# offered and accepted flood rates, the good session's sent / received /
# lost, and the control lcore's CPU per answer.
#
# The generator shares the worker's core on a 2-core host, and other load on
# the host takes CPU from the control lcore (printed as "waiting for it"):
# the figures are for the host at hand; the CPU per handshake and per answer
# move least with load. Rows go to BENCH_CSV (default
# build/bench/bench-handshake.csv; bench.sh passes its own).
#   usage: [DELAYS=...] [FLOOD_RATES=...] scripts/bench-handshake.sh [SECONDS_PER_RUN]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
window=${WINDOW:-1000}
. scripts/bench-lib.sh
bash scripts/setup.sh >/dev/null
hsbench=build/tests/bench/srtfwd-hs-bench
[ -x "$hsbench" ] || { meson setup build >/dev/null 2>&1 || true; ninja -C build tests/bench/srtfwd-hs-bench >/dev/null; }
# Each run is in the foreground: nothing outlives the script but $work.
work=$(mktemp -d /tmp/srtfwd-bench-hsl.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ -z "${bench_csv:-}" ]; then bench_csv_init "${BENCH_CSV:-build/bench/bench-handshake.csv}"; fi
{ ports_toml; cat <<TOML
drain_timeout_ms = 0
[[backend]]
ip = "198.18.1.2"
srt = 10080
[admin]
listen = ""
TOML
} > "$work/hs.toml"

hs_run() {  # bench options...
  "$hsbench" -l 0-1 --no-huge -m 1024 --no-pci --file-prefix=srtfwd-bench-hsl -- \
    --config "$work/hs.toml" --log-level warn --seconds "$secs" "$@" 2>"$work/hs.log" \
    || { echo "bench-handshake: srtfwd-hs-bench failed:" >&2; tail -5 "$work/hs.log" >&2; }
}

echo "handshake bench: $(nproc) cores, ${secs}s per run, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for d in ${DELAYS-0 10 50 100}; do
  echo "-- $window handshakes in flight, callers and origin answering after $d ms"
  hs_run --window "$window" --delay-ms "$d" --label memory | tee "$work/lat.out"
  p=memory-window$window-delay${d}ms
  bench_csv_row "$p" "" 1 latency_run_handshakes_per_s "$(sed -n 's/^handshakes\/s[^:]*: \([0-9.]*\).*/\1/p' "$work/lat.out")"
  for q in p50 p99 p999 max; do
    bench_csv_row "$p" "" 1 "handshake_latency_${q}_us" "$(sed -n "s/.*latency srtfwd adds.* $q \([0-9.]*\) us.*/\1/p" "$work/lat.out")"
  done
done
for r in ${FLOOD_RATES-100000 400000 1000000 2000000 0}; do
  echo "-- spoofed INDUCTION flood at $( [ "$r" = 0 ] && echo "the generator's most" || echo "$r/s"), good session at ${GOOD_RATE:-10000} pkt/s"
  hs_run --flood "$r" --good-rate "${GOOD_RATE:-10000}" | tee "$work/flood.out"
  p=flood-$r
  bench_csv_row "$p" "" 1 induction_answers_per_s "$(sed -n 's/^INDUCTION answers\/s[^:]*: \([0-9.]*\).*/\1/p' "$work/flood.out")"
  bench_csv_row "$p" "" 1 good_lost "$(sed -n 's/.*, lost \([0-9]*\) .*/\1/p' "$work/flood.out")"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "results: $bench_csv"

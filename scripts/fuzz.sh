#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a
# bounded time. The SRT corpus starts from the UDP payloads of every capture in
# pcaps/, the frame corpus from the whole Ethernet frames; the handshake state
# machine's (srt_proxy: a script of packets, picks and clock steps) from
# nothing. Findings fail the run.
#   usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

if [ ! -f build-fuzz/build.ninja ]; then
  CXX=clang++ CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
fi
ninja -C build-fuzz

corpus=build-fuzz/corpus
rm -rf "$corpus"; mkdir -p "$corpus/srt" "$corpus/net" "$corpus/srt_proxy"
/usr/bin/python3 scripts/pcap-corpus.py pcaps "$corpus/srt" "$corpus/net"

status=0
for target in srt net srt_proxy; do
  bin=build-fuzz/tests/fuzz/fuzz_$target
  [ -x "$bin" ] || { echo "fuzz: $bin was not built" >&2; exit 1; }
  mkdir -p "build-fuzz/findings-$target"
  echo "fuzz: $target for ${seconds}s, corpus $(ls "$corpus/$target" | wc -l) files"
  log=build-fuzz/fuzz-$target.log
  if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=5 \
        -artifact_prefix="build-fuzz/findings-$target/" \
        "build-fuzz/findings-$target" "$corpus/$target" >"$log" 2>&1; then
    echo "fuzz: $target FOUND A PROBLEM:" >&2
    tail -40 "$log" >&2
    status=1
    continue
  fi
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  echo "fuzz: $target ran ${seconds}s, ${execs:-?} executions, ${edges:-?} edges, no finding"
done
exit $status

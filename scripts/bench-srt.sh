#!/usr/bin/env bash
# Relay benchmark with real libsrt peers through srtfwd in network namespaces
# (prints figures; not a test): see scripts/bench-srt.py.
#   usage: [RATES="50 100 200 400"] [SIZE=1316] scripts/bench-srt.sh [SECONDS_PER_RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
[ -x build/src/app/srtfwd ] && [ -x build/tests/peers/srt-peer ] || { meson setup build >/dev/null 2>&1 || true; ninja -C build >/dev/null; }
exec /usr/bin/python3 scripts/bench-srt.py "$@"

#!/usr/bin/env bash
# Sets up and runs every test of srtfwd: unit tests, pcap replay tests,
# end-to-end tests in network namespaces and the operations checks (suite
# ops: host-setup.sh, meson install and the systemd unit, --check-config on
# the example, promtool on the alerting rules, the Grafana dashboard; normal
# build, werror), the unit tests again under ASan+UBSan, the flow table's
# concurrent tests under TSan, and the libFuzzer targets for a bounded time.
#
#   FUZZ_SECONDS   seconds per fuzz target (default 60)
#   SKIP_SANITIZE  set to 1 to skip the ASan/UBSan build (local iteration only)
#   SKIP_TSAN      set to 1 to skip the ThreadSanitizer build (local iteration only)
#   SKIP_FUZZ      set to 1 to skip fuzzing (local iteration only)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/setup.sh

jobs=$(nproc)
step() { printf '\n=== %s ===\n' "$*"; }

step "build (gcc, werror)"
if [ ! -f build/build.ninja ]; then
  meson setup build --werror
fi
ninja -C build -j"$jobs"

step "tests (unit, pcap replay, end-to-end, ops)"
meson test -C build --print-errorlogs --num-processes 1

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  step "build (gcc, ASan+UBSan)"
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan --werror -Db_sanitize=address,undefined -Db_lundef=false
  fi
  ninja -C build-asan -j"$jobs"
  step "tests under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs --num-processes 1 --suite unit
fi

if [ "${SKIP_TSAN:-0}" != 1 ]; then
  # The workers read the flow table while the control lcore writes it, with
  # no lock: its concurrent reader/writer tests (FlowTable.Reader*) under
  # ThreadSanitizer, which fails them (exit 66) on any data race. Only that
  # test target is built.
  step "flow table under ThreadSanitizer"
  if [ ! -f build-tsan/build.ninja ]; then
    meson setup build-tsan --werror -Db_sanitize=thread -Db_lundef=false
  fi
  ninja -C build-tsan -j"$jobs" tests/dataplane/test_flow_table
  TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
    build-tsan/tests/dataplane/test_flow_table --gtest_filter='FlowTable.Reader*'
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz (clang libFuzzer, ASan+UBSan, ${FUZZ_SECONDS:-60} s per target)"
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi

step "all tests passed"

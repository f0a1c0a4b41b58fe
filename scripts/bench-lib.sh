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

#!/usr/bin/env bash
# Installs every Debian package srtfwd needs to build, test, capture and demo.
# Idempotent: when every package is already installed it does nothing (no
# apt-get update, no network).
set -euo pipefail

packages=(
  # build
  build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
  dpdk dpdk-dev libdpdk-dev libhiredis-dev libspdlog-dev libfmt-dev
  libtoml11-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev
  libgtest-dev
  # libdpdk.pc lists libpcap among its Requires.private, which pkg-config
  # resolves for the compile flags (the net_pcap PMD the tests replay with)
  libpcap-dev
  # real SRT peers, Redis, captures and test hosts
  libsrt-openssl-dev srt-tools ffmpeg redis-server tshark
  python3 python3-scapy iproute2 ethtool iputils-ping procps
  # loss for the link quality test (numgen random drop: no netem here);
  # also the caller-side SNAT of the NAT rebinding test
  nftables
  # scale-out labs: a Sentinel-managed Redis and a BGP router (BIRD 2)
  redis-sentinel bird2
  # benchmarks (instruction counts)
  valgrind
  # the layout check (scripts/check-format.sh, test 'format')
  clang-format
  # operations checks: promtool (alerting rules), systemd-analyze (the unit)
  prometheus systemd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages (${missing[*]}) and not root: run as root" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"

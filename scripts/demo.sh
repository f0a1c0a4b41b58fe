#!/usr/bin/env bash
# The main job on an embedded default: installs the Debian packages, builds,
# creates its own test hosts (network namespaces) and runs a live SRT relay
# through srtfwd (ffmpeg encoder -> srtfwd -> libsrt origin -> players).
# Needs root (namespaces, af_packet). Leaves nothing behind.
#   usage: scripts/demo.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -f build/build.ninja ]; then meson setup build; fi
ninja -C build
exec /usr/bin/python3 scripts/demo.py build "${1:-8}"

#!/usr/bin/env bash
# Fails when a C++ source or header is not laid out as .clang-format says
# (clang-format 14, Debian 12's). Fix with:
#   git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
if git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h')
else
  mapfile -t files < <(find src include tests -name '*.cc' -o -name '*.h')
fi
[ "${#files[@]}" -gt 0 ] || { echo "no C++ files found" >&2; exit 1; }
clang-format --dry-run --Werror "${files[@]}"
echo "${#files[@]} files laid out as .clang-format says"

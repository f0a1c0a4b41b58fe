"""Shared by the tests/ops tests: a test that cannot run here exits 77
(meson: skipped), except under CI=true, where it must fail."""

import os
import sys


def cannot_run(why: str) -> None:
    ci = os.environ.get("CI") == "true"
    print(("FAIL (CI=true): " if ci else "SKIP: ") + why, file=sys.stderr)
    sys.exit(1 if ci else 77)


def env_path(var: str) -> str:
    p = os.environ.get(var)
    if not p:
        raise SystemExit(f"{var} is not set: run the test through `meson test -C build`")
    return p

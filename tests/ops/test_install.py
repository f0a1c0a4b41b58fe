"""`meson install --destdir` lays out the binary, the systemd unit, the
example configuration and the docs; the installed unit passes
`systemd-analyze verify` (paths moved under the destdir), its stop timeout
exceeds the drain, and the installed binary accepts the installed example."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import cannot_run, env_path  # noqa: E402

BUILD = env_path("SRTFWD_BUILD_ROOT")
ROOT = env_path("SRTFWD_SOURCE_ROOT")


def meson(*args, **kw):
    return subprocess.run(["meson", *args], capture_output=True, text=True, timeout=120, **kw)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="srtfwd-install-")
        r = meson("install", "-C", BUILD, "--no-rebuild", "--destdir", cls.dest)
        assert r.returncode == 0, r.stdout + r.stderr
        opts = {o["name"]: o["value"] for o in json.loads(meson("introspect", BUILD, "--buildoptions").stdout)}
        cls.prefix = opts["prefix"]
        cls.sysconfdir = os.path.join(cls.prefix, opts["sysconfdir"])
        cls.bindir = os.path.join(cls.prefix, opts["bindir"])
        cls.docdir = os.path.join(cls.prefix, opts["datadir"], "doc", "srtfwd")
        cls.unitdir = opts.get("systemdunitdir") or os.path.join(cls.prefix, "lib", "systemd", "system")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, True)

    def at(self, path):
        return self.dest + path

    def test_layout(self):
        want = [os.path.join(self.bindir, "srtfwd"),
                os.path.join(self.unitdir, "srtfwd.service"),
                os.path.join(self.sysconfdir, "srtfwd", "srtfwd.example.toml"),
                os.path.join(self.docdir, "README.md"),
                os.path.join(self.docdir, "operations.md"),
                os.path.join(self.docdir, "architecture.md"),
                os.path.join(self.docdir, "srtfwd.example.toml"),
                os.path.join(self.docdir, "grafana", "srtfwd.json"),
                os.path.join(self.docdir, "prometheus", "srtfwd-rules.yml")]
        for p in want:
            self.assertTrue(os.path.isfile(self.at(p)), f"{p} not installed under {self.dest}")
        self.assertTrue(os.access(self.at(want[0]), os.X_OK))
        # Every docs/*.md is installed.
        for f in os.listdir(os.path.join(ROOT, "docs")):
            if f.endswith(".md"):
                self.assertTrue(os.path.isfile(self.at(os.path.join(self.docdir, f))), f)

    def unit_text(self):
        with open(self.at(os.path.join(self.unitdir, "srtfwd.service"))) as f:
            return f.read()

    def test_unit_points_at_the_install(self):
        u = self.unit_text()
        self.assertNotIn("@", re.sub(r"(?m)^#.*$", "", u), "unsubstituted @var@ in the unit")
        conf = os.path.join(self.sysconfdir, "srtfwd", "srtfwd.toml")
        self.assertIn(f"ExecStart={self.bindir}/srtfwd $SRTFWD_EAL_ARGS -- --config {conf}", u)
        self.assertIn(f"ExecStartPre={self.bindir}/srtfwd --check-config {conf}", u)
        self.assertRegex(u, r"(?m)^Type=notify$")
        self.assertRegex(u, r"(?m)^ExecReload=/bin/kill -HUP \$MAINPID$")
        self.assertRegex(u, r"(?m)^Restart=on-failure$")

    def test_stop_timeout_exceeds_the_drain(self):
        m = re.search(r"(?m)^TimeoutStopSec=(\d+)$", self.unit_text())
        self.assertTrue(m)
        with open(os.path.join(ROOT, "include", "srtfwd", "control", "options.h")) as f:
            drain = int(re.search(r"drain_timeout_ms = (\d+);", f.read()).group(1))
        with open(os.path.join(ROOT, "srtfwd.example.toml")) as f:
            example = int(re.search(r"(?m)^drain_timeout_ms = (\d+)", f.read()).group(1))
        # The drain, then stopping workers and closing ports: a few seconds.
        self.assertGreaterEqual(int(m.group(1)) * 1000, max(drain, example) + 10000)

    def test_systemd_analyze_verify(self):
        sa = shutil.which("systemd-analyze")
        if sa is None:
            cannot_run("systemd-analyze not found (Debian package systemd)")
        # The unit as installed, its absolute paths moved under the destdir so
        # that verify finds the binary it names.
        u = self.unit_text()
        for p in sorted({self.bindir, self.sysconfdir, self.docdir}, key=len, reverse=True):
            u = u.replace(p + "/", self.dest + p + "/")
        d = tempfile.mkdtemp(prefix="srtfwd-unit-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "srtfwd.service")
        with open(path, "w") as f:
            f.write(u)
        r = subprocess.run([sa, "verify", "--man=no", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # verify reports unknown keys and bad values as warnings, exit 0.
        self.assertEqual((r.stdout + r.stderr).strip(), "", "systemd-analyze verify warned")

    def test_installed_binary_checks_the_installed_example(self):
        exe = self.at(os.path.join(self.bindir, "srtfwd"))
        conf = self.at(os.path.join(self.sysconfdir, "srtfwd", "srtfwd.example.toml"))
        r = subprocess.run([exe, "--check-config", conf], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout, f"{conf}: OK\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)

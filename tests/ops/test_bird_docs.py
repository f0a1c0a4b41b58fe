"""The BIRD configurations docs/operations.md gives for several hosts behind
one VIP (the host's and the router's) are valid BIRD 2: `bird -p` parses
each, and the host's announces from the protocol srtfwd's [bgp] hooks
enable and disable."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import cannot_run, env_path  # noqa: E402

ROOT = env_path("SRTFWD_SOURCE_ROOT")
BIRD = shutil.which("bird") or ("/usr/sbin/bird" if os.path.exists("/usr/sbin/bird") else None)


def doc_bird_configs():
    """The indented blocks of the VIP section that are BIRD configs."""
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        text = f.read()
    start = text.index("## Several hosts behind one VIP")
    section = text[start:text.index("\n## ", start + 1)]
    blocks = re.findall(r"((?:^    .*\n|^\n)+)", section, re.M)
    return ["\n".join(line[4:] for line in b.splitlines()) for b in blocks if "protocol " in b]


class BirdDocs(unittest.TestCase):
    def test_configs_parse(self):
        confs = doc_bird_configs()
        self.assertEqual(len(confs), 2, "the host's and the router's")
        host, router = confs
        self.assertRegex(host, r"protocol static srtfwd_vips \{\s*disabled;")
        self.assertIn("bgp_next_hop = ", host)
        self.assertIn("merge paths on;", router)
        tmp = tempfile.mkdtemp(prefix="srtfwd-bird-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for name, conf in (("host", host), ("router", router)):
            path = os.path.join(tmp, f"{name}.conf")
            with open(path, "w") as f:
                f.write(conf)
            r = subprocess.run([BIRD, "-p", "-c", path], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 0, f"{name}: {r.stdout}{r.stderr}")


if __name__ == "__main__":
    if BIRD is None:
        cannot_run("no bird (Debian bird2; scripts/setup.sh installs it)")
    unittest.main(verbosity=2)

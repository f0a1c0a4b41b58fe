"""scripts/host-setup.sh as root: reserves 2 MiB hugepages (seen in
/proc/meminfo), mounts hugetlbfs where told, reads `dpdk-devbind.py
--status`, is idempotent, and --undo gives the pages and the mount back.
No PCI address is given: nothing is bound (this host's NIC is its own)."""

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
SCRIPT = os.path.join(ROOT, "scripts", "host-setup.sh")
NR = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
EXTRA = 8  # 16 MiB: small enough for any test host


def meminfo(key):
    with open("/proc/meminfo") as f:
        return int(re.search(rf"^{key}:\s+(\d+)", f.read(), re.M).group(1))


def default_hugepage_kb():
    return meminfo("Hugepagesize")


def nr():
    with open(NR) as f:
        return int(f.read())


def mounted(path):
    with open("/proc/mounts") as f:
        return any(l.split()[1] == path and l.split()[2] == "hugetlbfs" for l in f)


class HostSetup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="srtfwd-host-")
        self.mnt = os.path.join(self.tmp, "huge")
        self.state = os.path.join(self.tmp, "state")
        self.before = nr()
        self.addCleanup(self.cleanup)

    def cleanup(self):
        # Whatever the test did, the host is left as it was.
        if os.path.exists(self.state):
            self.run_script("--undo")
        if mounted(self.mnt):
            subprocess.run(["umount", self.mnt])
        with open(NR, "w") as f:
            f.write(str(self.before))
        shutil.rmtree(self.tmp, True)

    def run_script(self, *args, check=True):
        r = subprocess.run(["bash", SCRIPT, "--state", self.state, *args],
                           capture_output=True, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def test_reserve_then_undo(self):
        want = self.before + EXTRA
        total_before = meminfo("HugePages_Total")
        r = self.run_script("--pages", str(want), "--page-size", "2M", "--mount", self.mnt)
        self.assertEqual(nr(), want, r.stdout)
        if default_hugepage_kb() == 2048:
            self.assertEqual(meminfo("HugePages_Total"), total_before + EXTRA)
        self.assertIn(f"reserved {self.before} -> {want}", r.stdout)
        self.assertTrue(mounted(self.mnt), r.stdout)
        # The status it prints: meminfo and dpdk-devbind.py's NIC list.
        self.assertRegex(r.stdout, r"HugePages_Total:\s+\d+")
        self.assertIn("Network devices using", r.stdout)
        self.assertIn(f"--undo --state {self.state}", r.stdout)

        again = self.run_script("--pages", str(want), "--page-size", "2M", "--mount", self.mnt)
        self.assertIn("already reserved", again.stdout)
        self.assertIn("already mounted", again.stdout)
        self.assertEqual(nr(), want)

        undo = self.run_script("--undo")
        self.assertEqual(nr(), self.before, undo.stdout)
        self.assertEqual(meminfo("HugePages_Total"), total_before)
        self.assertFalse(mounted(self.mnt), undo.stdout)
        self.assertFalse(os.path.exists(self.state))
        self.assertIn("nothing to undo", self.run_script("--undo").stdout)

    def test_refuses_what_is_not_a_pci_address(self):
        r = self.run_script("eth0", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a PCI address", r.stderr)
        self.assertEqual(nr(), self.before)
        self.assertFalse(os.path.exists(self.state))


if __name__ == "__main__":
    if os.geteuid() != 0:
        cannot_run("needs root (it writes /sys/kernel/mm/hugepages and mounts hugetlbfs)")
    if not os.access(NR, os.W_OK):
        cannot_run(f"{NR} is not writable here")
    if shutil.which("dpdk-devbind.py") is None:
        cannot_run("dpdk-devbind.py not found (Debian package dpdk)")
    unittest.main(verbosity=2)

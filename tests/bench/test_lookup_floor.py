#!/usr/bin/python3
"""The yardstick scripts/bench.sh sets next to srtfwd (srtfwd-lookup-floor)
must do the work it claims, or its figure means nothing: every frame of the
benchmark's own traffic comes out rewritten, TTL one less, payload unchanged,
and both checksums valid by scapy's reckoning, not by its own.
Env: SRTFWD_LOOKUP_FLOOR (binary), SRTFWD_BENCH_PCAP (scripts/bench-pcap.py)."""
import os
import subprocess
import sys
import tempfile
import unittest

from scapy.all import IP, UDP, Ether, rdpcap  # type: ignore

FLOOR = os.environ.get("SRTFWD_LOOKUP_FLOOR", "")
BENCH_PCAP = os.environ.get("SRTFWD_BENCH_PCAP", "")


class LookupFloor(unittest.TestCase):
    def test_every_frame_rewritten_with_valid_checksums(self):
        with tempfile.TemporaryDirectory() as d:
            inp, out = os.path.join(d, "in.pcap"), os.path.join(d, "out.pcap")
            subprocess.run([sys.executable, BENCH_PCAP, inp, "64", "512", "200"], check=True,
                           stdout=subprocess.DEVNULL)
            r = subprocess.run([FLOOR, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci",
                                f"--file-prefix=floor-test-{os.getpid()}", "--log-level=error",
                                f"--vdev=net_pcap0,rx_pcap={inp}", f"--vdev=net_pcap1,tx_pcap={out}",
                                "--", "64", "1"], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            self.assertIn("128 keys installed, 0 learned from the traffic", r.stdout)
            self.assertIn("512 forwarded in all", r.stdout)
            before, after = rdpcap(inp), rdpcap(out)
            self.assertEqual(len(after), len(before))
            for a, b in zip(before, after):
                self.assertNotEqual((b[IP].src, b[IP].dst, b[UDP].sport, b[UDP].dport),
                                    (a[IP].src, a[IP].dst, a[UDP].sport, a[UDP].dport))
                self.assertNotEqual(b[Ether].dst, a[Ether].dst)
                self.assertEqual(b[IP].ttl, a[IP].ttl - 1)
                self.assertEqual(bytes(b[UDP].payload), bytes(a[UDP].payload))
                ip_sum, udp_sum = b[IP].chksum, b[UDP].chksum
                del b[IP].chksum
                del b[UDP].chksum
                again = Ether(bytes(b))
                self.assertEqual(again[IP].chksum, ip_sum)
                self.assertEqual(again[UDP].chksum, udp_sum)


if __name__ == "__main__":
    unittest.main()

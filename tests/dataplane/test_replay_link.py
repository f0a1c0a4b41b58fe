"""Replay test of the per-session link quality (link_stats.h) through the
real worker (srtfwd-testbed on net_pcap, the two sessions of test_replay.py),
on each path a session's packets take: the IPv4 fast path (a run of data
packets with the R flag and control packets mixed in, and runs of one), the
generic path (priority-tagged frames leaving untagged) and IPv6. The
backend's full ACKs and NAKs land in the caller direction's record, the
caller's R flags in the same record; /api/v1/sessions shows them while the
testbed runs.

  SRTFWD_TESTBED=.../srtfwd-testbed /usr/bin/python3 tests/dataplane/test_replay_link.py
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_replay as rp  # noqa: E402

R_FLAG = 0x04000000


def data(seq, rexmit=False):
    """An SRT data packet (solo, in order), the R flag as asked."""
    return struct.pack(">IIII", seq, 0xE0000001 | (R_FLAG if rexmit else 0), 0, 0x1234) + bytes(100)


def ctl(type_, cif_words, info=0):
    return struct.pack(">IIII", 0x80000000 | type_ << 16, info, 0, 0x1234) + b"".join(
        struct.pack(">I", w) for w in cif_words)


def full_ack(rtt_us, var_us=1000, buf=8000, pps=400, cap=9000, bytes_s=526400):
    return ctl(2, [1000, rtt_us, var_us, buf, pps, cap, bytes_s])


def nak(*words):
    return ctl(3, words)


def read(path):
    with open(path) as f:
        return f.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReplayLinkQuality(unittest.TestCase):
    def setUp(self):
        if not rp.TESTBED:
            self.skipTest("SRTFWD_TESTBED not set")

    def run_and_list(self, in0, in1, vlans=(None, None)):
        """Runs the testbed over the inputs; the session list while it runs."""
        d = __import__("tempfile").mkdtemp(prefix="srtfwd-replay-link-")
        p = lambda n: os.path.join(d, n)  # noqa: E731
        rp.write_pcap(p("in0.pcap"), in0 or [rp.FILLER])
        rp.write_pcap(p("in1.pcap"), in1 or [rp.FILLER])
        port = free_port()
        with open(p("t.toml"), "w") as f:
            f.write(rp.config(vlans).replace('[admin]\nlisten = ""', f'[admin]\nlisten = "127.0.0.1:{port}"'))
        prefix = f"srtfwd-replay-link-{os.getpid()}-{time.monotonic_ns()}"
        argv = [rp.TESTBED, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci", f"--file-prefix={prefix}",
                "--vdev", f"net_pcap0,rx_pcap={p('in0.pcap')},tx_pcap={p('out0.pcap')}",
                "--vdev", f"net_pcap1,rx_pcap={p('in1.pcap')},tx_pcap={p('out1.pcap')}",
                "--", "--config", p("t.toml"), "--log-level", "info",
                "--session", rp.SESSION4, "--session", rp.SESSION6]
        with open(p("log"), "w") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.time() + 30
                while "srtfwd ready" not in read(p("log")):
                    self.assertTrue(proc.poll() is None and time.time() < deadline,
                                    "testbed did not start:\n" + read(p("log"))[-3000:])
                    time.sleep(0.1)
                # Until every replayed packet has its fate (the counters settle).
                want = len(in0 or [rp.FILLER]) + len(in1 or [rp.FILLER])
                listed = None
                while time.time() < deadline:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/sessions", timeout=5) as r:
                        listed = json.loads(r.read().decode())
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                        metrics = r.read().decode()
                    got = sum(float(l.split()[-1]) for l in metrics.splitlines()
                              if l.startswith("srtfwd_rx_packets_total "))
                    # and the histograms built after that (once a second at most)
                    if got >= want and "srtfwd_session_rtt_seconds_count 2" in metrics:
                        break
                    time.sleep(0.1)
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=30), 0, read(p("log"))[-3000:])
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        self.assertIn("mbufs in use at exit: 0", read(p("log")))
        by_caller = {s["caller"]: s for s in listed["sessions"]}
        return (by_caller[f"{rp.CALLER}:{rp.CPORT}"], by_caller[f"{rp.CALLER6}:{rp.CPORT}"],
                metrics)

    def test_every_path(self):
        in0 = [
            # IPv4 fast path: a run of one flow with R flags and an ACKACK
            # (mixed loop; its ACK number has the R flag's bit, which is not
            # one), then single packets of each kind.
            rp.caller4(data(1)), rp.caller4(data(2, True)), rp.caller4(ctl(6, [7], info=R_FLAG)),
            rp.caller4(data(3, True)), rp.caller4(data(4)),
            rp.caller6(data(1, True)),
            rp.caller4(data(5, True)),
            rp.caller6(data(2, True)),
            # The generic path: priority-tagged in, untagged out.
            rp.caller4(data(6, True), vlan=0),
            rp.caller6(data(3), vlan=0, prio=3),
        ]
        in1 = [
            # The backend's reports on the caller's data: full ACKs (the last
            # one's figures stay), a light ACK (no figures), NAKs.
            rp.backend4(full_ack(15000)), rp.backend4(ctl(2, [1001])),
            rp.backend4(nak(5, 0x80000000 | 10, 14)),   # 1 + 5 lost
            rp.backend4(full_ack(12000, var_us=900)),
            rp.backend6(full_ack(30000), vlan=0),        # the generic path, IPv6
            rp.backend6(nak(0x80000000 | 0x7FFFFFFE, 1)),  # across the wrap: 4
            rp.backend4(nak(0x80000000, 0x7FFFFFFF)),    # forged: capped at 2^20
            # The backend's own data, with an R flag: its direction's record.
            rp.backend4(data(100, True)),
        ]
        s4, s6, metrics = self.run_and_list(in0, in1)
        c4, b4, c6, b6 = s4["from_caller"], s4["from_backend"], s6["from_caller"], s6["from_backend"]
        report = json.dumps({"v4": s4, "v6": s6}, indent=1)
        self.assertEqual(c4["packets"], 7, report)
        self.assertEqual(c4["retransmitted"], 3 + 1, report)  # fast runs and singles, then generic
        self.assertEqual(c4["acks"], 2, report)
        self.assertEqual((c4["rtt_us"], c4["rtt_var_us"]), (12000, 900), report)
        self.assertEqual((c4["avail_buf"], c4["recv_rate_pps"], c4["link_capacity_pps"]), (8000, 400, 9000),
                         report)
        self.assertEqual(c4["recv_rate_bps"], 526400 * 8, report)
        self.assertEqual(c4["naks"], 2, report)
        self.assertEqual(c4["lost"], 6 + (1 << 20), report)
        self.assertEqual(b4["retransmitted"], 1, report)
        self.assertEqual((b4["acks"], b4["lost"]), (0, 0), report)
        self.assertEqual(c6["retransmitted"], 2, report)
        self.assertEqual((c6["acks"], c6["rtt_us"], c6["naks"], c6["lost"]), (1, 30000, 1, 4), report)
        self.assertEqual((b6["retransmitted"], b6["acks"]), (0, 0), report)
        # Both sessions' caller directions have ACKs: two observations.
        self.assertIn("srtfwd_session_rtt_seconds_count 2", metrics)
        self.assertIn('srtfwd_session_rtt_seconds_bucket{le="0.02"} 1', metrics)
        self.assertIn('srtfwd_session_rtt_seconds_bucket{le="0.05"} 2', metrics)


if __name__ == "__main__":
    unittest.main(verbosity=2)

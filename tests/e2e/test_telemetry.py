"""End-to-end test of srtfwd's DPDK telemetry commands and its systemd
readiness notifications, on a running forwarder (netlab.py, net_af_packet).

  * /srtfwd/stats read over the telemetry socket with a small client speaking
    its protocol (SOCK_SEQPACKET: connect, read the info JSON, send the
    command, read the JSON answer) gives the same totals as /metrics once the
    traffic has stopped, and Debian's dpdk-telemetry.py reads it too;
  * /srtfwd/lcores sums to the same totals; /srtfwd/sessions and
    /srtfwd/backends show the live session and the origin;
  * sd_notify: READY=1 arrives on a NOTIFY_SOCKET the test binds once the
    forwarder answers ARP, RELOADING=1 then READY=1 around SIGHUP, and
    STOPPING=1 at SIGTERM.

Run as root: SRTFWD=... SRT_ORIGIN=... SRT_PEER=... /usr/bin/python3 tests/e2e/test_telemetry.py
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, tail  # noqa: E402

ORIGIN_IP = "198.18.1.2"
SRT_PORT = 10080


class TelemetryClient:
    """DPDK telemetry v2: a SOCK_SEQPACKET socket; the server sends an info
    JSON on connect, then answers each command with one JSON message."""

    def __init__(self, file_prefix: str):
        self.path = f"/var/run/dpdk/{file_prefix}/dpdk_telemetry.v2"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(5)
        self.sock.connect(self.path)
        self.info = json.loads(self.sock.recv(16384).decode())
        self.max_len = int(self.info.get("max_output_len", 16384))

    def get(self, cmd: str):
        self.sock.send(cmd.encode())
        reply = json.loads(self.sock.recv(self.max_len).decode())
        name = cmd.split(",", 1)[0]
        assert name in reply, f"{cmd}: {reply}"
        return reply[name]

    def close(self):
        self.sock.close()


def metrics_samples(text: str) -> dict:
    """/metrics as telemetry names its samples: the metric name without
    "srtfwd_", label values after '/', summed over an lcore label unless the
    metric also has a total without it. The link quality histograms are
    left out: /metrics alone has them."""
    total, per_lcore = {}, {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.partition("{")
        if name.startswith(("srtfwd_session_rtt_seconds", "srtfwd_session_loss_percent")):
            continue  # the link quality histograms: /metrics only (not table rows)
        key = name[len("srtfwd_"):] if name.startswith("srtfwd_") else name
        lcore = False
        for k, v in re.findall(r'(\w+)="([^"]*)"', labels):
            if k == "lcore":
                lcore = True
            else:
                key += "/" + re.sub(r"[^A-Za-z0-9_/]", "_", v)
        if lcore:
            per_lcore[key] = per_lcore.get(key, 0) + int(value)
        else:
            total[key] = int(value)
    return {**per_lcore, **total}


class NotifySocket:
    """Stands in for systemd's notification socket."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def expect(self, want: str, timeout: float = 15) -> list:
        """Messages until one whose first line is `want`; fails after timeout."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {want} on NOTIFY_SOCKET within {timeout} s; got {seen}")
            self.sock.settimeout(left)
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            seen.append(msg)
            if msg.split("\n", 1)[0] == want:
                return seen

    def close(self):
        self.sock.close()


class TelemetryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def admin(self, fwd, path):
        with open(fwd.config_path) as f:
            addr = re.search(r'^listen = "(127\.0\.0\.1:\d+)"', f.read(), re.M).group(1)
        with urllib.request.urlopen(f"http://{addr}{path}", timeout=5) as r:
            return r.read().decode()

    def test_telemetry_matches_metrics_and_sd_notify(self):
        tmp = tempfile.mkdtemp(prefix="srtfwd-notify-")
        notify = NotifySocket(os.path.join(tmp, "notify"))
        self.addCleanup(notify.close)
        with NetLab(prefix="tel", srtfwd_bin=self.srtfwd_bin) as lab:
            origin = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", ORIGIN_IP,
                                                  "--port", str(SRT_PORT)], name="origin")
            origin.wait_for(r"^listening ", timeout=10)
            env = dict(os.environ, NOTIFY_SOCKET=notify.path)
            fwd = lab.srtfwd(lab.fwd_config(backends=[(ORIGIN_IP, SRT_PORT)], idle_timeout_ms=30000),
                             env=env)
            # READY=1 once the ports are up; the log line comes just after.
            notify.expect("READY=1")
            self.assertTrue(lab.ping(lab.caller_ns(), fwd.fwd.fwd_ip, count=1, timeout=5),
                            "READY=1 sent but no answer to ARP/ICMP")

            tel = TelemetryClient(fwd.file_prefix)
            self.addCleanup(tel.close)
            self.assertIn("/srtfwd/stats", tel.get("/"))

            # A session that forwards 1000 packets (2.5 s), then ends (SHUTDOWN).
            pub = lab.popen_in(lab.caller_ns(), [self.peer_bin, "publish", "--to",
                                                 f"{fwd.fwd.fwd_ip}:{SRT_PORT}", "--streamid",
                                                 "#!::r=live/tel,m=publish", "--count", "1000",
                                                 "--rate", "400"], name="pub")
            pub.wait_for(r"^connected to ", timeout=10)

            # While it runs: the session and the origin.
            deadline = time.monotonic() + 10
            while (s := tel.get("/srtfwd/sessions"))["active"] != 1:
                self.assertLess(time.monotonic(), deadline, s)
                time.sleep(0.1)
            self.assertEqual(s["listed"], 1, s)
            self.assertRegex(s["sessions"][0], rf"^\d+ {re.escape(fwd.fwd.caller_ip)}:\d+ -> "
                                               rf"{re.escape(ORIGIN_IP)}:{SRT_PORT}$")
            sid = s["sessions"][0].split()[0]
            one = tel.get(f"/srtfwd/sessions,{sid}")
            self.assertIsNotNone(one, f"/srtfwd/sessions,{sid}")
            self.assertEqual(one["backend"], f"{ORIGIN_IP}:{SRT_PORT}", one)
            self.assertEqual(one["vip"], f"{fwd.fwd.fwd_ip}:{SRT_PORT}", one)
            self.assertGreater(one["from_caller/packets"], 0, one)
            b = tel.get("/srtfwd/backends")
            self.assertEqual(b["count"], 1, b)
            self.assertIn(f"{ORIGIN_IP}:{SRT_PORT}", " ".join(b["backends"]), b)
            self.assertTrue(b["balancer"], b)

            self.assertEqual(pub.wait(30), 0, pub.out_text() + pub.err_text())
            self.assertIn("sent 1000/1000", pub.out_text())

            # Stats equal /metrics once nothing moves (the session ended):
            # read /metrics, telemetry, /metrics; when both /metrics reads
            # agree, telemetry must too.
            deadline = time.monotonic() + 20
            while True:
                m1 = metrics_samples(self.admin(fwd, "/metrics"))
                stats = tel.get("/srtfwd/stats")
                m2 = metrics_samples(self.admin(fwd, "/metrics"))
                if m1 == m2 and m1["sessions_active"] == 0:
                    break
                self.assertLess(time.monotonic(), deadline, "counters never stopped moving")
                time.sleep(0.2)
            self.assertEqual(stats, m1)
            self.assertGreaterEqual(stats["forwarded_packets_total"], 1000, stats)
            self.assertGreater(stats["rx_packets_total"], stats["forwarded_packets_total"], stats)
            self.assertEqual(stats["srt_established_total"], 1, stats)
            self.assertEqual(stats["sessions_ended_total/shutdown"], 1, stats)
            self.assertIn("dropped_packets_total/no_session", stats)

            # Per lcore: the same counters, one column each; they add up.
            lc = tel.get("/srtfwd/lcores")
            fields = lc.pop("fields")
            self.assertTrue(lc, "no worker lcore listed")
            sums = [sum(row[i] for row in lc.values()) for i in range(len(fields))]
            by = dict(zip(fields, sums))
            self.assertEqual(by["rx_packets"], stats["rx_packets_total"])
            self.assertEqual(by["forwarded"], stats["forwarded_packets_total"])
            self.assertEqual(by["tx_packets"], stats["tx_packets_total"])
            self.assertEqual(by["dropped"], sum(v for k, v in stats.items()
                                                if k.startswith("dropped_packets_total/")))
            lcore = next(iter(lc))
            one = tel.get(f"/srtfwd/lcores,{lcore}")
            self.assertEqual(one["rx_packets"], lc[lcore][fields.index("rx_packets")])
            self.assertEqual(sum(v for k, v in one.items() if k.startswith("dropped/")), one["dropped"])
            self.assertIsNone(tel.get("/srtfwd/lcores,999"), "an lcore that is no worker")

            # Debian's client reads the same command.
            r = subprocess.run(["/usr/bin/python3", "/usr/bin/dpdk-telemetry.py", "-f", fwd.file_prefix],
                               input="/srtfwd/stats\n", capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r'"rx_packets_total": \d+', r.stdout)

            # SIGHUP: RELOADING=1 (with the monotonic clock), then READY=1.
            fwd.signal(signal.SIGHUP)
            seen = notify.expect("RELOADING=1")
            self.assertRegex(seen[-1], r"MONOTONIC_USEC=\d+")
            notify.expect("READY=1")

            tel.close()
            rc = fwd.proc.stop(signal.SIGTERM, 15)
            notify.expect("STOPPING=1", timeout=5)
            self.assertEqual(rc, 0, tail(fwd.log()))
            self.assertIn("mbufs in use at exit: 0", fwd.log())


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)
    unittest.main(verbosity=2)

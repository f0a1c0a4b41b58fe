"""End-to-end test of the data plane in network namespaces: the forwarder on
net_af_packet over veth ends (netlab.py), answering ARP and ping, and relaying
a session installed through the control plane's internal API (srtfwd-testbed
--session, no MACs given: the control lcore resolves both next hops by ARP)
both ways between UDP peers in the caller and origin namespaces; then the
session ends by idle timeout and later packets are dropped as no_session.
Run as root with SRTFWD_TESTBED set (meson does it)."""

import json
import os
import re
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab  # noqa: E402

PY = "/usr/bin/python3"

# A UDP peer: sends COUNT datagrams (SRT data-shaped: first bit 0) to DST from
# BIND, and/or echoes what it receives as SRT ACK-shaped packets (0x8002...).
PEER = textwrap.dedent(r'''
    import socket, struct, sys, time, json
    role, bind_ip, bind_port, dst_ip, dst_port, count = sys.argv[1:7]
    bind_port, dst_port, count = int(bind_port), int(dst_port), int(count)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((bind_ip, bind_port))
    s.settimeout(3)
    got = []
    if role == "backend":
        try:
            while len(got) < count:
                data, src = s.recvfrom(2048)
                got.append([data.hex(), src[0], src[1]])
                s.sendto(b"\x80\x02\x00\x00" + data[4:], src)  # ACK-shaped answer, same body
        except socket.timeout:
            pass
    else:
        for i in range(count):
            s.sendto(struct.pack("!IIII", i, 0xC0000000 | i, i * 1000, 0x1234) + bytes([i % 256]) * 100,
                     (dst_ip, dst_port))
            try:
                data, src = s.recvfrom(2048)
                got.append([data.hex(), src[0], src[1]])
            except socket.timeout:
                pass
            time.sleep(0.002)
    print(json.dumps(got))
''')


def binary(var):
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(f"{var} must name a binary (got {path!r})")
    return path


def final_counters(log):
    return json.loads(re.findall(r"final counters: (\{.*\})", log)[-1])


class DataPlane(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.testbed = binary("SRTFWD_TESTBED")

    def test_arp_ping_and_session_both_ways_then_idle(self):
        n = 200
        with NetLab(prefix="dp", srtfwd_bin=self.testbed) as lab:
            f = lab.fwd(0)
            caller, backend = f.caller_ips[0], f.origin_ips[0]
            cfg = lab.fwd_config(0, idle_timeout_ms=4000)
            session = (f"caller={caller}:5000 vip={f.fwd_ip}:10080 "
                       f"backend={backend}:10080 leg={f.fwd_origin_ip}:20000")
            fwd = lab.srtfwd(cfg, extra_args=["--session", session])

            # ARP and ping to both of the forwarder's addresses.
            self.assertTrue(lab.ping(lab.caller_ns(), f.fwd_ip, count=1), "ping to the caller-side address")
            self.assertTrue(lab.ping(lab.origin_ns, f.fwd_origin_ip, count=1), "ping to the origin-side address")
            neigh = lab.run_in(lab.caller_ns(), ["ip", "neigh", "show", f.fwd_ip]).stdout
            mac = open(f"/sys/class/net/{f.caller_host_if}/address").read().strip()
            self.assertIn(mac, neigh.lower(), "the caller learned the forwarder's MAC by ARP")

            # The session: caller -> VIP becomes leg -> backend, and back.
            be = lab.popen_in(lab.origin_ns, [PY, "-c", PEER, "backend", backend, "10080", "-", "0", str(n)])
            time.sleep(0.3)
            ca = lab.run_in(lab.caller_ns(), [PY, "-c", PEER, "caller", caller, "5000", f.fwd_ip, "10080", str(n)],
                            timeout=60)
            be.wait(timeout=30)
            got_be = json.loads(be.out_text())
            got_ca = json.loads(ca.stdout)
            self.assertEqual(len(got_be), n, "every datagram reached the backend")
            for i, (hexdata, src, sport) in enumerate(got_be):
                self.assertEqual((src, sport), (f.fwd_origin_ip, 20000))
                self.assertEqual(bytes.fromhex(hexdata)[16:], bytes([i % 256]) * 100)
            self.assertEqual(len(got_ca), n, "every answer came back to the caller")
            for hexdata, src, sport in got_ca:
                self.assertEqual((src, sport), (f.fwd_ip, 10080))
                self.assertEqual(bytes.fromhex(hexdata)[:2], b"\x80\x02")

            # Idle: after the timeout the session is gone and packets are dropped.
            time.sleep(5.0)  # idle_timeout_ms = 4000
            be2 = lab.popen_in(lab.origin_ns, [PY, "-c", PEER, "backend", backend, "10080", "-", "0", "1"])
            time.sleep(0.3)
            lab.run_in(lab.caller_ns(), [PY, "-c", PEER, "caller", caller, "5000", f.fwd_ip, "10080", "3"], timeout=30)
            be2.wait(timeout=30)
            self.assertEqual(json.loads(be2.out_text()), [], "packets of an ended session were forwarded")

            self.assertEqual(fwd.stop(), 0)
            log = fwd.log()
            self.assertIn("mbufs in use at exit: 0", log)
            c = final_counters(log)
            self.assertEqual(c["control"]["sessions_installed"], 1)
            self.assertEqual(c["control"]["sessions_ended_idle"], 1)
            self.assertGreaterEqual(c["dropped"]["no_session"], 3)
            self.assertEqual(c["dropped"]["control_ring_full"], 0)
            self.assertGreaterEqual(c["control"]["arp_replies_sent"], 2)
            self.assertEqual(c["forwarded"], 2 * n)


if __name__ == "__main__":
    unittest.main(verbosity=2)

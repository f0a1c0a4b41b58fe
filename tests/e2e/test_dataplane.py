"""End-to-end tests of srtfwd's data plane in network namespaces (netlab.py):
the forwarder on net_af_packet over the root-side veth ends.

  1 ARP/NDP and ping (IPv4 and IPv6) to both of the forwarder's ports; the
    namespaces learn the MAC that DPDK reports for each port (= the host veth
    end's MAC).
  2 A session installed through the control plane's internal API
    (srtfwd-testbed --session, no MACs: the control lcore resolves both next
    hops by ARP, or NDP for IPv6) relays N SRT data-shaped datagrams caller ->
    backend and N SRT ACK-shaped answers back, byte-exact, with the addresses
    and ports rewritten (IPv4 and IPv6).
  3 Idle: with idle_timeout_ms = 1000 a session whose traffic stops ends; later
    packets of the caller are dropped as no_session.
  4 Real libsrt peers (srt-peer publish and play, srt-origin) relayed through a
    session that the SRT handshake installed (the plain srtfwd binary). Runs only
    with SRTFWD_E2E_HANDSHAKE=1.
Every test stops the forwarder with SIGTERM and checks: exit status 0,
"mbufs in use at exit: 0", no control_ring_full drop, sessions_installed >= 1
where a session was made; and after the lab closes, that no namespace, veth,
process or DPDK runtime directory of it is left.

Run as root (meson does it: suite e2e):
  SRTFWD_TESTBED=.../srtfwd-testbed SRTFWD=.../srtfwd SRT_ORIGIN=.../srt-origin \
      SRT_PEER=.../srt-peer /usr/bin/python3 tests/e2e/test_dataplane.py [-k NAME]
"""

import ipaddress
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, tail  # noqa: E402

PY = "/usr/bin/python3"
N = 200              # datagrams each way in the session test
CALLER_PORT = 5000   # the caller's UDP port
SRT_PORT = 10080     # the forwarder's SRT port and the backend's
LEG_PORT = 20000     # the forwarder's leg port toward the backend

# What both UDP peers and the test agree on: datagram i of each direction.
PACKETS = textwrap.dedent(r'''
    import struct

    def data_packet(i):
        """SRT data packet i: F=0 | seq, PP=11 O=0 KK=0 R=0 | msgno, timestamp,
        destination socket ID; then 16..1316 bytes derived from i."""
        head = struct.pack("!IIII", i & 0x7FFFFFFF, 0xC0000000 | (i + 1), i * 1000, 0x1234ABCD)
        size = 16 + (i * 97) % 1301
        return head + bytes((i * 7 + k) & 0xFF for k in range(size))

    def ack_packet(i):
        """SRT full ACK for data packet i: 0x8002, ACK number, timestamp, socket
        ID; CIF: last acknowledged seq + 1, RTT, RTT variance, buffer, rates."""
        return (struct.pack("!IIII", 0x80020000, i + 1, i * 1000 + 500, 0x5678EF01)
                + struct.pack("!IIIIII", i + 1, 20000 + i, 1000, 8192 - (i % 100), 100 + i, 125000))

    def seq_of(pkt):
        """The data packet's sequence number, or the ACK's acknowledged seq - 1."""
        if pkt[0] & 0x80:
            return struct.unpack("!I", pkt[16:20])[0] - 1
        return struct.unpack("!I", pkt[:4])[0]
''')
exec(PACKETS)  # data_packet, ack_packet, seq_of for the checks below

# A UDP peer. backend: bind, print "ready", answer every datagram with
# ack_packet(seq_of(it)); stop after COUNT datagrams or WAIT s without one.
# caller: send data_packet(0..COUNT-1) every GAP s, collect the answers until
# all COUNT came or WAIT s passed. Both print what they received as JSON:
# [[hex, src_ip, src_port], ...].
PEER = PACKETS + textwrap.dedent(r'''
    import json, select, socket, sys, time
    role, bind_ip, bind_port, dst_ip, dst_port, count, wait, gap = sys.argv[1:9]
    count, wait, gap = int(count), float(wait), float(gap)
    s = socket.socket(socket.AF_INET6 if ":" in bind_ip else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.bind((bind_ip, int(bind_port)))
    got = []

    def drain(timeout):
        while len(got) < count:
            r, _, _ = select.select([s], [], [], timeout)
            if not r:
                return False
            data, src = s.recvfrom(4096)
            got.append([data.hex(), src[0], src[1]])
            if role == "backend":
                s.sendto(ack_packet(seq_of(data)), src)
        return True

    print("ready", flush=True)
    if role == "backend":
        drain(wait)
    else:
        for i in range(count):
            s.sendto(data_packet(i), (dst_ip, int(dst_port)))
            drain(0)
            time.sleep(gap)
        deadline = time.monotonic() + wait
        while len(got) < count and time.monotonic() < deadline:
            drain(max(0.0, deadline - time.monotonic()))
    print(json.dumps(got), flush=True)
''')


def port_macs(log):
    """{port id: MAC} as the forwarder logs them ("port 0 (...): mac xx:..")."""
    return {int(p): m.lower() for p, m in re.findall(r"port (\d+) \([^)]*\): mac ([0-9a-fA-F:]{17})", log)}


def sysfs_mac(ifc):
    with open(f"/sys/class/net/{ifc}/address") as f:
        return f.read().strip().lower()


def sessions(fwd):
    with open(fwd.config_path) as f:
        addr = re.search(r'^listen = "(127\.0\.0\.1:\d+)"', f.read(), re.M).group(1)
    with urllib.request.urlopen(f"http://{addr}/api/v1/sessions", timeout=5) as r:
        return json.loads(r.read().decode())


def mbufs_in_use(fwd):
    """The srtfwd_mbufs_in_use gauge of /metrics."""
    with open(fwd.config_path) as f:
        addr = re.search(r'^listen = "(127\.0\.0\.1:\d+)"', f.read(), re.M).group(1)
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as r:
        text = r.read().decode()
    return int(float(re.search(r"(?m)^srtfwd_mbufs_in_use (\S+)$", text).group(1)))


def endpoint(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class DataPlane(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            if os.environ.get("CI") == "true":  # under CI a test that cannot run fails
                raise RuntimeError("needs root (network namespaces)")
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.testbed = binary("SRTFWD_TESTBED")

    # -- helpers ---------------------------------------------------------------------

    def run_lab(self, body, **kw):
        """Run body(lab) in a fresh lab, then check that the lab left nothing behind."""
        with NetLab(prefix="dp", srtfwd_bin=self.testbed, **kw) as lab:
            body(lab)
            procs = list(lab.procs) + [f.proc for f in lab.fwd_procs]
            prefixes = [f.file_prefix for f in lab.fwd_procs]
            namespaces, host_ifs, lab_id = list(lab.namespaces), list(lab.host_ifs), lab.id
        # 5: everything cleaned up
        for p in procs:
            self.assertIsNotNone(p.poll(), f"{p.name} (pid {p.pid}) still running")
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for ns in namespaces:
            self.assertNotIn(ns, left, "namespace left behind")
        self.assertNotRegex(left, rf"srtlab-{lab_id}-")
        for ifc in host_ifs:
            self.assertFalse(os.path.exists(f"/sys/class/net/{ifc}"), f"veth {ifc} left behind")
        for fp in prefixes:
            self.assertFalse(os.path.exists(f"/var/run/dpdk/{fp}"), f"DPDK runtime dir {fp} left behind")

    def stop_fwd(self, fwd, sessions_min=0):
        """4: SIGTERM -> exit 0, no mbuf leaked, no control ring overflow."""
        rc = fwd.stop()
        log = fwd.log()
        self.assertEqual(rc, 0, f"srtfwd exit {rc}:\n{tail(log)}")
        self.assertIn("mbufs in use at exit: 0", log, tail(log))
        c = final_counters(log)
        self.assertEqual(c["dropped"]["control_ring_full"], 0, c)
        self.assertGreaterEqual(c["control"]["sessions_installed"], sessions_min, c)
        self.assertEqual(c["control"]["install_failed"], 0, c)
        return c, log

    def backend(self, lab, ip, count, wait=5.0):
        p = lab.popen_in(lab.origin_ns, [PY, "-c", PEER, "backend", ip, SRT_PORT, "-", 0, count, wait, 0],
                         name="udp-backend")
        p.wait_for(r"^ready$", timeout=10)
        return p

    def caller(self, lab, ip, vip, count, wait=5.0, gap=0.002):
        r = lab.run_in(lab.caller_ns(), [PY, "-c", PEER, "caller", ip, CALLER_PORT, vip, SRT_PORT,
                                         count, wait, gap], timeout=count * gap + wait + 30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout.splitlines()[-1])

    @staticmethod
    def received(p, timeout=30):
        p.wait(timeout)
        return json.loads(p.out_text().splitlines()[-1])

    def check_data(self, got, first, count, src):
        """The backend got data_packet(first .. first+count-1) byte-exact, in order, from src."""
        self.assertEqual(len(got), count, f"the backend got {len(got)}/{count} datagrams")
        for k, (hexdata, ip, port) in enumerate(got):
            self.assertEqual(bytes.fromhex(hexdata), data_packet(first + k), f"datagram {first + k}")
            self.assertEqual((ipaddress.ip_address(ip), port), (ipaddress.ip_address(src[0]), src[1]),
                             f"source of datagram {first + k}")

    def check_acks(self, got, first, count, src):
        """The caller got ack_packet(first .. first+count-1) byte-exact, from src."""
        self.assertEqual(len(got), count, f"the caller got {len(got)}/{count} answers")
        seqs = []
        for hexdata, ip, port in got:
            pkt = bytes.fromhex(hexdata)
            seqs.append(seq_of(pkt))
            self.assertEqual(pkt, ack_packet(seqs[-1]), f"answer {seqs[-1]}")
            self.assertEqual((ipaddress.ip_address(ip), port), (ipaddress.ip_address(src[0]), src[1]),
                             f"source of answer {seqs[-1]}")
        self.assertEqual(sorted(seqs), list(range(first, first + count)))

    def session_arg(self, caller, vip, backend, leg):
        return (f"caller={endpoint(caller, CALLER_PORT)} vip={endpoint(vip, SRT_PORT)} "
                f"backend={endpoint(backend, SRT_PORT)} leg={endpoint(leg, LEG_PORT)}")

    # -- 1 ---------------------------------------------------------------------------

    def test_1_arp_ndp_ping(self):
        """ARP and NDP resolve the forwarder's addresses on both ports to the MAC
        DPDK reports (the host veth end's), and it answers ping and ping6."""
        def body(lab):
            f = lab.fwd(0)
            fwd = lab.srtfwd(lab.fwd_config(0))
            macs = port_macs(fwd.log())
            self.assertEqual(macs.get(0), sysfs_mac(f.caller_host_if), fwd.log())
            self.assertEqual(macs.get(1), sysfs_mac(f.origin_host_if), fwd.log())
            for ns, ifc, port, ip4, ip6 in ((f.caller_ns, f.caller_if, 0, f.fwd_ip, f.fwd_ip6),
                                            (f.origin_ns, f.origin_if, 1, f.fwd_origin_ip, f.fwd_origin_ip6)):
                for ip in (ip4, ip6):
                    self.assertTrue(lab.ping(ns, ip, count=2), f"ping {ip} from {ns}")
                    neigh = lab.run_in(ns, ["ip", "neigh", "show", ip, "dev", ifc], check=True).stdout
                    self.assertRegex(neigh.lower(), rf"lladdr {macs[port]} (reachable|stale|delay|probe)",
                                     f"{ns} did not learn port {port}'s MAC for {ip}")
            # one more burst of echo requests: every one answered
            r = lab.run_in(f.caller_ns, ["ping", "-n", "-q", "-c", "20", "-i", "0.05", "-W", "2", f.fwd_ip])
            self.assertIn(" 0% packet loss", r.stdout, r.stdout)
            c, _ = self.stop_fwd(fwd)
            self.assertGreaterEqual(c["control"]["icmp_echo_replies"], 24, c)
            self.assertGreaterEqual(c["control"]["arp_replies_sent"], 2, c)
            self.assertGreaterEqual(c["control"]["ndp_adverts_sent"], 2, c)
        self.run_lab(body, ipv6=True)

    # -- 2 ---------------------------------------------------------------------------

    def session_both_ways(self, v6):
        def body(lab):
            f = lab.fwd(0)
            if v6:
                caller, vip, backend, leg = f.caller_ips6[0], f.fwd_ip6, f.origin_ips6[0], f.fwd_origin_ip6
            else:
                caller, vip, backend, leg = f.caller_ip, f.fwd_ip, f.origin_ip, f.fwd_origin_ip
            fwd = lab.srtfwd(lab.fwd_config(0, idle_timeout_ms=30000),
                             extra_args=["--session", self.session_arg(caller, vip, backend, leg)])
            # no MACs given: the install waits for the control lcore's ARP/NDP
            fwd.wait_log(r"session \d+ installed: ", timeout=10)
            be = self.backend(lab, backend, N)
            got_ca = self.caller(lab, caller, vip, N)
            got_be = self.received(be)
            self.check_data(got_be, 0, N, (leg, LEG_PORT))
            self.check_acks(got_ca, 0, N, (vip, SRT_PORT))
            self.assertEqual(sessions(fwd)["active"], 1)
            c, log = self.stop_fwd(fwd, sessions_min=1)
            self.assertEqual(c["forwarded"], 2 * N, c)
            self.assertEqual(c["dropped"]["no_session"], 0, c)
            self.assertEqual(c["tx_dropped"], 0, c)
            # the next hops were resolved by the control lcore, not given
            self.assertRegex(log, r"testbed: 0 session\(s\) installed, 0 failed, 1 waiting for neighbours")
        self.run_lab(body, ipv6=v6)

    def test_2_session_both_ways_ipv4(self):
        """A session installed without MACs (next hops by ARP) relays N data
        datagrams caller -> backend and N ACKs back, byte-exact, rewritten to
        leg -> backend and VIP -> caller."""
        self.session_both_ways(v6=False)

    def test_2_session_both_ways_ipv6(self):
        """The same over IPv6 (next hops by NDP)."""
        self.session_both_ways(v6=True)

    # -- 3 ---------------------------------------------------------------------------

    def test_3_idle_session_ends(self):
        """With idle_timeout_ms = 1000 a session whose traffic stops ends; after
        2 s the caller's packets no longer reach the backend (no_session drops)."""
        def body(lab):
            f = lab.fwd(0)
            fwd = lab.srtfwd(lab.fwd_config(0, idle_timeout_ms=1000),
                             extra_args=["--session", self.session_arg(f.caller_ip, f.fwd_ip, f.origin_ip,
                                                                       f.fwd_origin_ip)])
            fwd.wait_log(r"session \d+ installed: ", timeout=10)
            be = self.backend(lab, f.origin_ip, 20)
            got_ca = self.caller(lab, f.caller_ip, f.fwd_ip, 20, gap=0.01)
            self.check_data(self.received(be), 0, 20, (f.fwd_origin_ip, LEG_PORT))
            self.check_acks(got_ca, 0, 20, (f.fwd_ip, SRT_PORT))
            self.assertEqual(sessions(fwd)["active"], 1)
            t_last = time.monotonic()
            fwd.wait_log(r"session \d+ ended \(idle\)", timeout=5)
            waited = time.monotonic() - t_last
            self.assertGreater(waited, 0.5, "the session ended long before its idle timeout")
            deadline = time.monotonic() + 3
            while sessions(fwd)["active"] != 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(sessions(fwd)["active"], 0)
            be = self.backend(lab, f.origin_ip, 1, wait=2.0)
            got_ca = self.caller(lab, f.caller_ip, f.fwd_ip, 5, wait=1.0, gap=0.05)
            self.assertEqual(self.received(be), [], "packets of an ended session reached the backend")
            self.assertEqual(got_ca, [])
            # Idle again: every mbuf is back in the pool, including the spares
            # the control lcore keeps while it sends.
            deadline = time.monotonic() + 3
            while mbufs_in_use(fwd) != 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(mbufs_in_use(fwd), 0, "mbufs held by an idle forwarder")
            c, _ = self.stop_fwd(fwd, sessions_min=1)
            self.assertGreaterEqual(c["control"]["sessions_ended_idle"], 1, c)
            # No session left: no slot of the table is held either.
            self.assertEqual(c["session_slots"], {"live": 0, "retired": 0, "free": 0}, c)
            self.assertGreaterEqual(c["dropped"]["no_session"], 5, c)
            self.assertEqual(c["forwarded"], 40, c)
        self.run_lab(body)

    # -- 4 ---------------------------------------------------------------------------

    @unittest.skipUnless(os.environ.get("SRTFWD_E2E_HANDSHAKE"),
                         "the SRT handshake through the forwarder is not enabled for this test: "
                         "set SRTFWD_E2E_HANDSHAKE=1 to run it")
    def test_4_libsrt_publish_play(self):
        """Real libsrt peers through srtfwd: srt-peer publish from one caller
        address, srt-peer play from another, via srt-origin behind the
        forwarder; the player gets 300 messages byte-exact and in order."""
        srtfwd_bin, origin_bin, peer_bin = binary("SRTFWD"), binary("SRT_ORIGIN"), binary("SRT_PEER")

        def body(lab):
            f = lab.fwd(0)
            origin = lab.popen_in(lab.origin_ns, [origin_bin, "--bind", f.origin_ip, "--port", SRT_PORT],
                                  name="srt-origin")
            origin.wait_for(r"^listening ", timeout=10)
            fwd = lab.srtfwd(lab.fwd_config(0, backends=[(f.origin_ip, SRT_PORT)]), binary=srtfwd_bin)
            to = endpoint(f.fwd_ip, SRT_PORT)
            pub = lab.popen_in(f.caller_ns, [peer_bin, "publish", "--to", to, "--bind", f"{f.caller_ips[0]}:0",
                                             "--streamid", "#!::r=live/e2e,m=publish", "--count", 0,
                                             "--rate", 200, "--size", 1316], name="srt-publish")
            pub.wait_for(r"^connected to ", timeout=15)
            play = lab.popen_in(f.caller_ns, [peer_bin, "play", "--to", to, "--bind", f"{f.caller_ips[1]}:0",
                                              "--streamid", "#!::r=live/e2e,m=request", "--count", 300,
                                              "--start-seq-any", "--timeout-ms", 20000], name="srt-play")
            rc = play.wait(40)
            self.assertEqual(rc, 0, f"player exit {rc}:\n{play.out_text()}{play.err_text()}\n"
                                    f"{tail(fwd.log())}")
            m = re.search(r"^received 300/300 ok \(seq (\d+)\.\.(\d+)\)", play.out_text(), re.M)
            self.assertTrue(m, play.out_text())
            self.assertEqual(int(m.group(2)) - int(m.group(1)) + 1, 300)
            self.assertEqual(pub.stop(), 0, pub.out_text() + pub.err_text())
            self.assertRegex(pub.out_text(), r"(?m)^sent \d+/\d+")
            # both came through the forwarder's leg address, one backend session each
            self.assertRegex(origin.out_text(), rf"(?m)^accept {re.escape(f.fwd_origin_ip)}:\d+ \S+ publish$")
            self.assertRegex(origin.out_text(), rf"(?m)^accept {re.escape(f.fwd_origin_ip)}:\d+ \S+ request$")
            c, _ = self.stop_fwd(fwd, sessions_min=2)
            self.assertGreater(c["forwarded"], 300, c)
        self.run_lab(body, caller_addrs=2)


if __name__ == "__main__":
    unittest.main(verbosity=2)

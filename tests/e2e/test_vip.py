"""End-to-end tests of [[port]] vips: addresses srtfwd takes SRT on besides
its port's own, as hosts sharing a VIP behind a router's ECMP route do.
A caller reaching a VIP gets a session answered from the VIP and relayed
byte-exact through a real origin; ARP, NDP and ICMP echo answer for it only
with announce_vips = true; without the VIP configured the same packets are
dropped as not_for_us. The router test spreads callers of one VIP over two
forwarders through a static multipath route (netlab's router topology).

Run as root:
  SRTFWD=.../srtfwd SRT_ORIGIN=.../srt-origin SRT_PEER=.../srt-peer \
      /usr/bin/python3 tests/e2e/test_vip.py [-k NAME]
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_control as tc  # noqa: E402  (helpers; its tests are not collected here)
from netlab import NetLab, binary  # noqa: E402
from test_control import ORIGIN_IPS, SRT_PORT, http_get, play_sid, pub_sid  # noqa: E402

VIP4 = "198.18.200.1"
VIP6 = "2001:2::200"


def vips_line(*vips):
    return "vips = [" + ", ".join(f'"{v}"' for v in vips) + "]"


def to(ip):
    return f"[{ip}]:{SRT_PORT}" if ":" in ip else f"{ip}:{SRT_PORT}"


class VipE2E(unittest.TestCase):
    maxDiff = None

    origin = tc.ControlE2E.origin
    wait_ok = tc.ControlE2E.wait_ok
    stop_fwd = tc.ControlE2E.stop_fwd
    wait_sessions = tc.ControlE2E.wait_sessions

    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def lab(self, **kw):
        return NetLab(prefix="vip", srtfwd_bin=self.srtfwd_bin, **kw)

    def peer(self, lab, ns, verb, sid, dst, *extra, name=None):
        return lab.popen_in(ns, [self.peer_bin, verb, "--to", to(dst), "--streamid", sid,
                                 *map(str, extra)], name=name or f"peer-{verb}")

    def pair_through(self, lab, ns, pub_to, play_to, resource, pub_count=300, play_count=150):
        """A publisher to pub_to, then a player from play_to: every message the
        player gets is byte-exact and in order (srt-peer checks)."""
        pub = self.peer(lab, ns, "publish", pub_sid(resource), pub_to, "--count", pub_count, "--rate", 100,
                        name=f"pub-{resource}")
        pub.wait_for(r"^connected to ", timeout=10)
        play = self.peer(lab, ns, "play", play_sid(resource), play_to, "--count", play_count,
                         "--start-seq-any", "--timeout-ms", 20000, name=f"play-{resource}")
        out = self.wait_ok(play, 40)
        self.assertRegex(out, rf"(?m)^received {play_count}/{play_count} ok \(seq \d+\.\.\d+\)$")
        self.assertIn(f"sent {pub_count}/{pub_count}", self.wait_ok(pub, 40))

    def any_origin(self, lab):
        """An origin on 0.0.0.0:10080, on every forwarder's origin link."""
        p = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", "0.0.0.0", "--port", str(SRT_PORT)],
                         name="origin")
        p.wait_for(r"^listening ", timeout=10)
        return p

    def neigh_mac(self, lab, ns, ip):
        r = lab.run_in(ns, ["ip", "neigh", "show", ip])
        m = re.search(r"lladdr (\S+)", r.stdout)
        return m.group(1) if m else None

    # -- 1 ---------------------------------------------------------------------------

    def test_1_routed_vip_not_announced(self):
        """VIPs of both families, announce_vips left false. On-link, the caller's
        ARP and NDP for them go unanswered, and so does a ping; routed through
        the port's address (as a router's BGP next hop does), a publisher to the
        IPv4 VIP and a player from the IPv6 one get their sessions, answered
        from the VIP (libsrt takes an answer only from the address it called),
        keyed caller -> VIP, byte-exact through a real origin."""
        with self.lab(ipv6=True) as lab:
            f = lab.fwd()
            fwd = lab.srtfwd(lab.fwd_config(backends=[(ORIGIN_IPS[0], SRT_PORT)],
                                            port0_extra=[vips_line(VIP4, VIP6)]))
            o = self.origin(lab, 1)
            ns = f.caller_ns
            # On-link: neither ARP nor NDP nor echo answered.
            lab.route_vip(VIP4, dev=f.caller_if, ns=ns)
            lab.route_vip(VIP6, dev=f.caller_if, ns=ns)
            self.assertFalse(lab.ping(ns, VIP4, timeout=1))
            self.assertFalse(lab.ping(ns, VIP6, timeout=1))
            self.assertIsNone(self.neigh_mac(lab, ns, VIP4))
            self.assertIsNone(self.neigh_mac(lab, ns, VIP6))
            self.assertTrue(lab.ping(ns, f.fwd_ip))  # the port's own address is answered
            # Routed through the port's address: SRT is ours, echo still not.
            lab.route_vip(VIP4, via=[f.fwd_ip], ns=ns)
            lab.route_vip(VIP6, via=[f.fwd_ip6], ns=ns)
            self.assertFalse(lab.ping(ns, VIP4, timeout=1))
            self.pair_through(lab, ns, VIP4, VIP6, "live/vip")
            o.wait_for(r"^close \S+ #!::r=live/vip,m=publish publish msgs=300 drops=0$", timeout=10)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 2)
            self.assertEqual(c["srt"]["rejected"], 0)
            self.assertGreater(c["forwarded"], 400)
            self.assertEqual(c["dropped"]["not_for_us"], 0, c["dropped"])
            self.assertEqual(c["control"]["icmp_echo_replies"], 1, c["control"])  # fwd_ip's
            self.assertGreaterEqual(c["control"]["icmp_ignored"], 1, c["control"])  # the routed VIP's

    def test_1b_sessions_to_a_vip_are_keyed_by_it(self):
        """The session list names the VIP the caller used, per family."""
        with self.lab(ipv6=True) as lab:
            f = lab.fwd()
            fwd = lab.srtfwd(lab.fwd_config(backends=[(ORIGIN_IPS[0], SRT_PORT)],
                                            port0_extra=[vips_line(VIP4, VIP6)]))
            self.origin(lab, 1)
            ns = f.caller_ns
            lab.route_vip(VIP4, via=[f.fwd_ip], ns=ns)
            lab.route_vip(VIP6, via=[f.fwd_ip6], ns=ns)
            pub = self.peer(lab, ns, "publish", pub_sid("live/k"), VIP4, "--count", 0, "--rate", 50)
            pub.wait_for(r"^connected to ", timeout=10)
            play = self.peer(lab, ns, "play", play_sid("live/k"), VIP6, "--count", 100000,
                             "--start-seq-any", "--timeout-ms", 20000)
            play.wait_for(r"^connected to ", timeout=10)
            s = self.wait_sessions(fwd, 2)
            self.assertEqual(sorted(x["vip"] for x in s["sessions"]),
                             sorted([f"{VIP4}:{SRT_PORT}", f"{VIP6}:{SRT_PORT}"]), s)
            pub.terminate()
            play.terminate()
            self.wait_sessions(fwd, 0, timeout=15)
            self.assertEqual(self.stop_fwd(fwd)["srt"]["established"], 2)

    # -- 2 ---------------------------------------------------------------------------

    def test_2_announced_vip(self):
        """announce_vips = true: the caller reaches the VIPs on-link; ARP, NDP
        and ICMP echo are answered for them, and the sessions relay as above."""
        with self.lab(ipv6=True) as lab:
            f = lab.fwd()
            fwd = lab.srtfwd(lab.fwd_config(backends=[(ORIGIN_IPS[0], SRT_PORT)],
                                            port0_extra=[vips_line(VIP4, VIP6), "announce_vips = true"]))
            o = self.origin(lab, 1)
            ns = f.caller_ns
            lab.route_vip(VIP4, dev=f.caller_if, ns=ns)
            lab.route_vip(VIP6, dev=f.caller_if, ns=ns)
            self.assertTrue(lab.ping(ns, VIP4, timeout=2))
            self.assertTrue(lab.ping(ns, VIP6, timeout=2))
            self.assertTrue(lab.ping(ns, f.fwd_ip))
            mac = self.neigh_mac(lab, ns, f.fwd_ip)
            self.assertIsNotNone(mac)
            self.assertEqual(self.neigh_mac(lab, ns, VIP4), mac)
            self.assertEqual(self.neigh_mac(lab, ns, VIP6), mac)
            self.pair_through(lab, ns, VIP6, VIP4, "live/announced")
            o.wait_for(r"^close \S+ #!::r=live/announced,m=publish publish msgs=300 drops=0$", timeout=10)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 2)
            self.assertGreaterEqual(c["control"]["arp_replies_sent"], 1, c["control"])
            self.assertGreaterEqual(c["control"]["ndp_adverts_sent"], 1, c["control"])
            self.assertGreaterEqual(c["control"]["icmp_echo_replies"], 3, c["control"])

    # -- 3 ---------------------------------------------------------------------------

    def test_3_unconfigured_vip_is_not_for_us(self):
        """The same routed callers without the VIP configured: their handshakes
        never reach the control lcore, no session, each dropped as not_for_us."""
        with self.lab(ipv6=True) as lab:
            f = lab.fwd()
            fwd = lab.srtfwd(lab.fwd_config(backends=[(ORIGIN_IPS[0], SRT_PORT)]))
            self.origin(lab, 1)
            ns = f.caller_ns
            lab.route_vip(VIP4, via=[f.fwd_ip], ns=ns)
            lab.route_vip(VIP6, via=[f.fwd_ip6], ns=ns)
            for dst in (VIP4, VIP6):
                r = lab.run_in(ns, [self.peer_bin, "publish", "--to", to(dst), "--streamid",
                                    pub_sid("live/none"), "--count", 10, "--connect-timeout-ms", 1500],
                               timeout=20)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertNotIn("connected to", r.stdout)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 0)
            # libsrt retransmits its INDUCTION every 250 ms: several per caller.
            self.assertGreaterEqual(c["dropped"]["not_for_us"], 4, c["dropped"])

    # -- 4 ---------------------------------------------------------------------------

    def test_4_router_spreads_a_vip_over_two_forwarders(self):
        """The router topology: callers behind a router whose static multipath
        route to the VIP names both forwarders' port addresses. Publishers with
        different source ports spread over both (each forwarder's counters show
        sessions), every stream arrives whole at the origin; with the route
        changed to one next hop, new callers all go to that forwarder."""
        with self.lab(router=True, forwarders=2) as lab:
            # One origin on every forwarder's origin link (netlab: the
            # router is the forwarders' first gateway).
            fwds = [lab.srtfwd(lab.fwd_config(i, backends=[(lab.fwd(i).origin_ip, SRT_PORT)],
                                              port0_extra=[vips_line(VIP4)]), fwd=i)
                    for i in range(2)]
            o = self.any_origin(lab)
            lab.route_vip(VIP4, via=[lab.fwd(0).fwd_ip, lab.fwd(1).fwd_ip])
            self.assertEqual(lab.vip_nexthops(VIP4), sorted([lab.fwd(0).fwd_ip, lab.fwd(1).fwd_ip]))
            caller = lab.callers[0]

            def established(i):
                return http_get(fwds[i], "/api/v1/sessions")["active"]

            pubs = []
            # Each publisher has its own source port: the router hashes it.
            while len(pubs) < 16 and (len(pubs) < 4 or min(established(0), established(1)) == 0):
                k = len(pubs)
                p = self.peer(lab, caller.ns, "publish", pub_sid(f"live/s{k}"), VIP4, "--count", 200,
                              "--rate", 100, name=f"pub-s{k}")
                p.wait_for(r"^connected to ", timeout=10)
                pubs.append(p)
                deadline = time.monotonic() + 5
                while established(0) + established(1) < len(pubs) and time.monotonic() < deadline:
                    time.sleep(0.05)
            per_fwd = [established(0), established(1)]
            self.assertGreaterEqual(min(per_fwd), 1, per_fwd)
            self.assertEqual(sum(per_fwd), len(pubs))
            for k, p in enumerate(pubs):
                self.assertIn("sent 200/200", self.wait_ok(p, 40))
                o.wait_for(rf"^close \S+ #!::r=live/s{k},m=publish publish msgs=200 drops=0$", timeout=10)
            for f in fwds:
                self.wait_sessions(f, 0)
            # One next hop left: the new callers all reach forwarder 1.
            lab.route_vip(VIP4, via=[lab.fwd(1).fwd_ip])
            self.assertEqual(lab.vip_nexthops(VIP4), [lab.fwd(1).fwd_ip])
            late = [self.peer(lab, caller.ns, "publish", pub_sid(f"live/late{k}"), VIP4, "--count", 100,
                              "--rate", 100, name=f"pub-late{k}") for k in range(3)]
            for p in late:
                self.assertIn("sent 100/100", self.wait_ok(p, 40))
            counts = [self.stop_fwd(f)["srt"]["established"] for f in fwds]
            self.assertEqual(counts, [per_fwd[0], per_fwd[1] + 3])


if __name__ == "__main__":
    unittest.main(verbosity=2)

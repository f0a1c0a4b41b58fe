"""pcap replay tests of [[port]] vips through the real worker: a session keyed
caller -> VIP (an address of port 0 that is not its own) is forwarded on the
IPv4 fast path (untagged and priority-tagged) and on the generic path
(IPv6), its packets toward the caller leaving from the VIP; ARP, NDP and ICMP
echo answer for a VIP only with announce_vips = true; without the VIP in the
configuration the same frames are dropped as not_for_us, session or not.

Env as test_replay.py."""

import os
import sys
import unittest

from scapy.all import ARP, ICMP, IP, UDP, Ether, IPv6, Raw  # type: ignore
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA,  # type: ignore
                                ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_replay as tr  # noqa: E402

VIPX, VIPX6 = "198.18.200.1", "2001:db8::200"
OTHER, OTHER6 = "198.18.200.9", "2001:db8::209"  # on the port's link, nobody's
VIPS = f'vips = ["{VIPX}", "{VIPX6}"]'

SESSION4 = (f"caller={tr.CALLER}:{tr.CPORT} vip={VIPX}:{tr.VPORT} backend={tr.BACKEND}:{tr.BPORT} "
            f"leg={tr.LEG}:{tr.LPORT} caller_mac={tr.CALLER_MAC} backend_mac={tr.BACKEND_MAC}")
SESSION6 = (f"caller=[{tr.CALLER6}]:{tr.CPORT} vip=[{VIPX6}]:{tr.VPORT} backend=[{tr.BACKEND6}]:{tr.BPORT} "
            f"leg=[{tr.LEG6}]:{tr.LPORT} caller_mac={tr.CALLER_MAC} backend_mac={tr.BACKEND_MAC}")


def to_caller_from_vip(frame):
    """What srtfwd must send toward the caller for a backend frame: the
    rewrite test_replay expects, with the VIP as source (checksums
    recomputed from scratch)."""
    p = Ether(tr.expected_rewrite(frame, to_backend=False))
    if IP in p:
        p[IP].src = VIPX
        del p[IP].chksum
        if p[UDP].chksum != 0:
            del p[UDP].chksum
    else:
        p[IPv6].src = VIPX6
        del p[UDP].chksum
    return bytes(p)


class ReplayVip(unittest.TestCase):
    setUp = tr.Replay.setUp
    tearDown = tr.Replay.tearDown
    run_testbed = tr.Replay.run_testbed
    assert_forwarded = tr.Replay.assert_forwarded

    def traffic(self):
        up = tr.caller_traffic("streamid-publish.pcap")[:40]
        down = tr.listener_traffic("streamid-publish.pcap")[:10]
        self.assertGreater(len(up), 30)
        self.assertGreater(len(down), 5)
        # IPv4 untagged and priority-tagged (the fast classifier's two
        # layouts), IPv6 (the generic path).
        in0 = [tr.caller4(p, dst=VIPX, **({"vlan": 0, "prio": 3} if i % 3 == 1 else {}))
               for i, p in enumerate(up)]
        in0 += [tr.caller6(p, dst=VIPX6) for p in up[:10]]
        in1 = [tr.backend4(p) for p in down] + [tr.backend6(p) for p in down]
        return in0, in1

    def test_sessions_to_a_vip_forwarded_both_ways(self):
        in0, in1 = self.traffic()
        # Beside them, a packet to an address of the link that is no VIP.
        foreign = [tr.caller4(in0[0][Raw].load, dst=OTHER), tr.caller6(in0[0][Raw].load, dst=OTHER6)]
        r = self.run_testbed(in0 + foreign, in1, sessions=(SESSION4, SESSION6), extra0=VIPS)
        self.assertEqual(r.c["forwarded"], len(in0) + len(in1))
        self.assertEqual(r.c["dropped"]["not_for_us"], 2, r.c["dropped"])
        self.assertEqual(sum(r.c["dropped"].values()), 2, r.c["dropped"])
        self.assertEqual(r.c["to_control"], 0)
        # Toward the origin: the usual rewrite (the VIP only in the key).
        self.assert_forwarded(in0, r.out1, to_backend=True)
        # Toward the caller: from the VIP.
        self.assertEqual(len(r.out0), len(in1))
        for n, (src, out) in enumerate(zip(in1, r.out0)):
            self.assertEqual(bytes(out), to_caller_from_vip(src), f"frame {n}:\n{out.show(dump=True)}")
            self.assertTrue(tr.checksums_ok(out))

    def test_without_the_vip_configured_its_frames_are_not_for_us(self):
        """The same sessions installed, the VIPs not in the configuration: the
        classifier drops every frame to them before any lookup."""
        in0, in1 = self.traffic()
        r = self.run_testbed(in0, in1, sessions=(SESSION4, SESSION6))
        self.assertEqual(r.c["dropped"]["not_for_us"], len(in0), r.c["dropped"])
        self.assertEqual(r.c["forwarded"], len(in1))  # the origin's side is its own port's

    def neighbour_frames(self):
        bcast = "ff:ff:ff:ff:ff:ff"
        return [
            Ether(src=tr.CALLER_MAC, dst=bcast) / ARP(op=1, hwsrc=tr.CALLER_MAC, psrc=tr.CALLER, pdst=VIPX),
            Ether(src=tr.CALLER_MAC, dst=tr.PORT0_MAC) / IP(src=tr.CALLER, dst=VIPX) / ICMP(id=7, seq=3) /
            Raw(b"ping-vip"),
            Ether(src=tr.CALLER_MAC, dst=tr.PORT0_MAC) / IPv6(src=tr.CALLER6, dst=VIPX6) /
            ICMPv6EchoRequest(id=9, seq=1, data=b"ping6-vip"),
            Ether(src=tr.CALLER_MAC, dst="33:33:ff:00:02:00") / IPv6(src=tr.CALLER6, dst="ff02::1:ff00:200", hlim=255) /
            ICMPv6ND_NS(tgt=VIPX6) / ICMPv6NDOptSrcLLAddr(lladdr=tr.CALLER_MAC),
        ]

    def test_vip_neighbours_not_announced_by_default(self):
        r = self.run_testbed(self.neighbour_frames(), None, sessions=(), extra0=VIPS)
        self.assertEqual(r.out0, [], [p.summary() for p in r.out0])
        ctl = r.c["control"]
        self.assertEqual((ctl["arp_replies_sent"], ctl["icmp_echo_replies"], ctl["ndp_adverts_sent"]),
                         (0, 0, 0), ctl)
        self.assertEqual((ctl["arp_ignored"], ctl["icmp_ignored"], ctl["ndp_ignored"]), (1, 2, 1), ctl)

    def test_vip_neighbours_announced(self):
        r = self.run_testbed(self.neighbour_frames(), None, sessions=(),
                             extra0=VIPS + "\nannounce_vips = true")
        summary = [p.summary() for p in r.out0]
        self.assertEqual(len(r.out0), 4, summary)
        a = next(p for p in r.out0 if ARP in p)
        self.assertEqual((a[ARP].op, a[ARP].hwsrc, a[ARP].psrc, a[ARP].pdst),
                         (2, tr.PORT0_MAC, VIPX, tr.CALLER))
        e = next(p for p in r.out0 if ICMP in p)
        self.assertEqual((e[IP].src, e[IP].dst, e[ICMP].type), (VIPX, tr.CALLER, 0))
        self.assertEqual(bytes(e[ICMP].payload), b"ping-vip")
        self.assertTrue(tr.checksums_ok(e))
        e6 = next(p for p in r.out0 if ICMPv6EchoReply in p)
        self.assertEqual((e6[IPv6].src, e6[ICMPv6EchoReply].data), (VIPX6, b"ping6-vip"))
        self.assertTrue(tr.checksums_ok(e6))
        na = next(p for p in r.out0 if ICMPv6ND_NA in p)
        self.assertEqual((na[IPv6].src, na[ICMPv6ND_NA].tgt), (VIPX6, VIPX6))
        self.assertTrue(tr.checksums_ok(na))
        ctl = r.c["control"]
        self.assertEqual((ctl["arp_replies_sent"], ctl["icmp_echo_replies"], ctl["ndp_adverts_sent"]),
                         (1, 2, 1), ctl)


if __name__ == "__main__":
    unittest.main(verbosity=2)

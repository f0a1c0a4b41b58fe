"""pcap replay tests of translated sessions (IPv4 <-> IPv6, net/xlat.h),
through the real process as test_replay.py runs it (its topology, helpers and
per-run checks): a caller of one family whose origin is of the other. Every
output frame is compared byte for byte with the frame scapy builds for it
(checksums computed from scratch), and field by field.

Sessions, besides test_replay.py's two same-family ones:
  6->4: caller [2001:db8::3]:5001 -> VIP [2001:db8::1]:10080,
        leg 198.18.1.1:20001 -> origin 198.18.1.3:10080
  4->6: caller 198.18.0.3:5001 -> VIP 198.18.0.1:10080,
        leg [2001:db8:1::1]:20001 -> origin [2001:db8:1::3]:10080"""

import os
import sys
import unittest

from scapy.all import IP, UDP, Dot1Q, Ether, IPv6, Padding, Raw  # type: ignore

sys.path.insert(0, os.path.dirname(__file__))
import test_replay as tr  # noqa: E402

CALLER6X, BACKEND4X = "2001:db8::3", "198.18.1.3"
CALLER4X, BACKEND6X = "198.18.0.3", "2001:db8:1::3"
XCPORT, XLPORT = 5001, 20001
SESSION64 = (f"caller=[{CALLER6X}]:{XCPORT} vip=[{tr.VIP6}]:{tr.VPORT} backend={BACKEND4X}:{tr.BPORT} "
             f"leg={tr.LEG}:{XLPORT} caller_mac={tr.CALLER_MAC} backend_mac={tr.BACKEND_MAC}")
SESSION46 = (f"caller={CALLER4X}:{XCPORT} vip={tr.VIP}:{tr.VPORT} backend=[{BACKEND6X}]:{tr.BPORT} "
             f"leg=[{tr.LEG6}]:{XLPORT} caller_mac={tr.CALLER_MAC} backend_mac={tr.BACKEND_MAC}")
SESSIONS = (tr.SESSION4, tr.SESSION6, SESSION64, SESSION46)


def ip_layer(src, dst, ttl, tos):
    if ":" in src:
        return IPv6(src=src, dst=dst, hlim=ttl, tc=tos, fl=0)
    return IP(src=src, dst=dst, ttl=ttl, tos=tos, id=0x4242, flags=0)


def frame(src_mac, dst_mac, src, dst, sport, dport, payload, ttl=64, tos=0, vlan=None, nocsum=False):
    f = tr.l2(src_mac, dst_mac, vlan) / ip_layer(src, dst, ttl, tos) / UDP(sport=sport, dport=dport) / Raw(payload)
    if nocsum:
        f[UDP].chksum = 0
        f = Ether(bytes(f))
    return f


def up6(p, **kw):  # v6 caller -> v4 origin
    return frame(tr.CALLER_MAC, tr.PORT0_MAC, CALLER6X, tr.VIP6, XCPORT, tr.VPORT, p, **kw)


def down4(p, **kw):  # v4 origin -> leg, to the v6 caller
    return frame(tr.BACKEND_MAC, tr.PORT1_MAC, BACKEND4X, tr.LEG, tr.BPORT, XLPORT, p, **kw)


def up4(p, **kw):  # v4 caller -> v6 origin
    return frame(tr.CALLER_MAC, tr.PORT0_MAC, CALLER4X, tr.VIP, XCPORT, tr.VPORT, p, **kw)


def down6(p, **kw):  # v6 origin -> leg, to the v4 caller
    return frame(tr.BACKEND_MAC, tr.PORT1_MAC, BACKEND6X, tr.LEG6, tr.BPORT, XLPORT, p, **kw)


# Where each input's translation goes: (src MAC, dst MAC, src, dst, sport, dport).
TO = {
    "up6": (tr.PORT1_MAC, tr.BACKEND_MAC, tr.LEG, BACKEND4X, XLPORT, tr.BPORT),
    "down4": (tr.PORT0_MAC, tr.CALLER_MAC, tr.VIP6, CALLER6X, tr.VPORT, XCPORT),
    "up4": (tr.PORT1_MAC, tr.BACKEND_MAC, tr.LEG6, BACKEND6X, XLPORT, tr.BPORT),
    "down6": (tr.PORT0_MAC, tr.CALLER_MAC, tr.VIP, CALLER4X, tr.VPORT, XCPORT),
}


def expected_xlat(src_frame, to):
    """The translated frame, built by scapy from scratch: the other family's
    header (TOS <-> traffic class, TTL - 1 <-> hop limit - 1, flow label 0,
    IPv4 ID 0 with DF), new MACs, addresses and ports, the VLAN tag and
    payload as received, both checksums computed by scapy."""
    s = Ether(bytes(src_frame))
    smac, dmac, src, dst, sport, dport = to
    if IP in s:
        ttl, tos = s[IP].ttl, s[IP].tos
    else:
        ttl, tos = s[IPv6].hlim, s[IPv6].tc
    payload = bytes(s[UDP].payload)
    if Padding in s:
        payload = payload[:len(payload) - len(bytes(s[Padding]))]
    if ":" in dst:
        ip = IPv6(src=src, dst=dst, hlim=ttl - 1, tc=tos, fl=0)
    else:
        ip = IP(src=src, dst=dst, ttl=ttl - 1, tos=tos, id=0, flags="DF")
    # The test's ports are untagged: a frame leaves untagged whatever it came
    # with (a priority tag, VID 0, is the only tag such a port takes).
    l2 = Ether(src=smac, dst=dmac)
    return bytes(l2 / ip / UDP(sport=sport, dport=dport) / Raw(payload))


class ReplayXlat(unittest.TestCase):
    # test_replay.Replay's run and checks, not its tests.
    setUp = tr.Replay.setUp
    tearDown = tr.Replay.tearDown
    run_testbed = tr.Replay.run_testbed
    assert_forwarded = tr.Replay.assert_forwarded

    def assert_translated(self, ins, outs, to):
        self.assertEqual(len(outs), len(ins), [o.summary() for o in outs[:5]])
        smac, dmac, src, dst, sport, dport = to
        for n, (i, out) in enumerate(zip(ins, outs)):
            got, want = bytes(out), expected_xlat(i, to)
            if got != want:
                self.fail(f"frame {n} differs:\ngot:\n{Ether(got).show(dump=True)}\n"
                          f"want:\n{Ether(want).show(dump=True)}")
            # Field by field, independently of expected_xlat.
            s, o = Ether(bytes(i)), Ether(got)
            self.assertEqual((o.src, o.dst), (smac, dmac))
            if ":" in dst:
                self.assertNotIn(IP, o)
                self.assertEqual((o[IPv6].src, o[IPv6].dst, o[IPv6].nh), (src, dst, 17))
                self.assertEqual((o[IPv6].hlim, o[IPv6].tc, o[IPv6].fl), (s[IP].ttl - 1, s[IP].tos, 0))
                self.assertEqual(o[IPv6].plen, s[UDP].len)
            else:
                self.assertNotIn(IPv6, o)
                self.assertEqual((o[IP].src, o[IP].dst, o[IP].proto, o[IP].ihl), (src, dst, 17, 5))
                self.assertEqual((o[IP].ttl, o[IP].tos), (s[IPv6].hlim - 1, s[IPv6].tc))
                self.assertEqual((o[IP].id, int(o[IP].flags), o[IP].frag), (0, 2, 0))  # DF
                self.assertEqual(o[IP].len, 20 + s[UDP].len)
            self.assertEqual((o[UDP].sport, o[UDP].dport, o[UDP].len), (sport, dport, s[UDP].len))
            self.assertEqual(bytes(o[UDP].payload)[:s[UDP].len - 8], bytes(s[UDP].payload)[:s[UDP].len - 8])
            self.assertNotEqual(o[UDP].chksum, 0)
            self.assertTrue(tr.checksums_ok(o), o.show(dump=True))

    def both_ways(self, v6_caller):
        up = tr.caller_traffic("streamid-publish.pcap") + tr.caller_traffic("encrypted.pcap")
        down = tr.listener_traffic("streamid-publish.pcap") + tr.listener_traffic("encrypted.pcap")
        mk_up, mk_down = (up6, down4) if v6_caller else (up4, down6)
        # Varied TTLs and traffic classes (DSCP and ECN), every third
        # priority-tagged (VID 0: stripped on the way out).
        in0 = [mk_up(p, ttl=2 + i % 200, tos=(i * 37) & 0xFF, **({"vlan": 0} if i % 3 == 1 else {}))
               for i, p in enumerate(up)]
        in1 = [mk_down(p, ttl=64 - i % 50, tos=0xB8 if i % 2 else 0x01) for i, p in enumerate(down)]
        if not v6_caller:
            # An IPv4 datagram without a UDP checksum gets one in IPv6.
            in0.append(mk_up(up[2], nocsum=True))
        else:
            in1.append(mk_down(down[0], nocsum=True))
        # Interleaved with the same-family sessions' packets: each keeps its own fate.
        in0 += [tr.caller4(up[0]), tr.caller6(up[1])]
        r = self.run_testbed(in0, in1, sessions=SESSIONS)
        xl_up = in0[:-2]
        self.assert_translated(xl_up, r.out1[:len(xl_up)], TO["up6" if v6_caller else "up4"])
        self.assert_translated(in1, r.out0, TO["down4" if v6_caller else "down6"])
        self.assert_forwarded(in0[-2:], r.out1[len(xl_up):], to_backend=True)
        self.assertEqual(r.c["forwarded"], len(in0) + len(in1), r.c)
        self.assertEqual(sum(r.c["dropped"].values()), 0, r.c)
        self.assertEqual(r.c["to_control"], 0, r.c)
        # forwarded_bytes counts the frames as sent: 20 bytes more or less
        # each, and 4 fewer for each priority tag stripped.
        grow = 20 if not v6_caller else -20
        stripped = sum(1 for f in in0 + in1 if Dot1Q in f)
        self.assertEqual(r.c["forwarded_bytes"],
                         sum(len(bytes(f)) for f in in0 + in1) + grow * len(xl_up) - grow * len(in1)
                         - 4 * stripped, r.c)

    def test_ipv6_caller_ipv4_origin_both_directions(self):
        self.both_ways(v6_caller=True)

    def test_ipv4_caller_ipv6_origin_both_directions(self):
        self.both_ways(v6_caller=False)

    def test_ttl_expired_and_handshake_on_translated_session(self):
        """TTL / hop limit 1 and 0 are dropped as ttl_expired; a CONCLUSION
        on a live translated session goes to control, not to the origin; a
        SHUTDOWN is forwarded (translated) and reported."""
        data = [p for p in tr.caller_traffic("streamid-publish.pcap") if tr.srt_kind(p) == "data"][:4]
        concl = [pl for up, k, pl in tr.srt_capture("streamid-publish.pcap") if up and k == "handshake"][-1]
        shut = bytes([0x80, 0x05]) + bytes(14)
        in0 = [up6(data[0]), up6(data[1], ttl=1), up6(data[2], ttl=0), up6(concl), up6(data[3]),
               up4(data[0]), up4(data[1], ttl=1), up4(concl), up4(data[2]), up4(shut)]
        r = self.run_testbed(in0, None, sessions=SESSIONS)
        self.assertEqual(r.c["dropped"]["ttl_expired"], 3, r.c)
        self.assertEqual(r.c["to_control"], 2, r.c)
        self.assertEqual(r.c["session_events"], 1, r.c)
        fwd6 = [in0[0], in0[4]]
        fwd4 = [in0[5], in0[8], in0[9]]
        outs = [o for o in r.out1 if UDP in o and o[UDP].sport == XLPORT]
        self.assert_translated(fwd6, [o for o in outs if IP in o], TO["up6"])
        self.assert_translated(fwd4, [o for o in outs if IPv6 in o], TO["up4"])
        self.assertEqual(r.c["forwarded"], len(fwd6) + len(fwd4), r.c)


if __name__ == "__main__":
    if not tr.TESTBED:
        print("SRTFWD_TESTBED not set", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)

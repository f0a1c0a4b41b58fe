"""pcap replay tests of the second chance's hop (net/encap.h), through the
real process as test_replay.py runs it (its topology, helpers and per-run
checks).

The forwarding host: a hop entry (testbed --hop) for caller 198.18.0.3:5002
-> VIP 198.18.0.1:10080 whose session lives on 198.18.0.9: every packet of
that flow leaves on port 0 encapsulated (outer IPv4 198.18.0.1 -> 198.18.0.9,
UDP 50000 -> 19523, the inner packet unchanged). Without the entry the same
packets are dropped (no_session).

The owner (testbed --hop-port 19523, peers 198.18.0.0/24): a hop packet
from a peer is taken out and its inner packet relayed by the session it
names, byte for byte as if the caller had sent it here; from outside the
peers, garbled, without a session, or whose inner packet would hop again,
it is dropped and counted by reason."""

import os
import sys
import unittest

from scapy.all import IP, UDP, Ether, Raw  # type: ignore

sys.path.insert(0, os.path.dirname(__file__))
import test_replay as tr  # noqa: E402

HOP_CALLER, HOP_CPORT = "198.18.0.3", 5002
OWNER, OWNER_MAC, PEER_MAC = "198.18.0.9", "02:00:00:00:00:09", "02:00:00:00:00:0a"
HOP_PORT, ENTROPY_PORT = 19523, 50000
HOP = (f"caller={HOP_CALLER}:{HOP_CPORT} vip={tr.VIP}:{tr.VPORT} owner={OWNER} "
       f"owner_mac={OWNER_MAC} hop_port={HOP_PORT}")


def payloads(n=40):
    up = tr.caller_traffic("streamid-publish.pcap")
    return [p for p in up if tr.srt_kind(p) == "data"][:n]


def hop_caller(p):
    return tr.caller4(p, src=HOP_CALLER, sport=HOP_CPORT)


def encapsulated(inner, src=OWNER, dst=tr.VIP, src_mac=PEER_MAC, dport=HOP_PORT):
    """A hop packet as another host sends it to us (the owner)."""
    return (Ether(src=src_mac, dst=tr.PORT0_MAC) / IP(src=src, dst=dst, ttl=64, flags="DF", id=0) /
            UDP(sport=ENTROPY_PORT, dport=dport, chksum=0) / Raw(bytes(inner[IP])))


class HopReplay(unittest.TestCase):
    # test_replay.py's per-run checks, without its tests.
    setUp = tr.Replay.setUp
    tearDown = tr.Replay.tearDown
    run_testbed = tr.Replay.run_testbed
    assert_forwarded = tr.Replay.assert_forwarded

    def test_forwarding_host_encapsulates_every_packet_to_the_owner(self):
        ps = payloads()
        self.assertGreater(len(ps), 20)
        in0 = [hop_caller(p) for p in ps]
        # The ACKACK-sized packet padded to the Ethernet minimum: the padding
        # is not part of the inner packet.
        short = hop_caller(b"\x80\x06" + bytes(14))
        in0.append(Ether(bytes(short) + bytes(60 - len(bytes(short)))))
        r = self.run_testbed(in0, [], extra=["--hop", HOP])
        self.assertEqual(r.c["hopped"], len(in0), r.c)
        self.assertEqual(r.c["forwarded"], 0, r.c)
        self.assertEqual(len(r.out0), len(in0))
        for src, out in zip(in0, r.out0):
            s = Ether(bytes(src))
            inner = bytes(s[IP])[:s[IP].len]
            want = (Ether(src=tr.PORT0_MAC, dst=OWNER_MAC) /
                    IP(src=tr.VIP, dst=OWNER, ttl=64, flags="DF", id=0) /
                    UDP(sport=ENTROPY_PORT, dport=HOP_PORT, chksum=0) / Raw(inner))
            self.assertEqual(bytes(out), bytes(want), Ether(bytes(out)).show(dump=True))
            self.assertTrue(tr.checksums_ok(Ether(bytes(out))))
        # Without the hop entry: no session, dropped.
        r = self.run_testbed(in0, [])
        self.assertEqual(r.c["hopped"], 0, r.c)
        self.assertEqual(r.c["dropped"]["no_session"], len(in0), r.c)

    def test_owner_decapsulates_and_relays_as_its_own(self):
        ps = payloads()
        inner = [tr.caller4(p) for p in ps]  # the session SESSION4's caller
        in0 = [encapsulated(f) for f in inner]
        r = self.run_testbed(in0, [], extra=["--hop-port", str(HOP_PORT)])
        self.assertEqual(r.c["decapsulated"], len(in0), r.c)
        self.assertEqual(r.c["forwarded"], len(in0), r.c)
        self.assert_forwarded(inner, r.out1, to_backend=True)
        # Without taking hop packets, they are nobody's.
        r = self.run_testbed(in0, [])
        self.assertEqual((r.c["decapsulated"], r.c["forwarded"]), (0, 0), r.c)
        self.assertEqual(r.c["dropped"]["no_session"], len(in0), r.c)

    def test_owner_drops_what_it_must_not_take_by_reason(self):
        p = payloads(1)[0]
        in0 = [
            # From outside the peers (198.18.0.0/24).
            encapsulated(tr.caller4(p), src="198.18.1.7"),
            # The payload is not one IPv4 packet.
            Ether(src=PEER_MAC, dst=tr.PORT0_MAC) / IP(src=OWNER, dst=tr.VIP) /
            UDP(sport=ENTROPY_PORT, dport=HOP_PORT) / Raw(b"\x60" + bytes(40)),
            # A flow with no session here either.
            encapsulated(tr.caller4(p, sport=6000)),
            # A hop packet inside a hop packet: one hop at most.
            encapsulated(encapsulated(tr.caller4(p))),
            # An inner packet whose flow has a hop entry here: never hopped again.
            encapsulated(hop_caller(p)),
        ]
        r = self.run_testbed(in0, [], extra=["--hop-port", str(HOP_PORT), "--hop", HOP])
        d = r.c["dropped"]
        self.assertEqual((d["hop_unknown_peer"], d["hop_malformed"], d["hop_no_session"], d["hop_loop"]),
                         (1, 1, 1, 2), r.c)
        self.assertEqual((r.c["decapsulated"], r.c["forwarded"], r.c["hopped"]), (3, 0, 0), r.c)
        self.assertEqual(r.out0 + r.out1, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

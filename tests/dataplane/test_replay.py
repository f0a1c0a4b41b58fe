"""pcap replay tests of the data plane: the real process (srtfwd-testbed =
srtfwd + sessions installed through the control plane's internal API) with
net_pcap ports, fed recorded and crafted traffic, its output pcaps checked by
an independent decoder (scapy recomputes every checksum), its drop counters
read from the final counters it logs, and its mbuf pool checked at exit.

Topology: port 0 (caller side) 198.18.0.1/24 + 2001:db8:0::1/64,
port 1 (origin side) 198.18.1.1/24 + 2001:db8:1::1/64.
Env: SRTFWD_TESTBED (binary), SRTFWD_PCAPS (the project's pcaps/)."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw,  # type: ignore
                       rdpcap, wrpcap)
from scapy.layers.inet6 import IPv6ExtHdrDestOpt  # type: ignore

TESTBED = os.environ.get("SRTFWD_TESTBED", "")
PCAPS = os.environ.get("SRTFWD_PCAPS", os.path.join(os.path.dirname(__file__), "..", "..", "pcaps"))

CALLER_MAC, BACKEND_MAC = "02:00:00:00:00:02", "02:00:00:00:01:02"
PORT0_MAC, PORT1_MAC = "02:70:63:61:70:00", "02:70:63:61:70:01"  # net_pcap's MACs
VIP, LEG = "198.18.0.1", "198.18.1.1"
CALLER, BACKEND = "198.18.0.2", "198.18.1.2"
VIP6, LEG6, CALLER6, BACKEND6 = "2001:db8::1", "2001:db8:1::1", "2001:db8::2", "2001:db8:1::2"

CONFIG = """
[[port]]
ipv4 = "198.18.0.1/24"
ipv6 = "2001:db8::1/64"
[[port]]
ipv4 = "198.18.1.1/24"
ipv6 = "2001:db8:1::1/64"
[srt]
listen = [10080]
idle_timeout_ms = 60000
drain_timeout_ms = 0
[admin]
listen = ""
"""
SESSION4 = (f"caller={CALLER}:5000 vip={VIP}:10080 backend={BACKEND}:10080 leg={LEG}:20000 "
            f"caller_mac={CALLER_MAC} backend_mac={BACKEND_MAC}")
SESSION6 = (f"caller=[{CALLER6}]:5000 vip=[{VIP6}]:10080 backend=[{BACKEND6}]:10080 "
            f"leg=[{LEG6}]:20000 caller_mac={CALLER_MAC} backend_mac={BACKEND_MAC}")


def srt_payloads(pcap, from_port=None, to_port=None, limit=20):
    """UDP payloads of a real libsrt capture, filtered by source/destination port."""
    out = []
    for p in rdpcap(os.path.join(PCAPS, pcap)):
        if UDP not in p:
            continue
        if from_port is not None and p[UDP].sport != from_port:
            continue
        if to_port is not None and p[UDP].dport != to_port:
            continue
        out.append(bytes(p[UDP].payload))
    return out[:limit]


def checksums_ok(pkt):
    """Recompute IP and UDP/ICMP checksums with scapy and compare."""
    q = Ether(bytes(pkt))
    fresh = q.copy()
    layers = []
    if IP in fresh:
        layers.append(IP)
        del fresh[IP].chksum
    if UDP in fresh:
        layers.append(UDP)
        del fresh[UDP].chksum
    if ICMP in fresh:
        layers.append(ICMP)
        del fresh[ICMP].chksum
    fresh = Ether(bytes(fresh))
    for layer in layers:
        if layer is UDP and IP in q and q[UDP].chksum == 0:
            continue  # IPv4 UDP without checksum stays without
        if q[layer].chksum != fresh[layer].chksum:
            return False
    return True


class Run:
    """One testbed run over two input pcaps."""

    def __init__(self, in0, in1, sessions=(SESSION4, SESSION6)):
        self.dir = tempfile.mkdtemp(prefix="srtfwd-replay-")
        p = lambda n: os.path.join(self.dir, n)  # noqa: E731
        # An empty input still needs one frame: an LLDP-typed one, dropped
        # as unknown_ethertype.
        filler = [Ether(dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(bytes(46))]
        for name, frames in (("in0.pcap", in0 or filler), ("in1.pcap", in1 or filler)):
            # Raw frames keep truncated headers as they are (linktype 1: Ethernet).
            wrpcap(p(name), [Raw(bytes(f)) for f in frames], linktype=1)
        with open(p("t.toml"), "w") as f:
            f.write(CONFIG)
        argv = [TESTBED, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci",
                f"--file-prefix=replay{os.getpid()}",
                "--vdev", f"net_pcap0,rx_pcap={p('in0.pcap')},tx_pcap={p('out0.pcap')}",
                "--vdev", f"net_pcap1,rx_pcap={p('in1.pcap')},tx_pcap={p('out1.pcap')}",
                "--", "--config", p("t.toml"), "--log-level", "info"]
        for s in sessions:
            argv += ["--session", s]
        with open(p("log"), "w") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.time() + 30
                while "srtfwd ready" not in self.log():
                    if proc.poll() is not None or time.time() > deadline:
                        raise AssertionError("testbed did not start:\n" + self.log())
                    time.sleep(0.1)
                time.sleep(1.5)  # replay is done in microseconds; leave the control lcore time too
                proc.send_signal(signal.SIGTERM)
                self.rc = proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        self.out0 = list(rdpcap(p("out0.pcap"))) if os.path.getsize(p("out0.pcap")) > 24 else []
        self.out1 = list(rdpcap(p("out1.pcap"))) if os.path.getsize(p("out1.pcap")) > 24 else []
        found = re.findall(r"final counters: (\{.*\})", self.log())
        self.c = json.loads(found[-1]) if found else None

    def log(self):
        with open(os.path.join(self.dir, "log")) as f:
            return f.read()


def caller4(payload, vlan=None, **ip):
    l2 = Ether(src=CALLER_MAC, dst=PORT0_MAC)
    if vlan is not None:
        l2 = l2 / Dot1Q(vlan=vlan)
    ip.setdefault("ttl", 64)
    return l2 / IP(src=CALLER, dst=VIP, **ip) / UDP(sport=5000, dport=10080) / Raw(payload)


def backend4(payload, vlan=None):
    l2 = Ether(src=BACKEND_MAC, dst=PORT1_MAC)
    if vlan is not None:
        l2 = l2 / Dot1Q(vlan=vlan)
    return l2 / IP(src=BACKEND, dst=LEG, ttl=64) / UDP(sport=10080, dport=20000) / Raw(payload)


class Replay(unittest.TestCase):
    def assert_clean_exit(self, r):
        self.assertEqual(r.rc, 0, r.log()[-3000:])
        self.assertIn("mbufs in use at exit: 0", r.log())
        c = r.c
        self.assertIsNotNone(c)
        # Conservation: every packet received has exactly one fate.
        self.assertEqual(c["rx_packets"], c["forwarded"] + c["to_control"] + sum(c["dropped"].values()), c)
        self.assertEqual(c["forwarded"] + c["control_tx"], c["tx_packets"] + c["tx_dropped"], c)

    def test_both_directions_real_srt_untagged_and_vlan(self):
        up = srt_payloads("streamid-publish.pcap", to_port=10080)[4:] + srt_payloads("encrypted.pcap", to_port=10080)[4:]
        down = srt_payloads("streamid-publish.pcap", from_port=10080)[2:] + srt_payloads("encrypted.pcap", from_port=10080)[2:]
        self.assertGreater(len(up), 10)
        self.assertGreater(len(down), 5)
        in0 = [caller4(p) for p in up] + [caller4(up[0], vlan=7)]
        in1 = [backend4(p) for p in down] + [backend4(down[0], vlan=9)]
        # IPv4 UDP without checksum stays without.
        nock = caller4(up[1])
        nock[UDP].chksum = 0
        in0.append(nock)
        r = Run(in0, in1)
        self.assert_clean_exit(r)
        self.assertEqual(len(r.out1), len(in0))
        self.assertEqual(len(r.out0), len(in1))
        for src, out in zip(in0, r.out1):
            self.assertEqual(out[Ether].src, PORT1_MAC)
            self.assertEqual(out[Ether].dst, BACKEND_MAC)
            self.assertEqual((out[IP].src, out[IP].dst), (LEG, BACKEND))
            self.assertEqual((out[UDP].sport, out[UDP].dport), (20000, 10080))
            self.assertEqual(out[IP].ttl, 63)
            self.assertEqual(bytes(out[UDP].payload), bytes(src[UDP].payload))
            self.assertEqual(Dot1Q in out, Dot1Q in src)
            if Dot1Q in src:
                self.assertEqual(out[Dot1Q].vlan, src[Dot1Q].vlan)
            self.assertTrue(checksums_ok(out), out.show(dump=True))
        self.assertEqual(r.out1[-1][UDP].chksum, 0)
        for src, out in zip(in1, r.out0):
            self.assertEqual((out[Ether].src, out[Ether].dst), (PORT0_MAC, CALLER_MAC))
            self.assertEqual((out[IP].src, out[IP].dst), (VIP, CALLER))
            self.assertEqual((out[UDP].sport, out[UDP].dport), (10080, 5000))
            self.assertEqual(out[IP].ttl, 63)
            self.assertEqual(bytes(out[UDP].payload), bytes(src[UDP].payload))
            self.assertTrue(checksums_ok(out))
        self.assertEqual(r.c["forwarded"], len(in0) + len(in1))

    def test_ipv6_both_directions(self):
        up = srt_payloads("ipv6.pcap", to_port=10080)[4:14]
        down = srt_payloads("ipv6.pcap", from_port=10080)[2:8]
        in0 = [Ether(src=CALLER_MAC, dst=PORT0_MAC) / IPv6(src=CALLER6, dst=VIP6, hlim=64) /
               UDP(sport=5000, dport=10080) / Raw(p) for p in up]
        in1 = [Ether(src=BACKEND_MAC, dst=PORT1_MAC) / IPv6(src=BACKEND6, dst=LEG6, hlim=64) /
               UDP(sport=10080, dport=20000) / Raw(p) for p in down]
        r = Run(in0, in1)
        self.assert_clean_exit(r)
        self.assertEqual(len(r.out1), len(in0))
        self.assertEqual(len(r.out0), len(in1))
        for src, out in zip(in0, r.out1):
            self.assertEqual((out[IPv6].src, out[IPv6].dst), (LEG6, BACKEND6))
            self.assertEqual(out[IPv6].hlim, 63)
            self.assertEqual(bytes(out[UDP].payload), bytes(src[UDP].payload))
            q = out.copy()
            ck = q[UDP].chksum
            del q[UDP].chksum
            self.assertEqual(Ether(bytes(q))[UDP].chksum, ck)
        for out in r.out0:
            self.assertEqual((out[IPv6].src, out[IPv6].dst, out[UDP].dport), (VIP6, CALLER6, 5000))

    def test_malformed_and_foreign_dropped_and_counted(self):
        good = caller4(b"\x00" * 16 + b"data")
        raw = bytes(good)
        frames = [
            raw[:10],                                              # truncated Ethernet
            raw[:14 + 12],                                         # truncated IP
            raw[:14 + 20 + 4],                                     # truncated IP payload (IP length says more)
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP, ihl=4) / UDP(sport=5000, dport=10080),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP, len=1400) / UDP(sport=5000, dport=10080) / Raw(b"x" * 20),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP) / UDP(sport=5000, dport=10080, len=500) / Raw(b"x" * 20),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP) / TCP(sport=5000, dport=10080),
            caller4(b"\x00" * 20, ttl=1),                          # TTL expires
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst="198.18.0.77") / UDP(sport=5000, dport=10080) / Raw(b"x" * 20),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP) / UDP(sport=5001, dport=10080) / Raw(b"\x00" * 20),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / Dot1Q(vlan=1) / Dot1Q(vlan=2) / IP(src=CALLER, dst=VIP) / UDP(sport=5000, dport=10080),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IPv6(src="::ffff:198.18.0.2", dst=VIP6) / UDP(sport=5000, dport=10080) / Raw(b"x" * 20),
            Ether(src=CALLER_MAC, dst=PORT0_MAC, type=0x88B5) / Raw(b"x" * 50),
        ]
        # Fragments, IPv4 options, IPv6 extension headers: to the slow path, never rewritten.
        slow = [
            caller4(b"\x00" * 40, flags="MF"),
            caller4(b"\x00" * 40, frag=10),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP, options=b"\x94\x04\x00\x00") / UDP(sport=5000, dport=10080) / Raw(b"x" * 20),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IPv6(src=CALLER6, dst=VIP6) / IPv6ExtHdrDestOpt() / UDP(sport=5000, dport=10080) / Raw(b"x" * 20),
        ]
        r = Run(frames + slow, None)
        self.assert_clean_exit(r)
        self.assertEqual(r.out1, [], "a malformed or foreign packet was forwarded")
        self.assertEqual([p for p in r.out0 if UDP in p], [])
        d = r.c["dropped"]
        expect = {"truncated_eth": 1, "truncated_ip": 1, "bad_ip_length": 2, "bad_ihl": 1,
                  "bad_udp_length": 1, "not_udp": 1, "ttl_expired": 1, "not_for_us": 1,
                  "no_session": 1, "stacked_vlan": 1, "v4_mapped_ipv6": 1,
                  "unknown_ethertype": 2}  # + the filler of port 1
        for k, v in expect.items():
            self.assertEqual(d[k], v, f"{k}: {d}")
        self.assertEqual(r.c["forwarded"], 0)
        self.assertEqual(r.c["to_control"], len(slow))
        self.assertEqual(r.c["control"]["fragments_dropped"], 2)
        self.assertEqual(r.c["control"]["ip_options_dropped"], 2)

    def test_arp_and_icmp_answered(self):
        in0 = [
            Ether(src=CALLER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CALLER_MAC, psrc=CALLER, pdst=VIP),
            Ether(src=CALLER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CALLER_MAC, psrc=CALLER, pdst="198.18.0.50"),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP) / ICMP(id=7, seq=3) / Raw(b"ping-data"),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst="198.18.0.60") / ICMP(id=7, seq=4),
        ]
        r = Run(in0, None)
        self.assert_clean_exit(r)
        arps = [p for p in r.out0 if ARP in p]
        self.assertEqual(len(arps), 1, [p.summary() for p in r.out0])
        a = arps[0]
        self.assertEqual((a[ARP].op, a[ARP].hwsrc, a[ARP].psrc, a[ARP].hwdst, a[ARP].pdst),
                         (2, PORT0_MAC, VIP, CALLER_MAC, CALLER))
        self.assertEqual(a[Ether].dst, CALLER_MAC)
        icmps = [p for p in r.out0 if ICMP in p]
        self.assertEqual(len(icmps), 1)
        e = icmps[0]
        self.assertEqual((e[ICMP].type, e[ICMP].id, e[ICMP].seq), (0, 7, 3))
        self.assertEqual((e[IP].src, e[IP].dst), (VIP, CALLER))
        self.assertEqual(bytes(e[ICMP].payload), b"ping-data")
        self.assertTrue(checksums_ok(e))
        self.assertEqual(r.c["control"]["arp_replies_sent"], 1)
        self.assertEqual(r.c["control"]["icmp_echo_replies"], 1)
        self.assertEqual(r.c["control"]["icmp_ignored"], 1)

    def test_shutdown_forwarded_and_reported(self):
        shutdown = bytes.fromhex("80050000" "00000000" "00001000" "00001234")
        r = Run([caller4(b"\x00" * 16 + b"x"), caller4(shutdown)], None)
        self.assert_clean_exit(r)
        self.assertEqual(len(r.out1), 2)
        self.assertEqual(bytes(r.out1[1][UDP].payload), shutdown)
        self.assertEqual(r.c["session_events"], 1)
        # The session ends after the grace period (200 ms < the 1.5 s run).
        self.assertEqual(r.c["control"]["sessions_ended_shutdown"], 1)

    def test_handshake_without_session_goes_to_control(self):
        ind = [p for p in srt_payloads("plain.pcap", to_port=10080) if p[:2] == b"\x80\x00"][0]
        hs = Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src="198.18.0.3", dst=VIP) / UDP(sport=6000, dport=10080) / Raw(ind)
        r = Run([hs], None)
        self.assert_clean_exit(r)
        self.assertEqual(r.c["to_control"], 1)  # the filler on port 1 is dropped, not sent up
        self.assertEqual(r.c["srt"]["inductions"], 1)  # answered by the handshake relay
        answers = [p for p in r.out0 if UDP in p]
        self.assertEqual(len(answers), 1)
        self.assertEqual((answers[0][IP].dst, answers[0][UDP].dport), ("198.18.0.3", 6000))
        self.assertTrue(checksums_ok(answers[0]))


if __name__ == "__main__":
    if not TESTBED:
        print("SRTFWD_TESTBED not set", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)

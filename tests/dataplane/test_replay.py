"""pcap replay tests of the data plane: the real process (srtfwd-testbed =
srtfwd + sessions installed through the control plane's internal API) with
net_pcap ports, fed recorded and crafted traffic, its output pcaps checked by
an independent decoder (scapy recomputes every checksum and builds the
expected frame byte for byte), its drop counters read from the final counters
it logs, and its mbuf pool and exit code checked at the end of every run.

Topology: port 0 (caller side) 198.18.0.1/24 + 2001:db8::1/64,
port 1 (origin side) 198.18.1.1/24 + 2001:db8:1::1/64, both untagged unless
a test gives them a VLAN (802.1Q: an untagged port takes untagged and
priority-tagged frames and sends untagged ones). Two sessions are
installed in every run: caller 198.18.0.2:5000 -> VIP :10080 -> leg
198.18.1.1:20000 -> backend 198.18.1.2:10080, and the same in IPv6.
SRT payloads are real libsrt packets from pcaps/ (streamid-publish.pcap,
encrypted.pcap), re-addressed to this topology with their UDP payload kept.

Env: SRTFWD_TESTBED (binary), SRTFWD_PCAPS (the project's pcaps/);
SRTFWD_KEEP_TMP=1 keeps every run's directory (pcaps, config, log)."""

import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1AD, Dot1Q, Ether, IPv6, Padding,  # type: ignore
                       Raw, rdpcap)
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA,  # type: ignore
                                ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr,
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment)

TESTBED = os.environ.get("SRTFWD_TESTBED", "")
PCAPS = os.environ.get("SRTFWD_PCAPS", os.path.join(os.path.dirname(__file__), "..", "..", "pcaps"))
KEEP_TMP = os.environ.get("SRTFWD_KEEP_TMP") == "1"

CALLER_MAC, BACKEND_MAC = "02:00:00:00:00:02", "02:00:00:00:01:02"
PORT0_MAC, PORT1_MAC = "02:70:63:61:70:00", "02:70:63:61:70:01"  # net_pcap's MACs
VIP, LEG = "198.18.0.1", "198.18.1.1"
CALLER, BACKEND = "198.18.0.2", "198.18.1.2"
VIP6, LEG6, CALLER6, BACKEND6 = "2001:db8::1", "2001:db8:1::1", "2001:db8::2", "2001:db8:1::2"
CPORT, VPORT, BPORT, LPORT = 5000, 10080, 10080, 20000

CONFIG = """
[[port]]
ipv4 = "198.18.0.1/24"
ipv6 = "2001:db8::1/64"
{vlan0}
{extra0}
[[port]]
ipv4 = "198.18.1.1/24"
ipv6 = "2001:db8:1::1/64"
{vlan1}
[srt]
listen = [10080]
idle_timeout_ms = 60000
shutdown_grace_ms = 200
drain_timeout_ms = 0
[admin]
listen = "{admin}"
"""


def config(vlans=(None, None), admin_port=0, extra0=""):
    """extra0: more lines for port 0's table."""
    return CONFIG.format(admin=f"127.0.0.1:{admin_port}" if admin_port else "", extra0=extra0,
                         **{f"vlan{i}": f"vlan = {v}" if v is not None else "" for i, v in enumerate(vlans)})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    """The admin API's /metrics as {name: value}, labelled samples summed
    and also kept under name{labels}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    m = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        m[key] = float(value)
        name = key.split("{", 1)[0]
        if name != key:
            m[name] = m.get(name, 0) + float(value)
    return m


def settled(m, frames):
    """Every frame of the input pcaps received and given its fate, everything
    handed to the control lcore taken by it, and every SHUTDOWN reported
    acted on (its session ended after the grace period, slots reclaimed)."""
    g = lambda k: m.get(k, 0)  # noqa: E731
    return (g("srtfwd_rx_packets_total") == frames and
            g("srtfwd_forwarded_packets_total") + g("srtfwd_to_control_packets_total") +
            g("srtfwd_hopped_packets_total") + g("srtfwd_dropped_packets_total") == frames and
            g("srtfwd_slow_path_packets_total") == g("srtfwd_to_control_packets_total") and
            g("srtfwd_session_events_total") == g('srtfwd_sessions_ended_total{reason="shutdown"}') +
            g("srtfwd_session_events_stale_total") and
            g('srtfwd_session_slots{state="retired"}') == 0)


SESSION4 = (f"caller={CALLER}:{CPORT} vip={VIP}:{VPORT} backend={BACKEND}:{BPORT} leg={LEG}:{LPORT} "
            f"caller_mac={CALLER_MAC} backend_mac={BACKEND_MAC}")
SESSION6 = (f"caller=[{CALLER6}]:{CPORT} vip=[{VIP6}]:{VPORT} backend=[{BACKEND6}]:{BPORT} "
            f"leg=[{LEG6}]:{LPORT} caller_mac={CALLER_MAC} backend_mac={BACKEND_MAC}")

# An input pcap must hold at least one frame: an LLDP-typed one, dropped as
# unknown_ethertype, fills an otherwise empty input.
FILLER = bytes(Ether(dst="01:80:c2:00:00:0e", src=CALLER_MAC, type=0x88CC) / Raw(bytes(46)))


# ---------------------------------------------------------------- real SRT traffic

def srt_kind(payload):
    """'data', 'handshake', 'ack', 'ackack', 'shutdown', 'ctlN'."""
    if not payload[0] & 0x80:
        return "data"
    t = ((payload[0] << 8) | payload[1]) & 0x7FFF
    return {0: "handshake", 2: "ack", 5: "shutdown", 6: "ackack"}.get(t, f"ctl{t}")


def srt_capture(pcap):
    """(from_caller, kind, payload) of every SRT packet of a real libsrt capture
    (the listener is on UDP 10080)."""
    out = []
    for p in rdpcap(os.path.join(PCAPS, pcap)):
        if UDP not in p:
            continue
        pl = bytes(p[UDP].payload)
        out.append((p[UDP].dport == 10080, srt_kind(pl), pl))
    return out


def caller_traffic(pcap):
    """Caller -> listener packets of an established session: data and ACKACK."""
    return [pl for up, k, pl in srt_capture(pcap) if up and k in ("data", "ackack")]


def listener_traffic(pcap):
    """Listener -> caller packets of an established session: ACKs."""
    return [pl for up, k, pl in srt_capture(pcap) if not up and k not in ("handshake",)]


def srt_packet(pcap, from_caller, kind):
    return next(pl for up, k, pl in srt_capture(pcap) if up == from_caller and k == kind)


# ---------------------------------------------------------------- frames

def l2(src, dst, vlan=None, prio=0):
    e = Ether(src=src, dst=dst)
    return e / Dot1Q(vlan=vlan, prio=prio) if vlan is not None else e


def caller4(payload, vlan=None, prio=0, sport=CPORT, dport=VPORT, src=CALLER, dst=VIP, **ip):
    ip.setdefault("ttl", 64)
    return (l2(CALLER_MAC, PORT0_MAC, vlan, prio) / IP(src=src, dst=dst, **ip) /
            UDP(sport=sport, dport=dport) / Raw(payload))


def backend4(payload, vlan=None, prio=0, sport=BPORT, dport=LPORT, **ip):
    ip.setdefault("ttl", 64)
    return (l2(BACKEND_MAC, PORT1_MAC, vlan, prio) / IP(src=BACKEND, dst=LEG, **ip) /
            UDP(sport=sport, dport=dport) / Raw(payload))


def caller6(payload, vlan=None, prio=0, sport=CPORT, dport=VPORT, src=CALLER6, dst=VIP6, hlim=64):
    return (l2(CALLER_MAC, PORT0_MAC, vlan, prio) / IPv6(src=src, dst=dst, hlim=hlim, tc=0x28, fl=0x12345) /
            UDP(sport=sport, dport=dport) / Raw(payload))


def backend6(payload, vlan=None, prio=0, hlim=64):
    return (l2(BACKEND_MAC, PORT1_MAC, vlan, prio) / IPv6(src=BACKEND6, dst=LEG6, hlim=hlim) /
            UDP(sport=BPORT, dport=LPORT) / Raw(payload))


def retagged(p, out_vlan):
    """p (an Ether) with the tag of an egress port on VLAN out_vlan (None:
    untagged): the tag stripped, inserted with priority 0, or its VID
    replaced with priority and DEI kept."""
    if out_vlan is None:
        if Dot1Q not in p:
            return p
        return Ether(src=p.src, dst=p.dst, type=p[Dot1Q].type) / p[Dot1Q].payload
    if Dot1Q in p:
        p[Dot1Q].vlan = out_vlan
        return p
    return Ether(src=p.src, dst=p.dst) / Dot1Q(vlan=out_vlan, prio=0, type=p.type) / p.payload


def expected_rewrite(frame, to_backend, out_vlan=None):
    """The frame srtfwd must send for `frame`, built by scapy: MACs, addresses,
    ports rewritten, TTL / hop limit minus one, the egress port's VLAN tag
    (out_vlan, None: untagged), everything else (802.1Q priority, TOS, IP
    ID, flow label, payload) unchanged, checksums recomputed from scratch
    (IPv4 UDP checksum 0 stays 0). Ethernet padding after the IP packet is
    carried over as it is."""
    raw = bytes(frame)
    p = Ether(raw)
    pad = bytes(p[Padding]) if Padding in p else b""
    if Padding in p:
        p[Padding].underlayer.remove_payload()
    p = retagged(p, out_vlan)
    p[Ether].src = PORT1_MAC if to_backend else PORT0_MAC
    p[Ether].dst = BACKEND_MAC if to_backend else CALLER_MAC
    if IP in p:
        p[IP].src, p[IP].dst = (LEG, BACKEND) if to_backend else (VIP, CALLER)
        p[IP].ttl -= 1
        del p[IP].chksum
    else:
        p[IPv6].src, p[IPv6].dst = (LEG6, BACKEND6) if to_backend else (VIP6, CALLER6)
        p[IPv6].hlim -= 1
    p[UDP].sport, p[UDP].dport = (LPORT, BPORT) if to_backend else (VPORT, CPORT)
    if not (IP in p and p[UDP].chksum == 0):
        del p[UDP].chksum
    return bytes(p) + pad


def checksums_ok(pkt):
    """True when every IPv4 header, UDP, ICMP and ICMPv6 checksum of pkt equals
    the one scapy computes from scratch (IPv4 UDP checksum 0 = none, allowed)."""
    q = Ether(bytes(pkt))
    fields = [(IP, "chksum"), (UDP, "chksum"), (ICMP, "chksum"),
              (ICMPv6EchoReply, "cksum"), (ICMPv6ND_NA, "cksum")]
    fresh = q.copy()
    for layer, name in fields:
        if layer in fresh:
            delattr(fresh[layer], name)
    fresh = Ether(bytes(fresh))
    for layer, name in fields:
        if layer not in q:
            continue
        if layer is UDP and IP in q and q[UDP].chksum == 0:
            continue
        if getattr(q[layer], name) != getattr(fresh[layer], name):
            return False
    return True


def with_udp_checksum(build, payload, at, want_out, to_backend):
    """Adjusts payload[at:at+2] (at even) so that the UDP checksum scapy computes
    for the rewritten frame (want_out=True) or for the input frame itself
    (want_out=False) is 0, i.e. sent as 0xFFFF: the one's-complement corner that
    an incremental update (RFC 1624) can get wrong."""
    assert at % 2 == 0
    p0 = payload[:at] + b"\x00\x00" + payload[at + 2:]
    f0 = build(p0)
    ck = Ether(expected_rewrite(f0, to_backend) if want_out else bytes(f0))[UDP].chksum
    # ck = ~S (S: one's-complement sum with the two bytes at 0); adding ck
    # to the sum makes it 0xFFFF, whose complement 0 is sent as 0xFFFF.
    p1 = payload[:at] + struct.pack(">H", ck) + payload[at + 2:]
    f1 = build(p1)
    check = Ether(expected_rewrite(f1, to_backend) if want_out else bytes(f1))
    assert check[UDP].chksum == 0xFFFF, hex(check[UDP].chksum)
    return f1


def write_pcap(path, frames):
    """Classic pcap, link type Ethernet, frames written byte for byte (so
    truncated headers stay truncated)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            b = bytes(fr)
            f.write(struct.pack("<IIII", 1, i, len(b), len(b)))
            f.write(b)


# ---------------------------------------------------------------- one run

_run_ids = itertools.count()


class Run:
    """One testbed run over two input pcaps: started, stopped with SIGTERM
    once its admin API's counters say every frame was handled (settled()).
    Never leaves a process behind."""

    def __init__(self, in0, in1, sessions=(SESSION4, SESSION6), vlans=(None, None), extra0="",
                 extra=()):
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="srtfwd-replay-")
        p = lambda n: os.path.join(self.dir, n)  # noqa: E731
        write_pcap(p("in0.pcap"), in0 or [FILLER])
        write_pcap(p("in1.pcap"), in1 or [FILLER])
        frames = len(in0 or [FILLER]) + len(in1 or [FILLER])
        admin_port = free_port()
        with open(p("t.toml"), "w") as f:
            f.write(config(vlans, admin_port, extra0))
        self.prefix = f"srtfwd-replay-{os.getpid()}-{next(_run_ids)}"
        argv = [TESTBED, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci",
                f"--file-prefix={self.prefix}",
                "--vdev", f"net_pcap0,rx_pcap={p('in0.pcap')},tx_pcap={p('out0.pcap')}",
                "--vdev", f"net_pcap1,rx_pcap={p('in1.pcap')},tx_pcap={p('out1.pcap')}",
                "--", "--config", p("t.toml"), "--log-level", "info"]
        for s in sessions:
            argv += ["--session", s]
        argv += list(extra)
        self.log_file = open(p("log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 30
            while "srtfwd ready" not in self.log():
                if self.proc.poll() is not None or time.time() > deadline:
                    raise AssertionError("testbed did not start:\n" + self.log()[-3000:])
                time.sleep(0.1)
            deadline = time.time() + 30
            while not settled(m := metrics(admin_port), frames):
                if self.proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"testbed did not settle: {m}\n" + self.log()[-3000:])
                time.sleep(0.02)
            self.proc.send_signal(signal.SIGTERM)
            self.rc = self.proc.wait(timeout=30)
        finally:
            self.kill()
        self.out0 = self.read("out0.pcap")
        self.out1 = self.read("out1.pcap")
        found = re.findall(r"final counters: (\{.*\})", self.log())
        self.c = json.loads(found[-1]) if found else None

    def read(self, name):
        path = os.path.join(self.dir, name)
        return list(rdpcap(path)) if os.path.exists(path) and os.path.getsize(path) > 24 else []

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log_file.closed:
            self.log_file.close()

    def cleanup(self):
        self.kill()
        # DPDK's runtime directory of this run's file prefix (root: /var/run/dpdk).
        runtime = "/var/run/dpdk" if os.geteuid() == 0 else \
            os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
        shutil.rmtree(os.path.join(runtime, self.prefix), ignore_errors=True)
        if not KEEP_TMP:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        with open(os.path.join(self.dir, "log")) as f:
            return f.read()


# ---------------------------------------------------------------- tests

class Replay(unittest.TestCase):
    def setUp(self):
        self.runs = []

    def tearDown(self):
        for r in self.runs:
            r.cleanup()

    def run_testbed(self, in0, in1, **kw):
        """Runs the testbed and checks what every run must satisfy: exit code
        0, no mbuf leaked, the conservation of packets."""
        r = Run(in0, in1, **kw)
        self.runs.append(r)
        self.assertEqual(r.rc, 0, r.log()[-3000:])
        self.assertIn("mbufs in use at exit: 0", r.log(), r.log()[-3000:])
        c = r.c
        self.assertIsNotNone(c, "no final counters in the log")
        # Every packet received has exactly one fate.
        self.assertEqual(c["rx_packets"], len(in0 or [FILLER]) + len(in1 or [FILLER]), c)
        self.assertEqual(c["rx_packets"],
                         c["forwarded"] + c["hopped"] + c["to_control"] + sum(c["dropped"].values()), c)
        self.assertEqual(c["forwarded"] + c["hopped"] + c["control_tx"], c["tx_packets"] + c["tx_dropped"], c)
        self.assertEqual(c["tx_dropped"], 0, c)
        # Everything handed to the control lcore was taken by it.
        self.assertEqual(c["control"]["slow_path_packets"], c["to_control"], c)
        self.assertEqual(c["dropped"]["control_ring_full"], 0, c)
        self.assertEqual(c["event_ring_full"], 0, c)  # no SHUTDOWN report lost
        self.assertEqual(c["control"]["sessions_installed"], len(kw.get("sessions", (SESSION4, SESSION6))), c)
        # What was sent is what the output pcaps hold.
        self.assertEqual(len(r.out0) + len(r.out1), c["tx_packets"], c)
        # The drivers' own counters (srtfwd_port_*) say the same, port by port.
        ports = {p["port"]: p for p in c["ports"]}
        self.assertEqual(sorted(ports), [0, 1], c["ports"])
        for n, (ins, outs) in enumerate(((in0 or [FILLER], r.out0), (in1 or [FILLER], r.out1))):
            got = ports[n]
            self.assertEqual((got["rx_packets"], got["rx_bytes"]),
                             (len(ins), sum(len(bytes(f)) for f in ins)), got)
            self.assertEqual((got["tx_packets"], got["tx_bytes"]),
                             (len(outs), sum(len(bytes(f)) for f in outs)), got)
            self.assertEqual((got["rx_missed"], got["rx_errors"], got["rx_nombuf"], got["tx_errors"]),
                             (0, 0, 0, 0), got)
        return r

    def assert_forwarded(self, ins, outs, to_backend, out_vlan=None):
        """outs are ins as forwarded onto a port on VLAN out_vlan (None:
        untagged)."""
        self.assertEqual(len(outs), len(ins), [o.summary() for o in outs[:5]])
        for n, (src, out) in enumerate(zip(ins, outs)):
            want = expected_rewrite(src, to_backend, out_vlan)
            got = bytes(out)
            if got != want:
                self.fail(f"frame {n} ({'to backend' if to_backend else 'to caller'}) differs:\n"
                          f"got:\n{Ether(got).show(dump=True)}\nwant:\n{Ether(want).show(dump=True)}")
            # The same again, field by field, for readable failures and as a
            # second check independent of expected_rewrite.
            s, o = Ether(bytes(src)), Ether(got)
            self.assertEqual((o.src, o.dst), (PORT1_MAC, BACKEND_MAC) if to_backend else (PORT0_MAC, CALLER_MAC))
            # The egress port's tag, whatever the frame came with; a tag
            # that was there keeps its priority and DEI.
            self.assertEqual(Dot1Q in o, out_vlan is not None)
            if out_vlan is not None:
                self.assertEqual(o[Dot1Q].vlan, out_vlan)
                self.assertEqual((o[Dot1Q].prio, o[Dot1Q].id),
                                 (s[Dot1Q].prio, s[Dot1Q].id) if Dot1Q in s else (0, 0))
            if IP in s:
                self.assertEqual((o[IP].src, o[IP].dst), (LEG, BACKEND) if to_backend else (VIP, CALLER))
                self.assertEqual(o[IP].ttl, s[IP].ttl - 1)
                self.assertEqual((o[IP].tos, o[IP].id, o[IP].flags), (s[IP].tos, s[IP].id, s[IP].flags))
            else:
                self.assertEqual((o[IPv6].src, o[IPv6].dst), (LEG6, BACKEND6) if to_backend else (VIP6, CALLER6))
                self.assertEqual(o[IPv6].hlim, s[IPv6].hlim - 1)
                self.assertEqual((o[IPv6].tc, o[IPv6].fl), (s[IPv6].tc, s[IPv6].fl))
            self.assertEqual((o[UDP].sport, o[UDP].dport), (LPORT, BPORT) if to_backend else (VPORT, CPORT))
            self.assertEqual(bytes(o[UDP].payload), bytes(s[UDP].payload))
            self.assertTrue(checksums_ok(o), o.show(dump=True))

    # 1. The fast path, both directions, untagged and 802.1Q, real SRT payloads.

    def fast_path(self, v6):
        up = caller_traffic("streamid-publish.pcap") + caller_traffic("encrypted.pcap")
        down = listener_traffic("streamid-publish.pcap") + listener_traffic("encrypted.pcap")
        self.assertGreater(len(up), 100)
        self.assertGreater(len(down), 15)
        mk_up, mk_down = (caller6, backend6) if v6 else (caller4, backend4)
        # Every third packet priority-tagged (VID 0, which an untagged port
        # takes) with changing priorities: they leave untagged.
        in0 = [mk_up(p, **({"vlan": 0, "prio": i % 8} if i % 3 == 1 else {}))
               for i, p in enumerate(up)]
        in1 = [mk_down(p, **({"vlan": 0, "prio": 5} if i % 3 == 1 else {}))
               for i, p in enumerate(down)]
        if not v6:
            # IPv4 UDP without checksum stays without; odd IP IDs and TOS stay.
            nock = caller4(up[1], tos=0xB8, id=0xFFFF, flags="DF")
            nock[UDP].chksum = 0
            in0.append(nock)
            nock_down = backend4(down[0], vlan=0)
            nock_down[UDP].chksum = 0
            in1.append(nock_down)
        # A short packet (ACKACK) padded to the 60-byte Ethernet minimum.
        ackack = next(p for p in up if srt_kind(p) == "ackack")
        short = mk_up(ackack)
        in0.append(Ether(bytes(short) + bytes(max(0, 60 - len(bytes(short))) or 4)))
        r = self.run_testbed(in0, in1)
        self.assert_forwarded(in0, r.out1, to_backend=True)
        self.assert_forwarded(in1, r.out0, to_backend=False)
        if not v6:
            self.assertEqual(r.out1[len(up)][UDP].chksum, 0)
            self.assertEqual(r.out0[-1][UDP].chksum, 0)
        self.assertEqual(r.c["forwarded"], len(in0) + len(in1))
        # The bytes sent: a stripped tag is 4 fewer.
        self.assertEqual(r.c["forwarded_bytes"], sum(len(bytes(f)) for f in r.out0 + r.out1))
        self.assertEqual(r.c["forwarded_bytes"],
                         sum(len(bytes(f)) - 4 * (Dot1Q in f) for f in in0 + in1))
        self.assertEqual(r.c["to_control"], 0)
        self.assertEqual(sum(r.c["dropped"].values()), 0)
        self.assertEqual(r.c["session_events"], 0)

    def test_ipv4_both_directions_real_srt_untagged_and_vlan(self):
        self.fast_path(v6=False)

    def test_ipv6_both_directions_real_srt_untagged_and_vlan(self):
        self.fast_path(v6=True)

    def test_runs_of_one_flow_share_a_lookup_but_not_a_fate(self):
        """The worker looks a run of same-flow packets up once (worker.cc).
        Runs of the IPv4 and IPv6 sessions interleaved with flows that differ
        from them in one field only (source port, destination port, source
        address) must each get their own fate: forwarded in order, or dropped
        as no_session."""
        data = [p for p in caller_traffic("streamid-publish.pcap") if srt_kind(p) == "data"]
        self.assertGreater(len(data), 24)
        make = {
            "4": lambda p: caller4(p),
            "6": lambda p: caller6(p),
            "s": lambda p: caller4(p, sport=CPORT + 1),
            "d": lambda p: caller4(p, dport=VPORT + 1),
            "a": lambda p: caller4(p, src="198.18.0.3"),
            "S": lambda p: caller6(p, sport=CPORT + 1),
            "v": lambda p: caller4(p, vlan=0, prio=2),  # the same flow, priority-tagged
        }
        pattern = "444s4dd66S6a4v4466s"
        in0 = [make[k](data[n]) for n, k in enumerate(pattern)]
        r = self.run_testbed(in0, [])
        session = [f for f, k in zip(in0, pattern) if k in "46v"]
        self.assert_forwarded(session, r.out1, to_backend=True)
        self.assertEqual(r.c["dropped"]["no_session"], sum(k in "sdaS" for k in pattern), r.c)
        self.assertEqual(r.c["forwarded"], len(session))

    def test_udp_checksum_ffff_corner(self):
        """Outputs whose UDP checksum computes to 0 (sent as 0xFFFF, never 0) and
        inputs that carry 0xFFFF, IPv4 and IPv6, both directions."""
        data = next(p for p in caller_traffic("encrypted.pcap") if srt_kind(p) == "data")
        ack = listener_traffic("encrypted.pcap")[0]
        at_d, at_a = (len(data) - 2) & ~1, (len(ack) - 2) & ~1
        in0, in1 = [], []
        for mk in (caller4, caller6, lambda p: caller4(p, vlan=0, prio=3)):
            in0.append(with_udp_checksum(mk, data, at_d, want_out=True, to_backend=True))
            in0.append(with_udp_checksum(mk, data, at_d, want_out=False, to_backend=True))
        for mk in (backend4, backend6):
            in1.append(with_udp_checksum(mk, ack, at_a, want_out=True, to_backend=False))
            in1.append(with_udp_checksum(mk, ack, at_a, want_out=False, to_backend=False))
        r = self.run_testbed(in0, in1)
        self.assert_forwarded(in0, r.out1, to_backend=True)
        self.assert_forwarded(in1, r.out0, to_backend=False)
        for out in r.out1[0::2] + r.out0[0::2]:
            self.assertEqual(out[UDP].chksum, 0xFFFF)

    # 2. Malformed and foreign input: no output, the right counter.

    def test_malformed_and_foreign_dropped_and_counted(self):
        good = bytes(caller4(b"\x00" * 16 + b"data"))
        good6 = bytes(caller6(b"\x00" * 16 + b"data"))
        e0 = Ether(src=CALLER_MAC, dst=PORT0_MAC)
        e1 = Ether(src=BACKEND_MAC, dst=PORT1_MAC)
        data = b"\x00\x00\x00\x01" + bytes(12) + b"payload"   # an SRT data packet
        v4_as_v6 = bytearray(bytes(e0 / IP(src=CALLER, dst=VIP) / UDP(sport=CPORT, dport=VPORT) / Raw(data)))
        v4_as_v6[14] = 0x65                                     # version 6 under EtherType IPv4
        port0 = [
            ("truncated_eth", good[:10]),
            ("truncated_eth", bytes(e0 / Dot1Q(vlan=5))[:16]),    # VLAN tag cut short
            ("truncated_ip", good[:14 + 12]),
            ("truncated_ip", good6[:14 + 30]),
            ("truncated_ip", bytes(e0 / IP(src=CALLER, dst=VIP, ihl=6, options=b"\x01\x01\x01\x01"))[:14 + 22]),
            ("bad_ihl", e0 / IP(src=CALLER, dst=VIP, ihl=4) / UDP(sport=CPORT, dport=VPORT) / Raw(data)),
            ("bad_ip_version", bytes(v4_as_v6)),
            ("bad_ip_length", good[:14 + 20 + 4]),                # IP total length > frame
            ("bad_ip_length", e0 / IP(src=CALLER, dst=VIP, len=1400) / UDP(sport=CPORT, dport=VPORT) / Raw(data)),
            ("bad_ip_length", e0 / IP(src=CALLER, dst=VIP, len=12) / UDP(sport=CPORT, dport=VPORT) / Raw(data)),
            ("bad_ip_length", e0 / IPv6(src=CALLER6, dst=VIP6, plen=600) / UDP(sport=CPORT, dport=VPORT) / Raw(data)),
            ("truncated_udp", e0 / IP(src=CALLER, dst=VIP, proto=17) / Raw(b"\x13\x88\x27")),
            ("truncated_udp", e0 / IPv6(src=CALLER6, dst=VIP6, nh=17) / Raw(b"\x13\x88")),
            ("bad_udp_length", e0 / IP(src=CALLER, dst=VIP) / UDP(sport=CPORT, dport=VPORT, len=500) / Raw(data)),
            ("bad_udp_length", e0 / IP(src=CALLER, dst=VIP) / UDP(sport=CPORT, dport=VPORT, len=6) / Raw(data)),
            ("bad_udp_length", e0 / IPv6(src=CALLER6, dst=VIP6) / UDP(sport=CPORT, dport=VPORT, len=300) / Raw(data)),
            ("not_udp", e0 / IP(src=CALLER, dst=VIP) / TCP(sport=CPORT, dport=VPORT)),
            ("not_udp", e0 / IPv6(src=CALLER6, dst=VIP6) / TCP(sport=CPORT, dport=VPORT)),
            ("not_udp", e0 / Dot1Q(vlan=0) / IP(src=CALLER, dst=VIP, proto=47) / Raw(bytes(20))),  # GRE
            ("ttl_expired", caller4(data, ttl=1)),
            ("ttl_expired", caller4(data, ttl=0)),
            ("ttl_expired", caller4(data, ttl=1, vlan=0)),
            ("ttl_expired", caller6(data, hlim=1)),
            ("not_for_us", caller4(data, dst="198.18.0.77")),
            ("not_for_us", caller4(data, dst="203.0.113.9")),
            ("not_for_us", caller6(data, dst="2001:db8::77")),
            ("not_for_us", caller4(data, dst=LEG)),               # port 1's address, arriving on port 0
            ("no_session", caller4(data, sport=5001)),           # unknown caller, not a handshake
            ("no_session", caller4(data, dport=9999)),           # a port we do not listen on
            ("no_session", caller6(data, sport=5001)),
            ("stacked_vlan", e0 / Dot1Q(vlan=1) / Dot1Q(vlan=2) / IP(src=CALLER, dst=VIP) / UDP(sport=CPORT, dport=VPORT) / Raw(data)),
            ("stacked_vlan", e0 / Dot1AD(vlan=1) / Dot1Q(vlan=2) / IP(src=CALLER, dst=VIP) / UDP(sport=CPORT, dport=VPORT) / Raw(data)),
            ("v4_mapped_ipv6", caller6(data, src="::ffff:198.18.0.2")),
            ("v4_mapped_ipv6", caller6(data, dst="::ffff:198.18.0.1")),
            # A VLAN on an untagged port is not ours (VID 0 is: priority tag).
            ("vlan_mismatch", caller4(data, vlan=7)),
            ("vlan_mismatch", caller6(data, vlan=7)),
            ("vlan_mismatch", caller4(data, vlan=1, dst="203.0.113.9")),
            ("vlan_mismatch", e0 / Dot1Q(vlan=7) / IP(src=CALLER, dst=VIP, proto=47) / Raw(bytes(20))),
            ("vlan_mismatch", Ether(src=CALLER_MAC, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=7) /
             ARP(op=1, hwsrc=CALLER_MAC, psrc=CALLER, pdst=VIP)),
            ("unknown_ethertype", Ether(src=CALLER_MAC, dst=PORT0_MAC, type=0x88B5) / Raw(b"x" * 50)),
            ("unknown_ethertype", Ether(src=CALLER_MAC, dst=PORT0_MAC, type=0x0030) / Raw(b"x" * 48)),  # 802.3 length
            ("truncated_arp", Ether(src=CALLER_MAC, dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(bytes(20))),
            ("truncated_icmp", e0 / IP(src=CALLER, dst=VIP, proto=1) / Raw(b"\x08\x00\x00\x00")),
        ]
        port1 = [
            ("no_session", backend4(data, dport=LPORT + 1)),     # a leg port with no session
            ("no_session", backend4(data, sport=BPORT + 1)),     # the leg, from another backend port
            ("not_udp", e1 / IP(src=BACKEND, dst=LEG) / TCP(sport=BPORT, dport=LPORT)),
            ("ttl_expired", backend4(data, ttl=1)),
            ("ttl_expired", backend6(data, hlim=1)),
            ("not_for_us", e1 / IP(src=BACKEND, dst=VIP) / UDP(sport=BPORT, dport=LPORT) / Raw(data)),
        ]
        # Handed to control, never rewritten: fragments, IPv4 options, IPv6 extension headers.
        slow = [
            ("fragments_dropped", caller4(data, flags="MF")),
            ("fragments_dropped", caller4(data, frag=10)),
            ("fragments_dropped", e0 / IPv6(src=CALLER6, dst=VIP6) / IPv6ExtHdrFragment(m=1, id=7) /
             UDP(sport=CPORT, dport=VPORT) / Raw(data)),
            ("ip_options_dropped", e0 / IP(src=CALLER, dst=VIP, options=b"\x94\x04\x00\x00") /
             UDP(sport=CPORT, dport=VPORT) / Raw(data)),
            ("ip_options_dropped", e0 / IPv6(src=CALLER6, dst=VIP6) / IPv6ExtHdrDestOpt() /
             UDP(sport=CPORT, dport=VPORT) / Raw(data)),
        ]
        in0 = [f for _, f in port0] + [f for _, f in slow]
        in1 = [f for _, f in port1]
        r = self.run_testbed(in0, in1)
        self.assertEqual(r.out1, [], [p.summary() for p in r.out1])
        self.assertEqual(r.out0, [], [p.summary() for p in r.out0])
        expect = {k: 0 for k in r.c["dropped"]}
        for k, _ in port0 + port1:
            expect[k] += 1
        self.assertEqual(r.c["dropped"], expect)
        self.assertEqual(r.c["forwarded"], 0)
        self.assertEqual(r.c["to_control"], len(slow))
        for k in ("fragments_dropped", "ip_options_dropped"):
            self.assertEqual(r.c["control"][k], sum(1 for kk, _ in slow if kk == k), k)
        self.assertEqual(r.c["control"]["srt_unhandled"], 0)

    # 3. ARP, ICMP, ICMPv6, NDP.

    def test_arp_icmp_ndp_answered(self):
        bcast = "ff:ff:ff:ff:ff:ff"
        in0 = [
            Ether(src=CALLER_MAC, dst=bcast) / ARP(op=1, hwsrc=CALLER_MAC, psrc=CALLER, pdst=VIP),
            Ether(src=CALLER_MAC, dst=bcast) / ARP(op=1, hwsrc=CALLER_MAC, psrc=CALLER, pdst="198.18.0.50"),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP, ttl=61) / ICMP(id=7, seq=3) / Raw(b"ping-data"),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst="198.18.0.60") / ICMP(id=7, seq=4),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP) / ICMP(type=0, id=7, seq=5),  # a reply: no answer
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IPv6(src=CALLER6, dst=VIP6) / ICMPv6EchoRequest(id=9, seq=1, data=b"ping6"),
            Ether(src=CALLER_MAC, dst="33:33:ff:00:00:01") / IPv6(src=CALLER6, dst="ff02::1:ff00:1", hlim=255) /
            ICMPv6ND_NS(tgt=VIP6) / ICMPv6NDOptSrcLLAddr(lladdr=CALLER_MAC),
        ]
        # On the origin side, priority-tagged: an untagged port answers untagged.
        in1 = [
            Ether(src=BACKEND_MAC, dst=bcast) / Dot1Q(vlan=0, prio=6) / ARP(op=1, hwsrc=BACKEND_MAC, psrc=BACKEND, pdst=LEG),
            Ether(src=BACKEND_MAC, dst=PORT1_MAC) / Dot1Q(vlan=0, prio=6) / IP(src=BACKEND, dst=LEG) / ICMP(id=1, seq=1) / Raw(b"x" * 30),
        ]
        r = self.run_testbed(in0, in1)
        summary = [p.summary() for p in r.out0 + r.out1]
        self.assertEqual(len(r.out0), 4, summary)   # ARP reply, ICMP echo reply, ICMPv6 echo reply, NA
        self.assertEqual(len(r.out1), 2, summary)
        a = next(p for p in r.out0 if ARP in p)
        self.assertEqual((a[Ether].src, a[Ether].dst, a[Ether].type), (PORT0_MAC, CALLER_MAC, 0x0806))
        self.assertEqual((a[ARP].hwtype, a[ARP].ptype, a[ARP].hwlen, a[ARP].plen), (1, 0x0800, 6, 4))
        self.assertEqual((a[ARP].op, a[ARP].hwsrc, a[ARP].psrc, a[ARP].hwdst, a[ARP].pdst),
                         (2, PORT0_MAC, VIP, CALLER_MAC, CALLER))
        e = next(p for p in r.out0 if ICMP in p)
        self.assertEqual((e[Ether].src, e[Ether].dst), (PORT0_MAC, CALLER_MAC))
        self.assertEqual((e[ICMP].type, e[ICMP].code, e[ICMP].id, e[ICMP].seq), (0, 0, 7, 3))
        self.assertEqual((e[IP].src, e[IP].dst), (VIP, CALLER))
        self.assertEqual(bytes(e[ICMP].payload), b"ping-data")
        self.assertTrue(checksums_ok(e), e.show(dump=True))
        e6 = next(p for p in r.out0 if ICMPv6EchoReply in p)
        self.assertEqual((e6[IPv6].src, e6[IPv6].dst, e6[Ether].dst), (VIP6, CALLER6, CALLER_MAC))
        self.assertEqual((e6[ICMPv6EchoReply].id, e6[ICMPv6EchoReply].seq, e6[ICMPv6EchoReply].data), (9, 1, b"ping6"))
        self.assertTrue(checksums_ok(e6), e6.show(dump=True))
        na = next(p for p in r.out0 if ICMPv6ND_NA in p)
        self.assertEqual((na[IPv6].src, na[IPv6].dst, na[IPv6].hlim), (VIP6, CALLER6, 255))
        self.assertEqual((na[ICMPv6ND_NA].tgt, na[ICMPv6ND_NA].S), (VIP6, 1))
        self.assertEqual(na[ICMPv6NDOptDstLLAddr].lladdr, PORT0_MAC)
        self.assertTrue(checksums_ok(na), na.show(dump=True))
        for p in r.out0 + r.out1:
            self.assertNotIn(Dot1Q, p, p.summary())
        a1 = next(p for p in r.out1 if ARP in p)
        self.assertEqual((a1[ARP].op, a1[ARP].hwsrc, a1[ARP].psrc, a1[ARP].pdst),
                         (2, PORT1_MAC, LEG, BACKEND))
        e1 = next(p for p in r.out1 if ICMP in p)
        self.assertEqual((e1[IP].src, e1[IP].dst, e1[ICMP].type), (LEG, BACKEND, 0))
        self.assertEqual(bytes(e1[ICMP].payload), b"x" * 30)
        self.assertTrue(checksums_ok(e1), e1.show(dump=True))
        ctl = r.c["control"]
        self.assertEqual(r.c["to_control"], len(in0) + len(in1))
        self.assertEqual((ctl["arp_replies_sent"], ctl["arp_ignored"]), (2, 1))
        self.assertEqual((ctl["icmp_echo_replies"], ctl["icmp_ignored"]), (3, 2))
        self.assertEqual(ctl["ndp_adverts_sent"], 1)
        self.assertEqual(r.c["control_tx"], 6)

    # 4. SHUTDOWN on a live session.

    def test_shutdown_forwarded_and_reported(self):
        data = caller_traffic("streamid-publish.pcap")[0]
        shutdown = srt_packet("streamid-publish.pcap", True, "shutdown")   # libsrt's own SHUTDOWN
        self.assertEqual(srt_kind(shutdown), "shutdown")
        in0 = [caller4(data), caller4(shutdown)]
        r = self.run_testbed(in0, None)
        self.assert_forwarded(in0, r.out1, to_backend=True)
        self.assertEqual(bytes(r.out1[1][UDP].payload), shutdown)
        self.assertEqual(r.c["session_events"], 1)
        # The session ends after the grace period (Run waits for it).
        self.assertEqual(r.c["control"]["sessions_ended_shutdown"], 1)
        self.assertEqual(r.c["sessions_active"], 1)
        # The ended session's two slots were given back after the grace
        # period; the other session keeps its two.
        self.assertEqual(r.c["session_slots"]["live"], 2, r.c)
        self.assertEqual(r.c["session_slots"]["retired"], 0, r.c)

    def test_shutdown_from_backend_ipv6(self):
        ack = listener_traffic("streamid-publish.pcap")[0]
        shutdown = srt_packet("streamid-publish.pcap", True, "shutdown")
        in1 = [backend6(ack), backend6(shutdown, vlan=0, prio=4)]
        r = self.run_testbed(None, in1)
        self.assert_forwarded(in1, r.out0, to_backend=False)
        self.assertEqual(r.c["session_events"], 1)
        self.assertEqual(r.c["control"]["sessions_ended_shutdown"], 1)

    def test_srt_type_read_only_from_a_whole_header_in_any_run(self):
        """The worker reads the SRT type only of packets whose payload holds
        a whole SRT header with the control bit set, wherever they sit in a
        run of one flow. Payloads shorter than the header are data, whatever
        their first bytes: a 15-byte look-alike of a handshake is forwarded
        (or, without a session, dropped, not handed to control), and one of a
        SHUTDOWN ends nothing. Real ACKACKs in a run are forwarded, a CONCLUSION
        in the middle of one goes to control, a TTL 1 packet in the middle
        of one is dropped, and the packets after each keep the run's rewrite."""
        data = [p for p in caller_traffic("streamid-publish.pcap") if srt_kind(p) == "data"][:6]
        ack = srt_packet("streamid-publish.pcap", True, "ackack")
        concl = [pl for up, k, pl in srt_capture("streamid-publish.pcap") if up and k == "handshake"][-1]
        hs_short = b"\x80\x00" + bytes(13)
        sd_short = b"\x80\x05" + bytes(13)
        fwd4 = [caller4(data[0]), caller4(hs_short), caller4(data[1]), caller4(sd_short), caller4(ack),
                caller4(data[2])]
        fwd6 = [caller6(data[3]), caller6(hs_short), caller6(ack), caller6(sd_short, vlan=0, prio=3),
                caller6(data[4])]
        # A foreign packet first: the burst's packets and its lookups are
        # then numbered differently.
        in0 = ([caller4(data[0], dst="198.18.0.77")] + fwd4[:2] + [caller4(concl)] + fwd4[2:4] + [caller4(data[5], ttl=1)] + fwd4[4:] +
               fwd6[:3] + [caller6(concl)] + fwd6[3:] +
               [caller4(hs_short, sport=6001), caller6(hs_short, sport=6001)] + fwd4[:1])
        r = self.run_testbed(in0, None)
        self.assert_forwarded(fwd4 + fwd6 + fwd4[:1], r.out1, to_backend=True)
        self.assertEqual(r.c["to_control"], 2, r.c)             # the two CONCLUSIONs
        self.assertEqual(r.c["dropped"]["ttl_expired"], 1, r.c)
        self.assertEqual(r.c["dropped"]["no_session"], 2, r.c)  # the look-alikes of no session
        self.assertEqual(r.c["dropped"]["not_for_us"], 1, r.c)
        self.assertEqual(r.c["session_events"], 0, r.c)
        self.assertEqual(r.c["control"]["sessions_ended_shutdown"], 0, r.c)

    def test_ttl_expired_in_a_run_of_data_packets(self):
        """A run of one flow's data packets (no SRT control packet in it, the
        worker's shortest loop) with TTL 1 and 0 packets among them: those two
        are dropped and counted, every other packet of the run is forwarded
        with the run's rewrite, in order, untagged and tagged alike."""
        data = [p for p in caller_traffic("streamid-publish.pcap") if srt_kind(p) == "data"][:8]
        for vlan in (None, 0):
            with self.subTest(vlan=vlan):
                tag = {} if vlan is None else {"vlan": vlan}
                fwd = [caller4(d, **tag) for d in data[:3] + data[4:6] + data[7:]]
                in0 = (fwd[:3] + [caller4(data[3], ttl=1, **tag)] + fwd[3:5] +
                       [caller4(data[6], ttl=0, **tag)] + fwd[5:])
                r = self.run_testbed(in0, None)
                self.assert_forwarded(fwd, r.out1, to_backend=True)
                self.assertEqual(r.c["dropped"]["ttl_expired"], 2, r.c)
                self.assertEqual(r.c["forwarded"], len(fwd), r.c)
                self.assertEqual(r.c["to_control"], 0, r.c)

    def test_one_tx_buffer_filled_from_both_rx_ports_in_one_poll(self):
        """Two sessions whose packets all leave on port 1: one from a caller on
        port 0, one from a caller on port 1 itself. A poll takes a full burst
        from each port before it flushes, so the second burst finds port 1's
        TX buffer already full and must send it first: every packet leaves,
        each session's in order, none lost or sent twice."""
        near = "198.18.1.5"
        session_p1 = (f"caller={near}:7000 vip={LEG}:{VPORT} backend={BACKEND}:{BPORT} "
                      f"leg={LEG}:{LPORT + 1} caller_mac={CALLER_MAC} backend_mac={BACKEND_MAC}")
        data = [p for p in caller_traffic("streamid-publish.pcap") if srt_kind(p) == "data"][:40]
        self.assertEqual(len(data), 40)
        in0 = [caller4(d) for d in data]
        in1 = [l2(CALLER_MAC, PORT1_MAC) / IP(src=near, dst=LEG, ttl=64) / UDP(sport=7000, dport=VPORT) /
               Raw(d) for d in data]
        r = self.run_testbed(in0, in1, sessions=(SESSION4, session_p1))
        self.assertEqual(r.c["forwarded"], 80, r.c)
        by_leg = {LPORT: [], LPORT + 1: []}
        for o in r.out1:
            self.assertEqual((o[IP].dst, o[UDP].dport, o[Ether].dst), (BACKEND, BPORT, BACKEND_MAC))
            self.assertTrue(checksums_ok(o), o.show(dump=True))
            by_leg[o[UDP].sport].append(bytes(o[UDP].payload))
        self.assertEqual(by_leg[LPORT], data)
        self.assertEqual(by_leg[LPORT + 1], data)
        self.assertEqual(r.out0, [])

    def test_one_tx_buffer_filled_by_runs_of_one_packet(self):
        """The same with two sessions per RX port whose packets alternate, so
        that every packet is a run of its own (the worker's path for many
        interleaved sessions): port 0's burst fills port 1's TX buffer, and
        port 1's own burst must send it before adding to it."""
        near = "198.18.1.5"
        def session(caller, cport, leg_port):
            return (f"caller={caller}:{cport} vip={LEG if caller == near else VIP}:{VPORT} "
                    f"backend={BACKEND}:{BPORT} leg={LEG}:{leg_port} "
                    f"caller_mac={CALLER_MAC} backend_mac={BACKEND_MAC}")
        sessions = (session(CALLER, CPORT, LPORT), session(CALLER, CPORT + 1, LPORT + 1),
                    session(near, 7000, LPORT + 2), session(near, 7001, LPORT + 3))
        data = [p for p in caller_traffic("streamid-publish.pcap") if srt_kind(p) == "data"][:40]
        self.assertEqual(len(data), 40)
        in0, in1 = [], []
        for d in data:
            in0 += [caller4(d), caller4(d, sport=CPORT + 1)]
            in1 += [l2(CALLER_MAC, PORT1_MAC) / IP(src=near, dst=LEG, ttl=64) / UDP(sport=sp, dport=VPORT) /
                    Raw(d) for sp in (7000, 7001)]
        r = self.run_testbed(in0, in1, sessions=sessions)
        self.assertEqual(r.c["forwarded"], 160, r.c)
        by_leg = {LPORT + i: [] for i in range(4)}
        for o in r.out1:
            self.assertEqual((o[IP].dst, o[UDP].dport, o[Ether].dst), (BACKEND, BPORT, BACKEND_MAC))
            self.assertTrue(checksums_ok(o), o.show(dump=True))
            by_leg[o[UDP].sport].append(bytes(o[UDP].payload))
        for leg, got in by_leg.items():
            self.assertEqual(got, data, leg)
        self.assertEqual(r.out0, [])

    # 6. SRT handshakes reach control.

    def test_handshake_without_session_goes_to_control(self):
        # A real INDUCTION from a caller with no session. The SRT handshake code
        # may answer it; what it answers is not this test's business.
        ind = srt_packet("streamid-publish.pcap", True, "handshake")
        in0 = [caller4(ind, src="198.18.0.3", sport=6000), caller6(ind, src="2001:db8::3", sport=6000)]
        r = self.run_testbed(in0, None)
        self.assertEqual(r.c["to_control"], 2)
        self.assertEqual(r.c["forwarded"], 0)
        self.assertEqual(r.c["dropped"]["no_session"], 0)
        self.assertEqual(r.out1, [])
        for p in r.out0:
            self.assertTrue(checksums_ok(p), p.show(dump=True))

    def test_handshake_on_live_session_goes_to_control_not_backend(self):
        # A caller retransmitting its CONCLUSION on a live session: control
        # judges it (cached answer), the backend never sees it.
        concl = [pl for up, k, pl in srt_capture("streamid-publish.pcap") if up and k == "handshake"][-1]
        data = caller_traffic("streamid-publish.pcap")[0]
        in0 = [caller4(data), caller4(concl)]
        r = self.run_testbed(in0, None)
        self.assertEqual(r.c["forwarded"], 1)
        self.assertEqual(r.c["to_control"], 1)
        # Not rewritten onto the session's leg (whatever control does with it).
        legs = [bytes(p[UDP].payload) for p in r.out1
                if UDP in p and IP in p and (p[IP].src, p[UDP].sport) == (LEG, LPORT)]
        self.assertEqual(legs, [data])

    # 7. 802.1Q: every frame leaves with its egress port's tag or none.

    def vlan_traffic(self, tag0, tag1):
        """Real SRT packets both ways, IPv4 and IPv6 interleaved (runs of one
        and longer runs), with the given Dot1Q arguments per side (None:
        untagged) and changing priorities."""
        up = caller_traffic("streamid-publish.pcap")[:48]
        down = listener_traffic("streamid-publish.pcap")[:12]
        self.assertEqual((len(up), len(down)), (48, 12))

        def tag(t, i):
            return {} if t is None else {"vlan": t, "prio": i % 8}
        in0 = ([caller4(p, **tag(tag0, i)) for i, p in enumerate(up[:20])] +
               [(caller6 if i % 2 else caller4)(p, **tag(tag0, i)) for i, p in enumerate(up[20:40])] +
               [caller6(p, **tag(tag0, i)) for i, p in enumerate(up[40:])])
        in1 = ([backend4(p, **tag(tag1, i)) for i, p in enumerate(down)] +
               [backend6(p, **tag(tag1, i)) for i, p in enumerate(down)])
        return in0, in1

    def check_vlan_forwarding(self, vlans, tag0, tag1):
        in0, in1 = self.vlan_traffic(tag0, tag1)
        r = self.run_testbed(in0, in1, vlans=vlans)
        self.assert_forwarded(in0, r.out1, to_backend=True, out_vlan=vlans[1])
        self.assert_forwarded(in1, r.out0, to_backend=False, out_vlan=vlans[0])
        self.assertEqual(r.c["forwarded"], len(in0) + len(in1), r.c)
        self.assertEqual(r.c["forwarded_bytes"], sum(len(bytes(f)) for f in r.out0 + r.out1), r.c)
        self.assertEqual(sum(r.c["dropped"].values()), 0, r.c["dropped"])
        self.assertEqual(r.c["to_control"], 0, r.c)
        return r

    def test_vlan_inserted_and_stripped(self):
        """Port 0 untagged, port 1 on VLAN 200: the caller's untagged packets
        leave tagged 200 (inserted, priority 0), the origin's leave untagged
        (stripped), and so do the caller's priority-tagged ones."""
        self.check_vlan_forwarding((None, 200), None, 200)
        self.check_vlan_forwarding((None, 200), 0, 200)

    def test_vlan_replaced(self):
        """Port 0 on VLAN 100, port 1 on VLAN 4094: the VID is replaced, the
        priority kept; and the reverse of the insert case (strip toward an
        untagged origin side)."""
        self.check_vlan_forwarding((100, 4094), 100, 4094)
        self.check_vlan_forwarding((100, None), 100, None)

    def test_vlan_kept_within_one_vlan(self):
        """Both ports on VLAN 100 (the IPv4 fast path keeps the tag as it
        came, priority included)."""
        self.check_vlan_forwarding((100, 100), 100, 100)

    def test_vlan_other_vid_dropped_and_counted(self):
        """On a port on VLAN 100 only VID 100 is ours: untagged, priority-
        tagged and other-VID frames (to us, fast-path IPv4 and the parser's
        IPv6, ARP, ICMP) are dropped as vlan_mismatch, and never answered.
        On the untagged port 1, VID 100 is as foreign."""
        data = [p for p in caller_traffic("streamid-publish.pcap") if srt_kind(p) == "data"][:4]
        bcast = "ff:ff:ff:ff:ff:ff"
        foreign0 = [
            caller4(data[0]),
            caller4(data[0], vlan=0, prio=5),
            caller4(data[0], vlan=101),
            caller4(data[0], vlan=4095),
            caller6(data[0]),
            caller6(data[0], vlan=99),
            Ether(src=CALLER_MAC, dst=bcast) / ARP(op=1, hwsrc=CALLER_MAC, psrc=CALLER, pdst=VIP),
            Ether(src=CALLER_MAC, dst=bcast) / Dot1Q(vlan=7) / ARP(op=1, hwsrc=CALLER_MAC, psrc=CALLER, pdst=VIP),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / IP(src=CALLER, dst=VIP) / ICMP(id=7, seq=3),
            caller4(srt_packet("streamid-publish.pcap", True, "handshake"), src="198.18.0.3", sport=6000),
        ]
        foreign1 = [backend4(data[0], vlan=100), backend6(data[0], vlan=100),
                    Ether(src=BACKEND_MAC, dst=bcast) / Dot1Q(vlan=100) / ARP(op=1, hwsrc=BACKEND_MAC, psrc=BACKEND, pdst=LEG)]
        ours0 = [caller4(data[1], vlan=100), caller6(data[2], vlan=100, prio=1), caller4(data[3], vlan=100)]
        in0 = [foreign0[0], ours0[0]] + foreign0[1:5] + [ours0[1]] + foreign0[5:] + [ours0[2]]
        r = self.run_testbed(in0, foreign1, vlans=(100, None))
        self.assert_forwarded(ours0, r.out1, to_backend=True, out_vlan=None)
        self.assertEqual(r.out0, [], [p.summary() for p in r.out0])
        expect = {k: 0 for k in r.c["dropped"]}
        expect["vlan_mismatch"] = len(foreign0) + len(foreign1)
        self.assertEqual(r.c["dropped"], expect)
        self.assertEqual((r.c["forwarded"], r.c["to_control"]), (len(ours0), 0), r.c)

    def test_vlan_control_frames_carry_the_port_tag(self):
        """Port 0 on VLAN 100, port 1 on VLAN 200, sessions whose origin's
        MAC must be resolved: the ARP request and neighbour solicitation
        srtfwd sends go out tagged 200, the origin's tagged answers complete
        the installs; the ARP, ICMP, ICMPv6 echo and NDP answers and the
        SRT handshake answer on port 0 are tagged 100 (priority 0, but the
        echo reply, which is the request turned around). Every frame sent on
        a port carries its tag."""
        bcast = "ff:ff:ff:ff:ff:ff"
        s4 = SESSION4.replace(f" backend_mac={BACKEND_MAC}", "")
        s6 = SESSION6.replace(f" backend_mac={BACKEND_MAC}", "")
        ind = srt_packet("streamid-publish.pcap", True, "handshake")
        in0 = [
            Ether(src=CALLER_MAC, dst=bcast) / Dot1Q(vlan=100, prio=3) / ARP(op=1, hwsrc=CALLER_MAC, psrc=CALLER, pdst=VIP),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / Dot1Q(vlan=100, prio=2) / IP(src=CALLER, dst=VIP) / ICMP(id=7, seq=3) / Raw(b"ping"),
            Ether(src=CALLER_MAC, dst=PORT0_MAC) / Dot1Q(vlan=100) / IPv6(src=CALLER6, dst=VIP6) / ICMPv6EchoRequest(id=9, seq=1, data=b"ping6"),
            Ether(src=CALLER_MAC, dst="33:33:ff:00:00:01") / Dot1Q(vlan=100) / IPv6(src=CALLER6, dst="ff02::1:ff00:1", hlim=255) /
            ICMPv6ND_NS(tgt=VIP6) / ICMPv6NDOptSrcLLAddr(lladdr=CALLER_MAC),
            caller4(ind, vlan=100, src="198.18.0.3", sport=6000),
        ]
        in1 = [
            Ether(src=BACKEND_MAC, dst=PORT1_MAC) / Dot1Q(vlan=200) / ARP(op=2, hwsrc=BACKEND_MAC, psrc=BACKEND, hwdst=PORT1_MAC, pdst=LEG),
            Ether(src=BACKEND_MAC, dst=PORT1_MAC) / Dot1Q(vlan=200) / IPv6(src=BACKEND6, dst=LEG6, hlim=255) /
            ICMPv6ND_NA(tgt=BACKEND6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=BACKEND_MAC),
            Ether(src=BACKEND_MAC, dst=bcast) / Dot1Q(vlan=200) / ARP(op=1, hwsrc=BACKEND_MAC, psrc=BACKEND, pdst=LEG),
        ]
        r = self.run_testbed(in0, in1, sessions=(s4, s6), vlans=(100, 200))
        summary = [p.summary() for p in r.out0 + r.out1]
        for port, out, vid in ((0, r.out0, 100), (1, r.out1, 200)):
            for p in out:
                self.assertIn(Dot1Q, p, f"port {port}: {p.summary()}")
                self.assertEqual(p[Dot1Q].vlan, vid, f"port {port}: {p.summary()}")
                self.assertTrue(checksums_ok(p), p.show(dump=True))
        # Port 1: who-has BACKEND, NS for BACKEND6, is-at LEG.
        req = [p for p in r.out1 if ARP in p and p[ARP].op == 1]
        self.assertEqual([(p[Ether].dst, p[ARP].psrc, p[ARP].pdst, p[Dot1Q].prio) for p in req],
                         [(bcast, LEG, BACKEND, 0)], summary)
        ns = [p for p in r.out1 if ICMPv6ND_NS in p]
        self.assertEqual([(p[IPv6].src, p[ICMPv6ND_NS].tgt) for p in ns], [(LEG6, BACKEND6)], summary)
        rep1 = [p for p in r.out1 if ARP in p and p[ARP].op == 2]
        self.assertEqual([(p[ARP].psrc, p[ARP].pdst, p[Dot1Q].prio) for p in rep1], [(LEG, BACKEND, 0)], summary)
        # Port 0: is-at VIP, the two echo replies, NA, the handshake answer.
        a = [p for p in r.out0 if ARP in p]
        self.assertEqual([(p[ARP].op, p[ARP].psrc, p[ARP].pdst, p[Dot1Q].prio) for p in a],
                         [(2, VIP, CALLER, 0)], summary)
        e = [p for p in r.out0 if ICMP in p]
        self.assertEqual([(p[ICMP].type, p[IP].src, p[IP].dst, bytes(p[ICMP].payload)) for p in e],
                         [(0, VIP, CALLER, b"ping")], summary)
        e6 = [p for p in r.out0 if ICMPv6EchoReply in p]
        self.assertEqual([(p[IPv6].src, p[ICMPv6EchoReply].data) for p in e6], [(VIP6, b"ping6")], summary)
        na = [p for p in r.out0 if ICMPv6ND_NA in p]
        self.assertEqual([(p[ICMPv6ND_NA].tgt, p[ICMPv6NDOptDstLLAddr].lladdr) for p in na], [(VIP6, PORT0_MAC)], summary)
        hs = [p for p in r.out0 if UDP in p]
        self.assertEqual([(p[IP].src, p[UDP].sport, p[IP].dst, p[UDP].dport, p[Dot1Q].prio) for p in hs],
                         [(VIP, VPORT, "198.18.0.3", 6000, 0)], summary)
        self.assertEqual(srt_kind(bytes(hs[0][UDP].payload)), "handshake")
        self.assertEqual(len(r.out0) + len(r.out1), 8, summary)
        self.assertEqual(r.c["dropped"]["vlan_mismatch"], 0, r.c["dropped"])


# Sends the frames of argv[1] on argv[3] and writes what arrives meanwhile on
# argv[4] to argv[2], once argv[5] UDP datagrams from argv[6] or argv[7]
# came (10 s at most); run inside the test's network namespace.
_TAP_PEER = """
import sys, threading, time
from scapy.all import IP, UDP, AsyncSniffer, IPv6, rdpcap, sendp, wrpcap
frames = rdpcap(sys.argv[1])
want, leg, leg6 = int(sys.argv[5]), sys.argv[6], sys.argv[7]
started, done, count = threading.Event(), threading.Event(), [0]
def seen(p):
    if UDP in p and (IP in p and p[IP].src == leg or IPv6 in p and p[IPv6].src == leg6):
        count[0] += 1
        if count[0] >= want:
            done.set()
sniffer = AsyncSniffer(iface=sys.argv[4], store=True, prn=seen, started_callback=started.set)
sniffer.start()
if not started.wait(10):
    sys.exit("sniffer did not start")
for f in frames:
    sendp(f, iface=sys.argv[3], verbose=False)
done.wait(10)
got = sniffer.stop()
wrpcap(sys.argv[2], list(got))
"""


class TapOffload(unittest.TestCase):
    """The TX checksum offload path. net_pcap advertises no offload, so the
    replay tests above exercise the incremental update only; net_tap
    advertises IPv4 and UDP checksum offload and, like a NIC, fills the
    checksums in on transmit from the mbuf's flags and header lengths. Two
    net_tap ports in a network namespace made for the test (and always
    deleted): frames sent into port 0's tap interface, what port 1 sends
    captured on its interface and checked by scapy."""

    def test_checksums_left_to_a_port_that_offloads_them(self):
        if os.geteuid() != 0:
            if os.environ.get("CI") == "true":  # under CI a test that cannot run fails
                self.fail("net_tap and network namespaces need root")
            self.skipTest("net_tap and network namespaces need root")
        ns = f"srtfwd-offload-{os.getpid()}"
        d = tempfile.mkdtemp(prefix="srtfwd-offload-")
        prefix = f"srtfwd-offload-{os.getpid()}"
        p = lambda n: os.path.join(d, n)  # noqa: E731
        subprocess.run(["ip", "netns", "add", ns], check=True)
        proc = None
        try:
            # No IPv6 of the kernel's own (router solicitations, MLD) on the taps.
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            "net.ipv6.conf.default.disable_ipv6=1"], check=True)
            with open(p("t.toml"), "w") as f:
                f.write(config())
            data = [pl for pl in caller_traffic("streamid-publish.pcap") if srt_kind(pl) == "data"][:6]
            ack = srt_packet("streamid-publish.pcap", True, "ackack")
            zero = Ether(bytes(caller4(data[2])))
            zero[UDP].chksum = 0  # sent without a UDP checksum: leaves with one
            in0 = [caller4(data[0]), caller4(data[1], vlan=0, prio=3), zero, caller4(ack),
                   caller6(data[3]), caller6(data[4], vlan=0), caller4(data[5], tos=0xb8, id=4242)]
            write_pcap(p("in0.pcap"), in0)
            argv = ["ip", "netns", "exec", ns, TESTBED, "-l", "0-1", "--no-huge", "-m", "1024",
                    "--no-pci", f"--file-prefix={prefix}",
                    "--vdev", f"net_tap0,iface=sfoff0,mac={PORT0_MAC}",
                    "--vdev", f"net_tap1,iface=sfoff1,mac={PORT1_MAC}",
                    "--", "--config", p("t.toml"), "--log-level", "info",
                    "--session", SESSION4, "--session", SESSION6]
            log = open(p("log"), "w")
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

            def read_log():
                with open(p("log")) as f:
                    return f.read()
            deadline = time.time() + 30
            while "srtfwd ready" not in read_log():
                if proc.poll() is not None or time.time() > deadline:
                    self.fail("testbed did not start:\n" + read_log()[-3000:])
                time.sleep(0.1)
            self.assertEqual(len(re.findall(r"checksum offload on", read_log())), 2, read_log()[-3000:])
            subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", _TAP_PEER,
                            p("in0.pcap"), p("out1.pcap"), "sfoff0", "sfoff1", str(len(in0)), LEG, LEG6],
                           check=True, timeout=60)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0, read_log()[-3000:])
            log.close()
            self.assertIn("mbufs in use at exit: 0", read_log())
            found = re.findall(r"final counters: (\{.*\})", read_log())
            self.assertTrue(found, read_log()[-3000:])
            c = json.loads(found[-1])
            self.assertEqual(c["forwarded"], len(in0), c)
            self.assertEqual(c["tx_dropped"], 0, c)
            out = [o for o in rdpcap(p("out1.pcap"))
                   if UDP in o and (IP in o and o[IP].src == LEG or IPv6 in o and o[IPv6].src == LEG6)]
            self.assertEqual(len(out), len(in0), [o.summary() for o in out])
            for n, (src, o) in enumerate(zip(in0, out)):
                # Byte for byte as the incremental path would send it, but for
                # the checksums, which the port computed from scratch.
                want = Ether(expected_rewrite(src, to_backend=True))
                got = Ether(bytes(o))
                for q in (want, got):
                    q[UDP].chksum = 0
                    if IP in q:
                        q[IP].chksum = 0
                self.assertEqual(bytes(got), bytes(want), f"frame {n}:\n{o.show(dump=True)}")
                self.assertNotEqual(o[UDP].chksum, 0, f"frame {n} left without a UDP checksum")
                self.assertTrue(checksums_ok(o), f"frame {n}:\n{o.show(dump=True)}")
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            subprocess.run(["ip", "netns", "del", ns], check=False)
            shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)
            if not KEEP_TMP:
                shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if not TESTBED:
        print("SRTFWD_TESTBED not set", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)

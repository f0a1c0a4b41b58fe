"""End to end on an 802.1Q port: srtfwd's caller-side port is configured
with `vlan = 100`, the origin side untagged. The host kernel has no 802.1Q
sub-interfaces, so the caller is scapy on a raw socket on the caller veth
(inside its namespace), speaking SRT by hand (per the SRT handshake: INDUCTION,
CONCLUSION with a stream ID and HSREQ) in frames tagged VID 100 from an
address its kernel does not own; it answers ARP for that address itself, with
the tag. A real libsrt origin (tests/peers/srt_origin.cc) accepts the
publisher through srtfwd and must receive every data packet; every frame the
caller gets back (ARP, handshake answers, ACKs) carries VID 100, and an
untagged handshake from the same caller is dropped as vlan_mismatch.

Run as root with SRTFWD and SRT_ORIGIN set (meson does it). Without root the
test is skipped, except under CI=true, where a missing prerequisite fails."""

import json
import os
import re
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, tail  # noqa: E402

PY = "/usr/bin/python3"
VID = 100
N_DATA = 60
STREAM = "live/vlan"

# Runs in the caller namespace: argv iface, our IP, srtfwd's IP, VID, stream
# ID, number of data packets. Prints one JSON object.
CALLER = textwrap.dedent(r'''
    import json, os, struct, sys, threading, time
    from scapy.all import ARP, Dot1Q, Ether, IP, UDP, Raw, conf, get_if_hwaddr
    iface, me, vip, vid, sid_text, n_data = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    mac = get_if_hwaddr(iface)
    sock = conf.L2socket(iface=iface)
    SPORT, DPORT, SOCK, ISN = 40100, 10080, 0x1A2B3C4D, 12345
    t0 = time.monotonic()
    lock = threading.Lock()
    got = []          # every frame from srtfwd: (vid or None, kind)
    udp_in = []       # SRT payloads to us
    fwd_mac = [None]
    stop = [False]

    def tagged(*layers):
        p = Ether(src=mac, dst=fwd_mac[0] or "ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=vid)
        for l in layers:
            p = p / l
        return p

    def rx():
        while not stop[0]:
            p = sock.recv()
            if p is None or Ether not in p or p[Ether].src == mac:
                continue
            tag = p[Dot1Q].vlan if Dot1Q in p else None
            if ARP in p:
                a = p[ARP]
                with lock:
                    got.append((tag, "arp-%d" % a.op))
                if a.op == 2 and a.psrc == vip:
                    fwd_mac[0] = a.hwsrc
                if a.op == 1 and a.pdst == me:
                    # Our own ARP answer, with the tag (the kernel does not own `me`).
                    sock.send(Ether(src=mac, dst=a.hwsrc) / Dot1Q(vlan=vid) /
                              ARP(op=2, hwsrc=mac, psrc=me, hwdst=a.hwsrc, pdst=a.psrc))
                continue
            if UDP in p and IP in p and p[IP].dst == me and p[UDP].dport == SPORT:
                pl = bytes(p[UDP].payload)
                kind = "data" if not pl[0] & 0x80 else "ctl%d" % (((pl[0] << 8) | pl[1]) & 0x7fff)
                with lock:
                    got.append((tag, kind))
                    udp_in.append(pl)
                continue
            with lock:
                got.append((tag, p.lastlayer().name))

    th = threading.Thread(target=rx, daemon=True)
    th.start()

    def wait(pred, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with lock:
                r = pred()
            if r is not None:
                return r
            time.sleep(0.01)
        return None

    def send_udp(payload):
        sock.send(tagged(IP(src=me, dst=vip) / UDP(sport=SPORT, dport=DPORT) / Raw(payload)))

    def ts():
        return int((time.monotonic() - t0) * 1e6) & 0xffffffff

    def hs(version, enc_ext, typ, cookie, exts=b"", dst=0):
        body = struct.pack("!IIIIIIII", version, enc_ext, ISN, 1500, 8192, typ, SOCK, cookie)
        return struct.pack("!IIII", 0x80000000, 0, ts(), dst) + body + bytes(16) + exts

    def ext(t, contents):
        return struct.pack("!HH", t, len(contents) // 4) + contents

    def sid(text):
        b = text.encode()
        b += bytes(-len(b) % 4)
        return b"".join(b[i:i + 4][::-1] for i in range(0, len(b), 4))

    def handshake_answer(typ_pred):
        def f():
            for pl in udp_in:
                if len(pl) >= 48 and pl[:2] == b"\x80\x00" and typ_pred(struct.unpack("!I", pl[36:40])[0]):
                    return pl
            return None
        return f

    out = {"mac": mac}
    # Untagged on the VLAN port: not ours, never answered (counted by srtfwd).
    sock.send(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=me, pdst=vip))
    sock.send(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src=me, dst=vip) / UDP(sport=SPORT, dport=DPORT) /
              Raw(hs(4, 2, 1, 0)))
    # srtfwd's MAC, by ARP on the VLAN.
    for _ in range(20):
        sock.send(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=vid) /
                  ARP(op=1, hwsrc=mac, psrc=me, pdst=vip))
        if wait(lambda: fwd_mac[0], 0.25):
            break
    out["fwd_mac"] = fwd_mac[0]
    if not fwd_mac[0]:
        stop[0] = True
        print(json.dumps(dict(out, got=got))); sys.exit(0)

    ind = None
    for _ in range(12):
        send_udp(hs(4, 2, 1, 0))
        ind = wait(handshake_answer(lambda t: t == 1), 0.25)
        if ind:
            break
    out["induction"] = ind is not None
    concl = None
    if ind:
        cookie = struct.unpack("!I", ind[44:48])[0]
        hsreq = ext(1, struct.pack("!IIHH", 0x00010501, 0xBF, 20, 20))
        req = hs(5, 0x5, 0xFFFFFFFF, cookie, hsreq + ext(5, sid(sid_text)))
        for _ in range(12):
            send_udp(req)
            concl = wait(handshake_answer(lambda t: t == 0xFFFFFFFF or t > 1000), 0.25)
            if concl:
                break
    out["conclusion_type"] = struct.unpack("!I", concl[36:40])[0] if concl else None
    if concl and out["conclusion_type"] == 0xFFFFFFFF:
        peer = struct.unpack("!I", concl[40:44])[0]
        for i in range(n_data):
            payload = bytes([(i + k) & 0xff for k in range(1316)])
            send_udp(struct.pack("!IIII", ISN + i, 0xC0000000 | (i + 1), ts(), peer) + payload)
            time.sleep(0.002)
        # The origin's ACKs name the next sequence number it expects: wait
        # for one that covers every data packet.
        def acked():
            for pl in udp_in:
                if pl[:2] == b"\x80\x02" and len(pl) >= 20 and struct.unpack("!I", pl[16:20])[0] >= ISN + n_data:
                    return True
            return None
        out["all_acked"] = bool(wait(acked, 5.0))
        # TSBPD: the origin's application gets each packet 20 ms (the
        # latency) after its time; give it that, then SHUTDOWN.
        time.sleep(0.3)
        send_udp(struct.pack("!IIII", 0x80050000, 0, ts(), peer) + bytes(4))
    time.sleep(0.2)
    stop[0] = True
    with lock:
        out["got"] = list(got)
    print(json.dumps(out))
''')


class VlanEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            if os.environ.get("CI") == "true":
                raise AssertionError("e2e-vlan needs root (network namespaces) and CI=true forbids skipping")
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.srtfwd = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")

    def test_srt_publisher_on_vlan_100_reaches_a_libsrt_origin(self):
        with NetLab(prefix="vlan", srtfwd_bin=self.srtfwd) as lab:
            f = lab.fwd(0)
            origin = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", f.origin_ips[0],
                                                  "--port", "10080", "--latency", "20"])
            origin.wait_for(r"^listening", 10)
            cfg = lab.fwd_config(0, backends=[(f.origin_ips[0], 10080)])
            # Port 0 (the first [[port]]) on VLAN 100.
            cfg = cfg.replace(f'ipv4 = "{f.fwd_ip}/{f.prefix_len}"',
                              f'ipv4 = "{f.fwd_ip}/{f.prefix_len}"\nvlan = {VID}', 1)
            self.assertIn(f"vlan = {VID}", cfg)
            fwd = lab.srtfwd(cfg)
            self.assertRegex(fwd.log(), rf"port 0 .* vlan {VID}")
            me = "198.18.0.9"  # not the caller kernel's address: scapy is that host
            r = lab.run_in(f.caller_ns, [PY, "-c", CALLER, f.caller_if, me, f.fwd_ip, str(VID),
                                         f"#!::r={STREAM},m=publish", str(N_DATA)], timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            out = json.loads(r.stdout.strip().splitlines()[-1])
            got = out["got"]
            self.assertTrue(out["fwd_mac"], out)
            self.assertTrue(out["induction"], out)
            self.assertEqual(out["conclusion_type"], 0xFFFFFFFF, out)
            self.assertTrue(out["all_acked"], out)
            kinds = {k for _, k in got}
            # srtfwd answered our ARP and resolved us by ARP; handshake
            # answers (ctl0) and the origin's ACKs (ctl2) came back.
            for k in ("arp-2", "ctl0", "ctl2"):
                self.assertIn(k, kinds, got)
            # Every frame srtfwd sent us carries VID 100.
            self.assertEqual([g for g in got if g[0] != VID], [], got)

            # The origin got the publisher and every data packet.
            origin.stop()
            text = origin.out_text()
            self.assertRegex(text, rf"accept \S+ #!::r={re.escape(STREAM)},m=publish publish", text)
            m = re.search(r"^close \S+ \S+ publish msgs=(\d+)", text, re.M)
            self.assertIsNotNone(m, text)
            self.assertEqual(int(m.group(1)), N_DATA, text)

            self.assertEqual(fwd.stop(), 0)
            log = fwd.log()
            self.assertIn("mbufs in use at exit: 0", log)
            c = final_counters(log)
            self.assertEqual(c["srt"]["established"], 1, c["srt"])
            self.assertGreaterEqual(c["forwarded"], N_DATA, c)
            self.assertEqual(c["dropped"]["no_headroom"], 0, c["dropped"])
            # The two untagged frames (and nothing of ours) were another VLAN's.
            self.assertGreaterEqual(c["dropped"]["vlan_mismatch"], 2, c["dropped"])


if __name__ == "__main__":
    unittest.main(verbosity=2)

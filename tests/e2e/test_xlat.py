"""End-to-end tests of translated sessions (a caller of one IP family, an
origin of the other; net/xlat.h) with real libsrt peers and ffmpeg in network
namespaces (netlab.py, ipv6=True: 2001:2::/48 next to 198.18.0.0/15).

  1 An IPv6 publisher and player reach an IPv4 origin: 3000 numbered
    messages byte-exact each way (publisher -> origin, origin -> player).
  2 The same with IPv4 callers and an IPv6 origin.
  3 ffmpeg publishes over IPv6 to the IPv4 origin; ffprobe plays it back over
    IPv6 and decodes it.
  4 With no IPv6 address on the origin-side port, an IPv4 caller of an IPv6
    origin is rejected with 1502 before the origin is contacted, and the log
    names the missing address.

Every test stops the forwarder with SIGTERM: exit 0, "mbufs in use at exit: 0".
Run as root: SRTFWD=... SRT_ORIGIN=... SRT_PEER=... /usr/bin/python3 tests/e2e/test_xlat.py
"""

import json
import os
import re
import shutil
import sys
import textwrap
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, tail  # noqa: E402

SRT_PORT = 10080
N = 3000
REJECT_RX = re.compile(r"^rejected reason=(\d+) .* after (\d+) ms", re.M)


def hostport(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def admin_get(fwd, path):
    with open(fwd.config_path) as f:
        m = re.search(r'^listen = "(127\.0\.0\.1:\d+)"', f.read(), re.M)
    with urllib.request.urlopen(f"http://{m.group(1)}{path}", timeout=5) as r:
        return json.loads(r.read().decode())


class XlatE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def lab(self):
        return NetLab(prefix="xl", srtfwd_bin=self.srtfwd_bin, ipv6=True)

    def origin(self, lab, ip):
        p = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", ip, "--port", str(SRT_PORT)],
                         name="origin")
        p.wait_for(r"^listening ", timeout=10)
        return p

    def stop_fwd(self, fwd):
        rc = fwd.stop(15)
        log = fwd.log()
        self.assertEqual(rc, 0, f"srtfwd exit {rc}:\n{tail(log)}")
        self.assertIn("mbufs in use at exit: 0", log)
        return final_counters(log)

    def wait_ok(self, p, timeout=60):
        rc = p.wait(timeout)
        self.assertEqual(rc, 0, f"{p.name} exit {rc}:\n{p.out_text()}{p.err_text()}")
        return p.out_text()

    def wait_sessions(self, fwd, n, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            s = admin_get(fwd, "/api/v1/sessions")
            if s["active"] == n:
                return s
            if time.monotonic() > deadline:
                self.fail(f"sessions active {s['active']}, expected {n}: {s}")
            time.sleep(0.1)

    def publish_play(self, caller_v6):
        with self.lab() as lab:
            f = lab.fwd(0)
            origin_ip = f.origin_ips[0] if caller_v6 else f.origin_ips6[0]
            vip = f.fwd_ip6 if caller_v6 else f.fwd_ip
            leg = f.fwd_origin_ip if caller_v6 else f.fwd_origin_ip6
            o = self.origin(lab, origin_ip)
            fwd = lab.srtfwd(lab.fwd_config(0, backends=[(origin_ip, SRT_PORT)]))
            to = hostport(vip, SRT_PORT)
            # The publisher sends more than the player needs: the player joins
            # the live stream after the publisher has connected.
            pub = lab.popen_in(lab.caller_ns(0), [
                self.peer_bin, "publish", "--to", to, "--streamid", "#!::r=live/x,m=publish",
                "--count", N + 1500, "--rate", 1000, "--size", 1316], name="pub")
            pub.wait_for(r"^connected to ", timeout=10)
            play = lab.popen_in(lab.caller_ns(0), [
                self.peer_bin, "play", "--to", to, "--streamid", "#!::r=live/x,m=request",
                "--count", N, "--start-seq-any", "--timeout-ms", 30000], name="play")
            play.wait_for(r"^connected to ", timeout=10)
            s = self.wait_sessions(fwd, 2)
            # Both sessions: a caller of one family, the origin of the other.
            for x in s["sessions"]:
                self.assertEqual(x["backend"], f"{origin_ip}:{SRT_PORT}", x)  # the API writes no brackets
                self.assertEqual(":" in x["caller"].rsplit(":", 1)[0], caller_v6, x)
            out = self.wait_ok(play)
            m = re.search(rf"^received {N}/{N} ok \(seq (\d+)\.\.(\d+)\)", out, re.M)
            self.assertTrue(m, out)
            self.assertEqual(int(m.group(2)) - int(m.group(1)) + 1, N)
            self.assertIn(f"sent {N + 1500}/{N + 1500}", self.wait_ok(pub))
            # The origin got every message of the publisher, from our leg of its family.
            o.wait_for(rf"^close \S+ #!::r=live/x,m=publish publish msgs={N + 1500} drops=0$", timeout=10)
            leg_rx = re.escape(f"[{leg}]:" if ":" in leg else f"{leg}:")
            self.assertRegex(o.out_text(), rf"(?m)^accept {leg_rx}\d+ ")
            self.wait_sessions(fwd, 0)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 2, c["srt"])
            self.assertEqual(c["srt"]["rejected"], 0, c["srt"])
            self.assertGreater(c["forwarded"], 2 * N, c)
            self.assertEqual(c["dropped"]["xlat_failed"], 0, c["dropped"])

    def test_1_ipv6_callers_ipv4_origin(self):
        self.publish_play(caller_v6=True)

    def test_2_ipv4_callers_ipv6_origin(self):
        self.publish_play(caller_v6=False)

    def test_3_ffmpeg_over_ipv6_to_ipv4_origin(self):
        for tool in ("ffmpeg", "ffprobe"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is missing: scripts/setup.sh installs it")
        with self.lab() as lab:
            f = lab.fwd(0)
            o = self.origin(lab, f.origin_ips[0])
            fwd = lab.srtfwd(lab.fwd_config(0, backends=[(f.origin_ips[0], SRT_PORT)]))
            vip = f"[{f.fwd_ip6}]:{SRT_PORT}"
            pub = lab.popen_in(lab.caller_ns(0), [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                "-i", "testsrc=size=320x240:rate=25", "-t", "10", "-c:v", "mpeg2video",
                "-g", "12", "-b:v", "400k", "-f", "mpegts",
                f"srt://{vip}?streamid=#!::r=live/ff,m=publish&mode=caller&pkt_size=1316"],
                name="ffmpeg-pub")
            o.wait_for(r"^accept \S+ #!::r=live/ff,m=publish publish$", timeout=15)
            probe = lab.run_in(lab.caller_ns(0), [
                "ffprobe", "-hide_banner", "-loglevel", "error", "-count_frames",
                "-select_streams", "v:0", "-read_intervals", "%+3",
                "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json",
                f"srt://{vip}?streamid=#!::r=live/ff,m=request&mode=caller"], timeout=30)
            self.assertEqual(probe.returncode, 0, probe.stdout + probe.stderr)
            st = json.loads(probe.stdout)["streams"][0]
            self.assertEqual((st["codec_name"], st["width"], st["height"]), ("mpeg2video", 320, 240), st)
            self.assertGreaterEqual(int(st["nb_read_frames"]), 50, st)
            self.assertEqual(self.wait_ok(pub, 30), "")
            o.wait_for(r"^close \S+ #!::r=live/ff,m=publish publish ", timeout=10)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 2, c["srt"])
            self.assertGreater(c["forwarded"], 1000, c)
            self.assertEqual(sum(c["dropped"].values()) - c["dropped"]["no_session"], 0, c["dropped"])

    def test_4_no_address_of_the_origins_family(self):
        with self.lab() as lab:
            f = lab.fwd(0)
            origin_ip = f.origin_ips6[0]
            # A UDP listener where the origin would be: it must hear nothing.
            spy = lab.popen_in(lab.origin_ns, ["/usr/bin/python3", "-c", textwrap.dedent(f"""
                import socket, sys
                s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                s.bind(("{origin_ip}", {SRT_PORT}))
                print("ready", flush=True)
                s.settimeout(8)
                try:
                    data, src = s.recvfrom(2048)
                    print("got", len(data), src[0], flush=True)
                except socket.timeout:
                    print("nothing", flush=True)
                """)], name="spy")
            spy.wait_for(r"^ready", timeout=10)
            # Port 1 (origin side) keeps its IPv4 address only.
            cfg = lab.fwd_config(0, backends=[(origin_ip, SRT_PORT)])
            cfg = re.sub(r'(?m)^ipv6 = "' + re.escape(f.fwd_origin_ip6) + r'/64"\ngateway6 = .*\n', "", cfg)
            self.assertNotIn(f.fwd_origin_ip6, cfg)
            fwd = lab.srtfwd(cfg, log_level="info")
            r = lab.run_in(lab.caller_ns(0), [
                self.peer_bin, "publish", "--to", f"{f.fwd_ip}:{SRT_PORT}",
                "--streamid", "#!::r=live/x,m=publish", "--connect-timeout-ms", 3000], timeout=20)
            m = REJECT_RX.search(r.stdout)
            self.assertTrue(m, r.stdout + r.stderr)
            self.assertEqual(int(m.group(1)), 1502, r.stdout)
            self.assertLess(int(m.group(2)), 1000, r.stdout)
            self.assertIn(f"no IPv6 address on port 1 to reach origin {origin_ip}", fwd.log())
            self.assertEqual(self.wait_ok(spy, 15).strip().splitlines()[-1], "nothing")
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["rejected_no_route"], 1, c["srt"])
            self.assertEqual(c["srt"]["established"], 0, c["srt"])


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root for network namespaces", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""[limits] end to end: allow and deny lists (IPv4 and IPv6), the per-source caps and the
INDUCTION rate, with real libsrt callers (srt-peer) and a libsrt origin.

  - a source in deny is refused with 1403 in under a second, at INDUCTION
    (libsrt reads the reason there too), and the origin never hears of it;
    a source outside the allow list likewise;
  - an allowed source is relayed; its second session over
    max_sessions_per_source = 1 is refused with 1402;
  - a source with a handshake in flight (the origin stopped, so it hangs)
    is refused 1402 at its next INDUCTION under max_handshakes_per_source = 1;
  - INDUCTIONs over inductions_per_source_s get no answer and are counted.
Every refusal is counted under its reason. Needs root; exits 77 otherwise."""
import json
import os
import re
import signal
import sys
import textwrap
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, tail  # noqa: E402

PY = "/usr/bin/python3"

# In the caller namespace, from SRC: `flood N` sends N INDUCTIONs at once and
# prints how many were answered; `inflight` starts a handshake (INDUCTION,
# CONCLUSION) and then sends a second INDUCTION, printing the handshake type
# of each answer (None: no answer).
RAW = textwrap.dedent(r'''
    import json, socket, struct, sys
    src, vip, what = sys.argv[1], sys.argv[2], sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    def hs(version, enc_ext, typ, sock, cookie, exts=b""):
        body = struct.pack("!IIIIIIII", version, enc_ext, 12345, 1500, 8192, typ, sock, cookie)
        return struct.pack("!IIII", 0x80000000, 0, 1000, 0) + body + bytes(16) + exts
    def ext(t, contents):
        return struct.pack("!HH", t, len(contents) // 4) + contents
    def sid(text):
        b = text.encode()
        b += bytes(-len(b) % 4)
        return b"".join(b[i:i + 4][::-1] for i in range(0, len(b), 4))
    def answer(timeout):
        s.settimeout(timeout)
        try:
            return s.recvfrom(2048)[0]
        except socket.timeout:
            return None
    def typ(a):
        return struct.unpack("!I", a[36:40])[0] if a else None
    if what == "flood":
        n = int(sys.argv[4])
        for i in range(n):
            s.sendto(hs(4, 2, 1, 0x100 + i, 0), (vip, 10080))
        got = 0
        while answer(0.5) is not None:
            got += 1
        print(json.dumps({"answered": got}))
    else:
        s.sendto(hs(4, 2, 1, 0x2000, 0), (vip, 10080))
        cookie = struct.unpack("!I", answer(2)[44:48])[0]
        hsreq = ext(1, struct.pack("!IIHH", 0x00010501, 0xBF, 120, 120))
        exts = hsreq + ext(5, sid("#!::r=live/hang,m=publish"))
        s.sendto(hs(5, 5, 0xFFFFFFFF, 0x2000, cookie, exts), (vip, 10080))
        first = typ(answer(0.2))  # none yet: the origin is stopped
        s.sendto(hs(4, 2, 1, 0x2001, 0), (vip, 10080))
        print(json.dumps({"conclusion": first, "second_induction": typ(answer(0.3))}))
''')


def metric(port, name, labels=""):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    m = re.search(rf"^{re.escape(name + labels)} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srtfwd = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer = binary("SRT_PEER")

    def peer_run(self, lab, src, mode, stream, expect_reject=None, **kw):
        f = lab.fwd(0)
        to, bind = (f"[{f.fwd_ip6}]:10080", f"[{src}]:0") if ":" in src else (f"{f.fwd_ip}:10080", f"{src}:0")
        argv = [self.peer, mode, "--to", to, "--bind", bind,
                "--streamid", f"#!::r=live/{stream},m={'publish' if mode == 'publish' else 'request'}"]
        if expect_reject is not None:
            argv += ["--expect-reject", str(expect_reject)]
        for k, v in kw.items():
            argv += [f"--{k.replace('_', '-')}", str(v)]
        return lab.run_in(lab.caller_ns(0), argv, timeout=30)

    def assert_refused_fast(self, r, code):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.search(r"rejected reason=(\d+) .* after (\d+) ms", r.stdout + r.stderr)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertEqual(int(m.group(1)), code)
        self.assertLess(int(m.group(2)), 1000, r.stdout + r.stderr)

    def test_limits(self):
        with NetLab(prefix="lim", caller_addrs=4, ipv6=True, srtfwd_bin=self.srtfwd) as lab:
            f = lab.fwd(0)
            ok, denied, outside, flooder = f.caller_ips  # .2 .3 .4 .5
            ok6, denied6 = f.caller_ips6[:2]
            origin = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", f.origin_ips[0],
                                                  "--port", "10080"], name="origin")
            origin.wait_for(r"^listening", 10)
            admin = lab.free_port()
            limits = textwrap.dedent(f"""
                [limits]
                allow = ["{ok}/32", "{denied}/32", "{flooder}/32", "2001:2::/48"]
                deny = ["{denied}/32", "{denied6}/128"]
                max_handshakes_per_source = 1
                max_sessions_per_source = 1
                inductions_per_source_s = 5
                """)
            fwd = lab.srtfwd(lab.fwd_config(0, backends=[(f.origin_ips[0], 10080)], admin_port=admin,
                                            extra=limits), log_level="info")

            # IPv6 lists: a denied address is refused, its neighbour in the
            # allowed 2001:2::/48 is relayed (a player the origin holds).
            self.assert_refused_fast(self.peer_run(lab, denied6, "publish", "denied6", 1403), 1403)
            r = self.peer_run(lab, ok6, "play", "ok6", count=1, timeout_ms=300)
            self.assertIn("connected to", r.stdout, r.stdout + r.stderr)
            origin.wait_for(r"^accept \S+ #!::r=live/ok6,m=request request$", timeout=5)
            self.assertNotIn("live/denied6", origin.out_text())

            # Denied, and outside the allow list: 1403 at once, nothing at the origin.
            self.assert_refused_fast(self.peer_run(lab, denied, "publish", "denied4", 1403), 1403)
            self.assert_refused_fast(self.peer_run(lab, outside, "play", "outside4", 1403), 1403)
            self.assertNotIn("live/denied4", origin.out_text())
            self.assertNotIn("live/outside4", origin.out_text())

            # Allowed: relayed. A second session of the same source: 1402.
            pub = lab.popen_in(lab.caller_ns(0), [
                self.peer, "publish", "--to", f"{f.fwd_ip}:10080", "--bind", f"{ok}:0",
                "--streamid", "#!::r=live/ok,m=publish", "--count", "0"], name="pub")
            origin.wait_for(r"^accept \S+ #!::r=live/ok,m=publish publish$", timeout=10)
            self.assert_refused_fast(self.peer_run(lab, ok, "play", "ok", 1402), 1402)
            self.assertEqual(len(re.findall(r"^accept .*live/ok,", origin.out_text(), re.M)), 1,
                             origin.out_text())
            pub.send_signal(signal.SIGTERM)
            self.assertEqual(pub.wait(15), 0, pub.err_text())
            # Its session over (SHUTDOWN), the source may play.
            deadline = time.monotonic() + 10
            while metric(admin, "srtfwd_sessions_active") != 0:
                self.assertLess(time.monotonic(), deadline, origin.out_text())
                time.sleep(0.1)
            r = self.peer_run(lab, ok, "play", "ok", count=1, timeout_ms=300)
            self.assertNotIn("rejected", r.stdout + r.stderr)

            # INDUCTION rate: 40 at once, about a second's worth (5) answered.
            r = lab.run_in(lab.caller_ns(0), [PY, "-c", RAW, flooder, f.fwd_ip, "flood", "40"], timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            answered = json.loads(r.stdout)["answered"]
            self.assertGreaterEqual(answered, 5)
            self.assertLessEqual(answered, 7)
            self.assertGreaterEqual(metric(admin, "srtfwd_srt_inductions_dropped_total"), 40 - answered)

            # A handshake in flight (the origin stopped): the source's next
            # INDUCTION is refused 1402.
            time.sleep(1.1)  # the flooder's bucket refills (a second's worth)
            origin.send_signal(signal.SIGSTOP)
            try:
                r = lab.run_in(lab.caller_ns(0), [PY, "-c", RAW, flooder, f.fwd_ip, "inflight"], timeout=30)
            finally:
                origin.send_signal(signal.SIGCONT)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(json.loads(r.stdout), {"conclusion": None, "second_induction": 1000 + 1402})

            rejected = {k: metric(admin, "srtfwd_srt_rejected_total", f'{{reason="{k}"}}')
                        for k in ("source_denied", "source_handshakes", "source_sessions")}
            self.assertEqual(rejected, {"source_denied": 3, "source_handshakes": 1, "source_sessions": 1})
            code = fwd.stop()
            log = fwd.log()
            self.assertEqual(code, 0, tail(log))
            self.assertIn("mbufs in use at exit: 0", log)
            c = final_counters(log)
            self.assertEqual(c["srt"]["rejected_source_denied"], 3, c["srt"])
            self.assertGreaterEqual(c["srt"]["dropped_inductions"], 40 - answered)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)
    unittest.main(verbosity=2)

"""End-to-end: one SYN cookie secret for a fleet ([srt] cookie_secret_file).

Two srtfwd processes (one worker each, idle back-off, the two CPUs shared
crosswise) read one secret file; one caller namespace is linked to both
(netlab shared_caller) and talks from one address and port, as a caller
behind a router whose ECMP choice changes between its two handshake packets:

  - an INDUCTION answered by host A and a CONCLUSION (A's cookie) sent to host
    B connect: B relays to a real libsrt origin, answers with the origin's
    CONCLUSION response, and data then flows through B to the origin;
  - rotation: the file rewritten and SIGHUP; a cookie from before still
    connects, a cookie of the new secret works across hosts, a bad file on
    SIGHUP keeps the running secret (logged, counted);
  - a host with a different secret ignores the CONCLUSION (bad_cookie).
Run as root with SRTFWD and SRT_ORIGIN set (meson does it)."""

import json
import os
import re
import signal
import sys
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from netlab import NetLab, binary, final_counters  # noqa: E402

PY = "/usr/bin/python3"
SRT_PORT = 10080

# Runs in the caller namespace, from BIND_IP:BIND_PORT (the cookie is keyed on
# them, so both phases use the same):
#   induction HOST E2E_DIR            prints {"cookie": C}
#   conclusion HOST E2E_DIR COOKIE RESOURCE N
#                             CONCLUSION (retransmitted as a caller does) with
#                             that cookie; prints the answer's type; with an
#                             answer of type CONCLUSION, sends N data packets
#                             to the socket ID the answer names.
CALLER = textwrap.dedent(r'''
    import json, socket, struct, sys, time
    bind_ip, bind_port, phase, host = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind_ip, bind_port))
    s.settimeout(1.0)
    sys.path.insert(0, sys.argv[5])
    from netlab import srt_ext, srt_handshake, srt_sid
    SOCK, ISN = 0x1A2B3C4D, 12345
    def hs(version, enc_ext, typ, cookie, exts=b""):
        return srt_handshake(version, enc_ext, typ, cookie, SOCK, exts, isn=ISN)
    def ask(packet, tries):
        for _ in range(tries):
            s.sendto(packet, (host, 10080))
            try:
                while True:
                    data, _ = s.recvfrom(2048)
                    if len(data) >= 48 and data[0] & 0x80 and struct.unpack("!H", data[0:2])[0] & 0x7fff == 0:
                        return data
            except socket.timeout:
                continue
        return None
    if phase == "induction":
        a = ask(hs(4, 2, 1, 0), 3)
        print(json.dumps({"cookie": struct.unpack("!I", a[44:48])[0] if a else None}))
        sys.exit(0)
    cookie, resource, n = int(sys.argv[6]), sys.argv[7], int(sys.argv[8])
    hsreq = srt_ext(1, struct.pack("!IIHH", 0x00010501, 0xBF, 120, 120))
    exts = hsreq + srt_ext(5, srt_sid("#!::r=" + resource + ",m=publish"))
    sent_at = time.monotonic()
    a = ask(hs(5, 0x5, 0xFFFFFFFF, cookie, exts), 3)
    out = {"type": struct.unpack("!I", a[36:40])[0] if a else None}
    if a is not None and out["type"] == 0xFFFFFFFF and n > 0:
        # Live data as libsrt sends it: our clock read 1000 us at the
        # CONCLUSION; one message per packet (PP=11), in sequence from the ISN.
        peer = struct.unpack("!I", a[40:44])[0]
        for i in range(n):
            ts = 1000 + int((time.monotonic() - sent_at) * 1e6)
            payload = ("msg %d " % i).encode().ljust(188, b".")
            s.sendto(struct.pack("!IIII", ISN + i, 0xC0000000 | (i + 1), ts, peer) + payload,
                     (host, 10080))
            time.sleep(0.01)
        out["sent"] = n
    print(json.dumps(out))
''')

SECRET_A = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
SECRET_B = "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6"
SECRET_C = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
CONCLUSION = 0xFFFFFFFF


class CookieSecret(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            if os.environ.get("CI") == "true":  # under CI a test that cannot run fails
                raise RuntimeError("needs root (network namespaces)")
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.srtfwd = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")

    def caller(self, lab, port, *args):
        r = lab.run_in(lab.caller_ns(0), [PY, "-c", CALLER, lab.fwd(0).caller_ip, str(port), *args],
                       timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def induction(self, lab, port, fwd):
        cookie = self.caller(lab, port, "induction", lab.fwd(fwd).fwd_ip, HERE)["cookie"]
        self.assertIsNotNone(cookie, f"no INDUCTION answer from forwarder {fwd}")
        return cookie

    def conclusion(self, lab, port, fwd, cookie, resource, n=0):
        return self.caller(lab, port, "conclusion", lab.fwd(fwd).fwd_ip, HERE, str(cookie),
                           resource, str(n))

    def start_fwd(self, lab, fwd, secret_path, lcores):
        f = lab.fwd(fwd)
        cfg = lab.fwd_config(fwd, backends=[(f.origin_ip, SRT_PORT)],
                             srt_extra=[f'cookie_secret_file = "{secret_path}"'])
        return lab.srtfwd(cfg, fwd=fwd, lcores=lcores)

    def test_fleet_secret(self):
        with NetLab(prefix="cks", forwarders=2, shared_caller=True, srtfwd_bin=self.srtfwd) as lab:
            shared = os.path.join(lab.workdir, "cookie.secret")
            with open(shared, "w") as fh:
                fh.write(SECRET_A + "\n")
            # Bound to every address: each forwarder reaches it on its own subnet.
            origin = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", "0.0.0.0",
                                                  "--port", str(SRT_PORT)])
            origin.wait_for(r"^listening", 10)
            # One worker each; main and worker lcores crosswise on the two CPUs.
            host_a = self.start_fwd(lab, 0, shared, "0@0,1@1")
            host_b = self.start_fwd(lab, 1, shared, "0@1,1@0")
            for h in (host_a, host_b):
                self.assertRegex(h.log(), r"SYN cookies: the shared secret of ")

            # 1. INDUCTION at A, CONCLUSION at B: B connects it to the origin
            # and relays the data.
            cookie = self.induction(lab, 40001, 0)
            out = self.conclusion(lab, 40001, 1, cookie, "live/across", n=50)
            self.assertEqual(out["type"], CONCLUSION, out)
            self.assertEqual(out["sent"], 50)
            # B's origin-side address is the one the origin saw.
            self.assertRegex(origin.out_text(), rf"(?m)^accept {re.escape(lab.fwd(1).fwd_origin_ip)}"
                                                rf":\d+ \S*live/across\S* publish$")
            # The origin's connection ends when our raw caller falls silent
            # (libsrt's peer idle timeout); its line counts what it received.
            m = origin.wait_for(r"(?m)^close \S+ \S*live/across\S* publish msgs=(\d+)", 20)
            self.assertEqual(int(m.group(1)), 50, origin.out_text())

            # 2. Rotation: a cookie handed out before (by B) still connects
            # (at A) after the file changed and both hosts reloaded it.
            old_cookie = self.induction(lab, 40002, 1)
            with open(shared, "w") as fh:
                fh.write(SECRET_B + "\n")
            for h in (host_a, host_b):
                h.signal(signal.SIGHUP)
                h.wait_log(r"SIGHUP: srt.cookie_secret_file \S+: new secret", 10)
            self.assertEqual(self.conclusion(lab, 40002, 0, old_cookie, "live/rotated")["type"],
                             CONCLUSION)
            # The new secret works across hosts too.
            new_cookie = self.induction(lab, 40003, 1)
            self.assertNotEqual(new_cookie, old_cookie)
            self.assertEqual(self.conclusion(lab, 40003, 0, new_cookie, "live/new")["type"],
                             CONCLUSION)

            # 3. A bad file on SIGHUP: A keeps its secret (B's cookies still
            # verify there) and says why.
            fresh = self.induction(lab, 40004, 1)
            with open(shared, "w") as fh:
                fh.write("0123\n")
            host_a.signal(signal.SIGHUP)
            host_a.wait_log(r"SIGHUP: srt.cookie_secret_file not reloaded, the running secret "
                            r"stays .*too short", 10)
            self.assertEqual(self.conclusion(lab, 40004, 0, fresh, "live/kept")["type"], CONCLUSION)

            self.assertEqual(host_b.stop(), 0)
            cb = final_counters(host_b.log())
            self.assertEqual(cb["srt"]["cookie_secret_rotations"], 1)
            self.assertEqual(cb["srt"]["bad_cookie"], 0)
            self.assertEqual(cb["srt"]["established"], 1)  # live/across

            # 4. A host with another secret ignores A's cookie: no answer at
            # all (a stateless drop), counted as bad_cookie.
            other = os.path.join(lab.workdir, "other.secret")
            with open(other, "w") as fh:
                fh.write(SECRET_C + "\n")
            host_c = self.start_fwd(lab, 1, other, "0@1,1@0")
            cookie = self.induction(lab, 40005, 0)
            self.assertIsNone(self.conclusion(lab, 40005, 1, cookie, "live/refused")["type"])
            self.assertEqual(host_c.stop(), 0)
            cc = final_counters(host_c.log())
            self.assertGreaterEqual(cc["srt"]["bad_cookie"], 1)
            self.assertEqual(cc["srt"]["conclusions"], 0)
            self.assertEqual(cc["srt"]["established"], 0)

            self.assertEqual(host_a.stop(), 0)
            ca = final_counters(host_a.log())
            self.assertEqual(ca["srt"]["cookie_secret_rotations"], 1)
            self.assertEqual(ca["srt"]["cookie_secret_failures"], 1)
            self.assertEqual(ca["srt"]["established"], 3)  # rotated, new, kept
            for h in (host_a, host_b, host_c):
                self.assertIn("mbufs in use at exit: 0", h.log())
            self.assertNotIn("live/refused", origin.out_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)

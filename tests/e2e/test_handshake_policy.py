"""End-to-end tests of the handshake policy that libsrt peers cannot easily
provoke: handshakes built by hand (per the SRT draft, docs/architecture.md) from the caller
namespace to the real forwarder, with a real libsrt origin behind it.

  - an HSv4-only CONCLUSION is rejected with SRT_REJ_VERSION (8);
  - a rendezvous handshake (WAVEAHAND) to a listener is rejected 1405;
  - a CONCLUSION with a GROUP extension (bonding) is rejected 15;
  - a CONCLUSION with a stream ID without a resource, 1400; one without a
    stream ID goes on as [srt] default_streamid (SRS's default stream);
  - a retransmitted CONCLUSION is answered with the same cached answer, and
    the origin sees one connection, not two.
Run as root with SRTFWD and SRT_ORIGIN set (meson does it)."""

import json
import os
import re
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary  # noqa: E402

PY = "/usr/bin/python3"

# Runs in the caller namespace: INDUCTION, then the CONCLUSION variant named
# on the command line (twice), prints what came back as JSON.
CALLER = textwrap.dedent(r'''
    import json, socket, struct, sys
    vip, variant = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    s.settimeout(1.5)
    SOCK = 0x1A2B3C4D
    def hs(version, enc_ext, typ, cookie, exts=b"", dst=0):
        body = struct.pack("!IIIIIIII", version, enc_ext, 12345, 1500, 8192, typ, SOCK, cookie)
        return struct.pack("!IIII", 0x80000000, 0, 1000, dst) + body + bytes(16) + exts
    def ext(t, contents):
        return struct.pack("!HH", t, len(contents) // 4) + contents
    def sid(text):
        b = text.encode()
        b += bytes(-len(b) % 4)
        return b"".join(b[i:i + 4][::-1] for i in range(0, len(b), 4))
    def answer():
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            return None
        return data
    out = {}
    if variant == "waveahand":
        s.sendto(hs(5, 0, 0, 0), (vip, 10080))
        a = answer()
        out["type"] = struct.unpack("!I", a[36:40])[0] if a else None
        print(json.dumps(out)); sys.exit(0)
    s.sendto(hs(4, 2, 1, 0), (vip, 10080))
    ind = answer()
    cookie = struct.unpack("!I", ind[44:48])[0]
    hsreq = ext(1, struct.pack("!IIHH", 0x00010501, 0xBF, 120, 120))
    version, flags, exts = 5, 0x5, hsreq + ext(5, sid("#!::r=live/policy,m=publish"))
    if variant == "hsv4":
        version, flags, exts = 4, 2, b""
    elif variant == "group":
        exts += ext(8, struct.pack("!III", 0x12345678, 0x00010000, 0))
    elif variant == "nosid":
        exts = hsreq
    elif variant == "noresource":
        exts = hsreq + ext(5, sid("#!::m=publish,u=someone"))
    conclusion = hs(version, flags, 0xFFFFFFFF, cookie, exts)
    answers = []
    for _ in range(2):
        s.sendto(conclusion, (vip, 10080))
        a = answer()
        answers.append(a.hex() if a else None)
    out["types"] = [struct.unpack("!I", bytes.fromhex(a)[36:40])[0] if a else None for a in answers]
    out["answers"] = answers
    print(json.dumps(out))
''')


class HandshakePolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            if os.environ.get("CI") == "true":  # under CI a test that cannot run fails
                raise RuntimeError("needs root (network namespaces)")
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.srtfwd = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")

    def run_case(self, lab, f, variant):
        r = lab.run_in(lab.caller_ns(), [PY, "-c", CALLER, f.fwd_ip, variant], timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def test_policy(self):
        with NetLab(prefix="hsp", srtfwd_bin=self.srtfwd) as lab:
            f = lab.fwd(0)
            origin = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", f.origin_ips[0],
                                                  "--port", "10080"])
            origin.wait_for(r"^listening", 10)
            fwd = lab.srtfwd(lab.fwd_config(0, backends=[(f.origin_ips[0], 10080)]))

            # Rejections travel as handshake type 1000 + reason.
            # Each CONCLUSION is sent twice: a rejection is stateless, so both
            # copies get one.
            self.assertEqual(self.run_case(lab, f, "hsv4")["types"], [1000 + 8] * 2)
            self.assertEqual(self.run_case(lab, f, "waveahand")["type"], 1000 + 1405)
            self.assertEqual(self.run_case(lab, f, "group")["types"], [1000 + 15] * 2)
            self.assertEqual(self.run_case(lab, f, "noresource")["types"], [1000 + 1400] * 2)

            # A good CONCLUSION twice: the origin's CONCLUSION comes back (type
            # 0xFFFFFFFF) both times, byte for byte the same apart from the
            # timestamp (bytes 8..11, our clock moves on), and the origin
            # accepted exactly one connection.
            ok = self.run_case(lab, f, "good")
            self.assertEqual(ok["types"], [0xFFFFFFFF, 0xFFFFFFFF], ok)
            a, b = (bytes.fromhex(x) for x in ok["answers"])
            self.assertEqual(a[:8] + a[12:], b[:8] + b[12:])
            self.assertEqual(len(re.findall(r"^accept ", origin.out_text(), re.M)), 1,
                             origin.out_text())

            # No stream ID: routed as SRS's default stream ID, the origin answers.
            self.assertEqual(self.run_case(lab, f, "nosid")["types"], [0xFFFFFFFF] * 2)
            self.assertEqual(len(re.findall(r"^accept ", origin.out_text(), re.M)), 2,
                             origin.out_text())

            self.assertEqual(fwd.stop(), 0)
            log = fwd.log()
            self.assertIn("mbufs in use at exit: 0", log)
            c = json.loads(re.findall(r"final counters: (\{.*\})", log)[-1])
            self.assertEqual(c["srt"]["rejected_version"], 2)
            self.assertEqual(c["srt"]["rejected_bad_mode"], 1)
            self.assertEqual(c["srt"]["rejected_group"], 2)
            self.assertEqual(c["srt"]["rejected_bad_request"], 2)
            self.assertEqual(c["srt"]["established"], 2)
            self.assertGreaterEqual(c["srt"]["cached_answers"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)

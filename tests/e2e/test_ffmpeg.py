#!/usr/bin/python3
"""ffmpeg through srtfwd: the encoder and player operators actually point at it.

An ffmpeg encoder publishes an MPEG-TS test pattern to the forwarder's VIP
(SRS stream-ID form, 1316-byte payloads, ffmpeg's own SRT defaults), the libsrt
origin behind it takes the stream, and ffprobe plays it back through the
forwarder and must decode video frames of the right codec and size. Once
plain, once with AES-256 on every hop (ffmpeg, origin). The forwarder must then
exit 0 with every mbuf back and the two sessions counted.

Needs root (network namespaces); exits 77 (skipped) otherwise.
"""
import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, tail  # noqa: E402

PASS = "srtfwd-ffmpeg-secret-256"
SECONDS = 14  # the publisher's run; ffprobe reads 3 s of it


class Ffmpeg(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        for tool in ("ffmpeg", "ffprobe"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is missing: scripts/setup.sh installs it")

    def publish_and_probe(self, passphrase=None):
        with NetLab(prefix="ffm", srtfwd_bin=self.srtfwd_bin) as lab:
            f = lab.fwd(0)
            crypto = ["--passphrase", passphrase, "--pbkeylen", "32"] if passphrase else []
            origin = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", f.origin_ips[0],
                                                  "--port", "10080", *crypto], name="origin")
            origin.wait_for(r"^listening ", timeout=10)
            fwd = lab.srtfwd(lab.fwd_config(0, backends=[(f.origin_ips[0], 10080)]), log_level="info")
            vip = f"{f.fwd_ip}:10080"
            opts = f"&passphrase={passphrase}&pbkeylen=32" if passphrase else ""
            pub = lab.popen_in(lab.caller_ns(0), [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                "-i", "testsrc=size=320x240:rate=25", "-t", str(SECONDS), "-c:v", "mpeg2video",
                "-g", "12", "-b:v", "400k", "-f", "mpegts",
                f"srt://{vip}?streamid=#!::r=live/ff,m=publish&mode=caller&pkt_size=1316{opts}"],
                name="ffmpeg-pub")
            origin.wait_for(r"^accept \S+ #!::r=live/ff,m=publish publish$", timeout=15)
            probe = lab.run_in(lab.caller_ns(0), [
                "ffprobe", "-hide_banner", "-loglevel", "error", "-count_frames",
                "-select_streams", "v:0", "-read_intervals", "%+3",
                "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json",
                f"srt://{vip}?streamid=#!::r=live/ff,m=request&mode=caller{opts}"], timeout=30)
            self.assertEqual(probe.returncode, 0, probe.stdout + probe.stderr)
            streams = json.loads(probe.stdout)["streams"]
            self.assertEqual(len(streams), 1, probe.stdout)
            st = streams[0]
            self.assertEqual((st["codec_name"], st["width"], st["height"]), ("mpeg2video", 320, 240), st)
            # 3 s at 25 fps is 75 frames; a player joins mid-GOP and skips to the next one.
            self.assertGreaterEqual(int(st["nb_read_frames"]), 50, st)
            origin.wait_for(r"^accept \S+ #!::r=live/ff,m=request request$", timeout=5)
            rc = pub.wait(SECONDS + 15)
            self.assertEqual(rc, 0, f"ffmpeg exit {rc}: {pub.err_text()}")
            origin.wait_for(r"^close \S+ #!::r=live/ff,m=publish publish ", timeout=10)
            code = fwd.stop(15)
            log = fwd.log()
            self.assertEqual(code, 0, tail(log))
            self.assertIn("mbufs in use at exit: 0", log)
            c = final_counters(log)
            self.assertEqual(c["srt"]["established"], 2, c["srt"])
            self.assertEqual(c["srt"]["rejected"], 0, c["srt"])
            self.assertGreater(c["forwarded"], 1000, c)
            self.assertEqual(sum(c["dropped"].values()) - c["dropped"]["no_session"], 0, c["dropped"])

    def test_plain(self):
        self.publish_and_probe()

    def test_aes256(self):
        self.publish_and_probe(PASS)


if __name__ == "__main__":
    if os.geteuid() != 0:
        # meson counts 77 as skipped; under CI a test that cannot run fails.
        print("needs root (network namespaces)", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)
    unittest.main(verbosity=2)

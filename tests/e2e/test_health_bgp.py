"""End-to-end: GET /api/v1/health and the [bgp] hooks around a SIGTERM.

One srtfwd with ready_command and draining_command (each writes a marker file
with the time), withdraw_wait_ms and a drain:

  - health answers 200 "ready" once srtfwd is ready, and ready_command ran;
  - SIGTERM: health is 503 "draining" at once and draining_command runs;
  - during withdraw_wait_ms a new caller is still accepted (the routers have
    not withdrawn the route yet); after it the drain refuses new callers with
    1503;
  - an established publisher flows through all of it, every message reaches
    the origin, and srtfwd exits 0 when it ends.
Run as root with SRTFWD, SRT_PEER and SRT_ORIGIN set (meson does it)."""

import json
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, tail  # noqa: E402

SRT_PORT = 10080
WITHDRAW_MS = 3000
DRAIN_MS = 8000
EST_COUNT = 600  # 6 s at 100/s: through the withdraw wait and into the drain


def pub_sid(resource):
    return f"#!::r={resource},m=publish"


class HealthBgp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            if os.environ.get("CI") == "true":  # under CI a test that cannot run fails
                raise RuntimeError("needs root (network namespaces)")
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.srtfwd = binary("SRTFWD")
        cls.peer_bin = binary("SRT_PEER")
        cls.origin_bin = binary("SRT_ORIGIN")

    def wait_file(self, path, timeout):
        deadline = time.monotonic() + timeout
        while not (os.path.exists(path) and os.path.getsize(path) > 0):
            if time.monotonic() > deadline:
                self.fail(f"{path} not written within {timeout} s")
            time.sleep(0.02)
        with open(path) as f:
            return float(f.read().strip())

    def health(self, fwd):
        status, body = fwd.admin_get("/api/v1/health")
        return status, json.loads(body)

    def test_sigterm_timeline(self):
        with NetLab(prefix="hbgp", srtfwd_bin=self.srtfwd) as lab:
            f = lab.fwd(0)
            ready_marker = os.path.join(lab.workdir, "ready.at")
            draining_marker = os.path.join(lab.workdir, "draining.at")
            origin = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", f.origin_ip,
                                                  "--port", str(SRT_PORT)])
            origin.wait_for(r"^listening", 10)
            cfg = lab.fwd_config(0, backends=[(f.origin_ip, SRT_PORT)],
                                 srt_extra=[f"drain_timeout_ms = {DRAIN_MS}"],
                                 extra=f'\n[bgp]\nready_command = "date +%s.%N > {ready_marker}"\n'
                                       f'draining_command = "date +%s.%N > {draining_marker}"\n'
                                       f"withdraw_wait_ms = {WITHDRAW_MS}\n")
            fwd = lab.srtfwd(cfg)

            # Ready: the hook ran, the check says so.
            self.wait_file(ready_marker, 10)
            self.assertEqual(self.health(fwd), (200, {"state": "ready", "sessions": 0}))

            def peer(verb_args, name):
                return lab.popen_in(lab.caller_ns(), [self.peer_bin, "publish", "--to",
                                                      f"{f.fwd_ip}:{SRT_PORT}", *verb_args],
                                    name=name)

            est = peer(["--streamid", pub_sid("live/established"), "--count", str(EST_COUNT),
                        "--rate", "100"], "established")
            est.wait_for(r"^connected to ", 10)

            # SIGTERM: draining at once, the hook runs.
            term_at = time.time()
            fwd.signal(signal.SIGTERM)
            deadline = time.monotonic() + 1.0
            while True:
                status, body = self.health(fwd)
                if status == 503:
                    break
                self.assertLess(time.monotonic(), deadline, f"still {status} {body} 1 s after SIGTERM")
                time.sleep(0.01)
            self.assertEqual(body["state"], "draining")
            ran_at = self.wait_file(draining_marker, 5)
            self.assertGreaterEqual(ran_at, term_at - 0.05)
            self.assertLess(ran_at, term_at + 1.0)

            # Within withdraw_wait_ms: a new caller is accepted, sends, and ends.
            late = lab.run_in(lab.caller_ns(), [self.peer_bin, "publish", "--to",
                                                f"{f.fwd_ip}:{SRT_PORT}", "--streamid",
                                                pub_sid("live/withdrawing"), "--count", "30",
                                                "--rate", "100", "--connect-timeout-ms", "2000"],
                              timeout=20)
            self.assertEqual(late.returncode, 0, late.stdout + late.stderr)
            self.assertIn("sent 30/30", late.stdout)
            self.assertNotRegex(fwd.log(), r"draining: \d+ session",
                                "the drain began before the withdraw wait ended")
            self.assertEqual(self.health(fwd)[0], 503)

            # After it: the drain, new callers refused with 1503.
            fwd.wait_log(r"draining: \d+ session", timeout=WITHDRAW_MS / 1000 + 5)
            self.assertGreaterEqual(time.time() - term_at, WITHDRAW_MS / 1000 - 0.1)
            refused = lab.run_in(lab.caller_ns(), [self.peer_bin, "publish", "--to",
                                                   f"{f.fwd_ip}:{SRT_PORT}", "--streamid",
                                                   pub_sid("live/drained"), "--count", "10",
                                                   "--expect-reject", "1503",
                                                   "--connect-timeout-ms", "3000"], timeout=20)
            self.assertEqual(refused.returncode, 0, refused.stdout + refused.stderr)
            self.assertEqual(self.health(fwd), (503, {"state": "draining", "sessions": 1}))

            # The established publisher went through all of it.
            est.wait(30)
            self.assertEqual(est.returncode, 0, est.out_text() + est.err_text())
            self.assertIn(f"sent {EST_COUNT}/{EST_COUNT}", est.out_text())
            rc = fwd.proc.wait(DRAIN_MS / 1000 + 10)
            log = fwd.log()
            self.assertEqual(rc, 0, tail(log))
            self.assertIn("mbufs in use at exit: 0", log)
            m = origin.wait_for(r"(?m)^close \S+ \S*live/established\S* publish msgs=(\d+)", 10)
            self.assertEqual(int(m.group(1)), EST_COUNT)
            self.assertRegex(origin.out_text(), r"(?m)^accept \S+ \S*live/withdrawing\S* publish$")
            self.assertNotIn("live/drained", origin.out_text())

            # The log tells the timeline; the counters the commands' ends.
            self.assertRegex(log, r"bgp.ready_command: exit status 0")
            self.assertRegex(log, r"bgp.draining_command: exit status 0")
            self.assertLess(log.index("withdrawing: health draining"),
                            re.search(r"draining: \d+ session", log).start())
            c = final_counters(log)
            self.assertEqual(c["health"], {"ready": 0, "commands": 2, "command_failures": 0,
                                           "command_timeouts": 0})
            self.assertEqual(c["srt"]["rejected_down"], 1)
            self.assertEqual(c["srt"]["established"], 2)

    def test_hung_draining_command_is_killed_by_the_deadline(self):
        """A draining_command that never ends (a birdc that cannot reach BIRD)
        holds the stop no longer than withdraw_wait_ms + drain_timeout_ms."""
        with NetLab(prefix="hbgk", srtfwd_bin=self.srtfwd) as lab:
            f = lab.fwd(0)
            cfg = lab.fwd_config(0, backends=[(f.origin_ip, SRT_PORT)],
                                 srt_extra=["drain_timeout_ms = 1000"],
                                 extra='\n[bgp]\nready_command = "exit 7"\n'
                                       'draining_command = "echo withdrawing; sleep 60"\n'
                                       "withdraw_wait_ms = 500\n")
            fwd = lab.srtfwd(cfg)
            fwd.wait_log(r"bgp.ready_command: exit status 7", 10)
            self.assertEqual(self.health(fwd)[0], 200)  # a failed hook changes no state
            t0 = time.monotonic()
            fwd.signal(signal.SIGTERM)
            rc = fwd.proc.wait(15)
            elapsed = time.monotonic() - t0
            log = fwd.log()
            self.assertEqual(rc, 0, tail(log))
            self.assertGreaterEqual(elapsed, 1.4, "the stop did not wait for the deadline")
            self.assertLess(elapsed, 1.5 + 2.0, f"exit {elapsed:.2f} s after SIGTERM")
            self.assertRegex(log, r"bgp.draining_command: \| withdrawing")
            self.assertRegex(log, r"bgp.draining_command: killed")
            c = final_counters(log)
            self.assertEqual(c["health"], {"ready": 0, "commands": 2, "command_failures": 1,
                                           "command_timeouts": 1})


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""End-to-end test of the session directory and the second chance between
hosts (control/directory.h, net/encap.h): two srtfwd hosts behind a router's
route to one VIP, sharing a Redis, one worker each. A libsrt publisher
streams 3000 numbered messages to the VIP through the first host; mid-stream
the router's next-hop set changes so the flow now reaches the second host,
which has no session for it: it finds the owner in the directory and sends
the flow on to it, encapsulated. Every message reaches the origin byte-exact
and in order (srt-origin checks the numbering), and the counters show the
hops on the second host and the decapsulations on the first.

Run as root:
  SRTFWD=.../srtfwd SRT_ORIGIN=.../srt-origin SRT_PEER=.../srt-peer \
      /usr/bin/python3 tests/e2e/test_second_chance.py [-k NAME]
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_control as tc  # noqa: E402  (helpers; its tests are not collected here)
from netlab import NetLab, binary  # noqa: E402
from test_control import ORIGIN_IPS, SRT_PORT, pub_sid  # noqa: E402

VIP4 = "198.18.200.1"
MESSAGES = 3000


class SecondChanceE2E(unittest.TestCase):
    maxDiff = None

    wait_ok = tc.ControlE2E.wait_ok
    stop_fwd = tc.ControlE2E.stop_fwd
    wait_sessions = tc.ControlE2E.wait_sessions

    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def poll(self, what, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while not (v := pred()):
            self.assertLess(time.monotonic(), deadline, what)
            time.sleep(0.05)
        return v

    def test_flow_rehashed_to_the_other_host_takes_the_hop(self):
        with NetLab(prefix="hop", srtfwd_bin=self.srtfwd_bin, router=True, forwarders=2) as lab:
            redis = lab.redis()
            # The origin on every forwarder's origin link; both hosts register
            # it (the default backend) in the shared Redis.
            origin = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", "0.0.0.0", "--port", str(SRT_PORT)],
                                  name="origin")
            origin.wait_for(r"^listening ", timeout=10)
            env = dict(os.environ, PROXY_DEFAULT_BACKEND_ENABLED="on", PROXY_DEFAULT_BACKEND_IP=ORIGIN_IPS[0],
                       PROXY_DEFAULT_BACKEND_SRT=str(SRT_PORT))
            # Hop packets come from the other host's data address, in another
            # subnet behind the router.
            directory = '\n[directory]\npeers = ["198.18.0.0/16"]\n'
            fwds = [lab.srtfwd(lab.fwd_config(i, redis=redis, port0_extra=[f'vips = ["{VIP4}"]'],
                                              idle_timeout_ms=3000, extra=directory),
                               fwd=i, env=env, log_level="info")
                    for i in range(2)]
            for f in fwds:
                f.wait_log(r"directory: sessions in redis as", 10)
            self.poll("the origin is not registered", lambda: len(redis.cmd("KEYS", "srs-proxy-server:*")) == 2)
            lab.route_vip(VIP4, via=[lab.fwd(0).fwd_ip])
            caller = lab.callers[0]
            pub = lab.popen_in(caller.ns, [self.peer_bin, "publish", "--to", f"{VIP4}:{SRT_PORT}", "--streamid",
                                           pub_sid("live/hop"), "--count", str(MESSAGES), "--rate", "600"],
                               name="pub")
            pub.wait_for(r"^connected to ", timeout=10)
            self.wait_sessions(fwds[0], 1)
            # The owner wrote the session to the directory, naming itself.
            keys = self.poll("no directory entry", lambda: redis.cmd("KEYS", "srtfwd:session:*"))
            self.assertEqual(len(keys), 1, keys)
            entry = redis.cmd("GET", keys[0])
            entry = entry.decode() if isinstance(entry, bytes) else entry
            self.assertIn(f'"owner":"{lab.fwd(0).fwd_ip}"', entry)
            # A second of the stream through the owner, then the router moves
            # the flow to the other host.
            self.poll("the stream does not flow", lambda: fwds[0].metric("srtfwd_forwarded_packets_total") > 500)
            lab.route_vip(VIP4, via=[lab.fwd(1).fwd_ip])
            self.poll("no hop on the second host", lambda: fwds[1].metric("srtfwd_hopped_packets_total") > 100,
                      timeout=15)
            self.assertIn(f"sent {MESSAGES}/{MESSAGES}", self.wait_ok(pub, 60))
            origin.wait_for(rf"^close \S+ #!::r=live/hop,m=publish publish msgs={MESSAGES} drops=0$", timeout=15)
            second = self.stop_fwd(fwds[1])
            owner = self.stop_fwd(fwds[0])
            print(f"second host: hopped {second['hopped']}, hops {second['control']['hops_installed']}, "
                  f"lookups {second['control']['second_chance_lookups']}, pending drops "
                  f"{second['control']['second_chance_pending']}; owner: decapsulated "
                  f"{owner['decapsulated']}, directory writes {owner['control']['directory_writes']}",
                  file=sys.stderr)
            # The second host: no session of its own, the flow hopped.
            self.assertEqual(second["srt"]["established"], 0, second)
            self.assertGreater(second["hopped"], 100, second)
            self.assertGreaterEqual(second["control"]["hops_installed"], 1, second)
            self.assertGreaterEqual(second["control"]["second_chance_lookups"], 1, second)
            # The owner: the hop packets taken out and relayed as its own.
            self.assertEqual(owner["srt"]["established"], 1, owner)
            self.assertGreaterEqual(owner["decapsulated"], second["hopped"] - 5, (owner, second))
            self.assertEqual(owner["dropped"]["hop_unknown_peer"], 0, owner)
            self.assertGreaterEqual(owner["control"]["directory_writes"], 1, owner)


if __name__ == "__main__":
    unittest.main(verbosity=2)

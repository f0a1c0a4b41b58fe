"""End-to-end tests of stream routing as the SRS Go proxy does it: a player
that arrives before its publisher is sent to an origin (which holds it until
the stream starts), a stream's mapping lasts as long as its origin (a
reconnecting encoder returns to the players waiting there), and a claim
whose origin leg fails is undone. Memory and Redis balancers, real libsrt
peers in network namespaces (netlab.py), the forwarder on net_af_packet.

Run as root:
  SRTFWD=.../srtfwd SRT_ORIGIN=.../srt-origin SRT_PEER=.../srt-peer \
      /usr/bin/python3 tests/e2e/test_routing.py [-k NAME]

Origins #1..#4 are srt-origin processes in the origin namespace on
198.18.1.2 .. 198.18.1.5, port 10080 (as in test_control.py). Every test ends
by stopping the forwarder and asserting exit status 0 and no mbuf leaked.
"""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_control as tc  # noqa: E402  (helpers; its tests are not collected here)
from netlab import NetLab, binary  # noqa: E402
from test_control import (ORIGIN_IPS, SRT_PORT, accepts, http_get, play_sid,  # noqa: E402
                          pub_sid, server_key, url_key)


class RoutingE2E(unittest.TestCase):
    maxDiff = None

    # The helpers of test_control.py's tests, shared as they are.
    origin = tc.ControlE2E.origin
    peer_argv = tc.ControlE2E.peer_argv
    peer = tc.ControlE2E.peer
    run_peer = tc.ControlE2E.run_peer
    wait_ok = tc.ControlE2E.wait_ok
    assert_rejected = tc.ControlE2E.assert_rejected
    stop_fwd = tc.ControlE2E.stop_fwd
    wait_sessions = tc.ControlE2E.wait_sessions
    redis_wait = tc.ControlE2E.redis_wait
    register = tc.ControlE2E.register
    write_go_proxy_servers = tc.ControlE2E.write_go_proxy_servers

    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def lab(self, **kw):
        return NetLab(prefix="rte", srtfwd_bin=self.srtfwd_bin, **kw)

    def wait_backends(self, fwd, server_ids, timeout=5):
        """Until the forwarder's balancer lists exactly these origins."""
        deadline = time.monotonic() + timeout
        while True:
            got = {b["server_id"] for b in http_get(fwd, "/api/v1/backends")["backends"]}
            if got == set(server_ids):
                return
            if time.monotonic() > deadline:
                self.fail(f"backends {sorted(got)}, expected {sorted(server_ids)}")
            time.sleep(0.05)

    def player_first(self, lab, origins, resource, count=150):
        """A player of `resource` connects while nobody publishes it, then a
        publisher: the player gets every message from seq 0 byte-exact and in
        order, and both are on one origin. Returns that origin's number."""
        play = self.peer(lab, "play", play_sid(resource), "--count", count, "--timeout-ms", 30000,
                         name=f"play-{resource}")
        play.wait_for(r"^connected to ", timeout=10)
        held = r"(?m)^accept \S+ #!::r=" + resource + r",m=request request$"
        deadline = time.monotonic() + 5
        while not any(re.search(held, o.out_text()) for o in origins):
            self.assertLess(time.monotonic(), deadline, "no origin holds the player")
            time.sleep(0.05)
        pub = self.peer(lab, "publish", pub_sid(resource), "--count", count, "--rate", 100,
                        name=f"pub-{resource}")
        self.assertIn(f"received {count}/{count} ok (seq 0..{count - 1})", self.wait_ok(play, 40))
        self.assertIn(f"sent {count}/{count}", self.wait_ok(pub, 40))
        hosts = [n for n, o in enumerate(origins, 1) if (resource, "request") in accepts(o)]
        self.assertEqual(len(hosts), 1, [accepts(o) for o in origins])
        self.assertEqual(sorted(m for r, m in accepts(origins[hosts[0] - 1]) if r == resource),
                         ["publish", "request"])
        return hosts[0]

    # -- 1 ---------------------------------------------------------------------------

    def test_1_player_first_then_the_encoder_reconnects_memory(self):
        """Memory balancer, two static origins. A player connects before anyone
        publishes and is held on origin #1 (least loaded); the publisher follows
        it there. The publisher leaves and, while the player waits, another
        stream takes origin #2; the encoder reconnects, carries on its
        numbering, and returns to origin #1: the waiting player receives both
        sessions' messages as one byte-exact sequence. (With the mapping
        dropped at the publisher's end the other stream would have taken
        origin #1 and the encoder origin #2.)"""
        with self.lab() as lab:
            fwd = lab.srtfwd(lab.fwd_config(backends=[(ORIGIN_IPS[0], SRT_PORT), (ORIGIN_IPS[1], SRT_PORT)]))
            o1, o2 = self.origin(lab, 1), self.origin(lab, 2)
            play = self.peer(lab, "play", play_sid("live/early"), "--count", 200, "--timeout-ms", 40000,
                             name="play-early")
            play.wait_for(r"^connected to ", timeout=10)
            o1.wait_for(r"^accept \S+ #!::r=live/early,m=request request$", timeout=10)
            pub = self.peer(lab, "publish", pub_sid("live/early"), "--count", 100, "--rate", 100, name="pub-1")
            self.assertIn("sent 100/100", self.wait_ok(pub, 30))
            o1.wait_for(r"^close \S+ #!::r=live/early,m=publish publish msgs=100 drops=0$", timeout=10)
            self.wait_sessions(fwd, 1)  # the player waits on
            self.assertIsNone(play.poll(), play.out_text())
            other = self.peer(lab, "publish", pub_sid("live/other"), "--count", 0, "--rate", 50,
                              name="pub-other")
            other.wait_for(r"^connected to ", timeout=10)
            o2.wait_for(r"^accept \S+ #!::r=live/other,m=publish publish$", timeout=10)
            again = self.peer(lab, "publish", pub_sid("live/early"), "--count", 100, "--first-seq", 100,
                              "--rate", 100, name="pub-2")
            self.assertIn("sent 100/100", self.wait_ok(again, 30))
            self.assertIn("received 200/200 ok (seq 0..199)", self.wait_ok(play, 40))
            self.assertEqual(sorted(accepts(o1)), [("live/early", "publish"), ("live/early", "publish"),
                                                   ("live/early", "request")])
            self.assertEqual(accepts(o2), [("live/other", "publish")])
            other.send_signal(signal.SIGTERM)
            self.wait_ok(other, 20)
            self.wait_sessions(fwd, 0)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 4)
            self.assertEqual(c["srt"]["rejected"], 0)

    # -- 2 ---------------------------------------------------------------------------

    def test_2_player_first_redis(self):
        """Redis balancer, four registered origins: a player of a stream
        nobody publishes claims an origin in Redis, in the Go proxy's schema,
        and is held there; the publisher follows the mapping and the player
        gets the stream from its first message."""
        with self.lab() as lab:
            redis = lab.redis()
            fwd = lab.srtfwd(lab.fwd_config(redis=redis))
            origins = [self.origin(lab, n) for n in range(1, 5)]
            self.register(fwd, redis, list(enumerate(ORIGIN_IPS, 1)))
            host = self.player_first(lab, origins, "live/early")
            self.assertEqual(redis.cmd("GET", url_key("live/early")), server_key(host))
            for n, o in enumerate(origins, 1):
                if n != host:
                    self.assertEqual(accepts(o), [], f"origin #{n}")
            self.wait_sessions(fwd, 0)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 2)

    # -- 3 ---------------------------------------------------------------------------

    def test_3_reject_mode_keeps_1404(self):
        """[balancer] unknown_stream_players = "reject": a player of a stream
        nobody publishes is refused 1404 and claims nothing; once a publisher
        claims the stream, players follow it."""
        with self.lab() as lab:
            redis = lab.redis()
            cfg = lab.fwd_config(redis=redis).replace('type = "redis"',
                                                      'type = "redis"\nunknown_stream_players = "reject"')
            self.assertIn("unknown_stream_players", cfg)
            fwd = lab.srtfwd(cfg)
            o1 = self.origin(lab, 1)
            self.register(fwd, redis, [(1, ORIGIN_IPS[0])])
            self.assert_rejected(lab, "play", play_sid("live/nobody"), 1404, what="unknown stream")
            self.assertIsNone(redis.cmd("GET", url_key("live/nobody")), "a player must not claim")
            pub = self.peer(lab, "publish", pub_sid("live/nobody"), "--count", 0, "--rate", 100, name="pub")
            pub.wait_for(r"^connected to ", timeout=10)
            r = self.run_peer(lab, "play", play_sid("live/nobody"), "--count", 50, "--start-seq-any")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(sorted(accepts(o1)), [("live/nobody", "publish"), ("live/nobody", "request")])
            pub.send_signal(signal.SIGTERM)
            self.wait_ok(pub, 20)
            self.wait_sessions(fwd, 0)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["rejected_not_found"], 1)

    # -- 4 ---------------------------------------------------------------------------

    def test_4_failed_claim_is_undone_memory(self):
        """Memory balancer, origins registered through the admin API. Origin #4
        is registered but nothing listens there: a player claims the stream on
        it, the leg times out (1502), and the claim is undone. Origin #1
        registers; the stream's next caller goes there (a kept claim would
        have sent it to origin #4 again), and the player after it too."""
        with self.lab() as lab:
            fwd = lab.srtfwd(lab.fwd_config())
            o1 = self.origin(lab, 1)
            self.register(fwd, None, [(4, ORIGIN_IPS[3])])
            self.wait_backends(fwd, ["ctl-origin4"])
            self.assert_rejected(lab, "play", play_sid("live/u"), 1502, what="dead origin")
            self.register(fwd, None, [(1, ORIGIN_IPS[0])])
            self.wait_backends(fwd, ["ctl-origin1", "ctl-origin4"])
            # Equal loads again, so the tie goes to the first key: origin #1.
            host = self.player_first(lab, [o1], "live/u", count=100)
            self.assertEqual(host, 1)
            self.wait_sessions(fwd, 0)
            c = self.stop_fwd(fwd)
            self.assertEqual((c["srt"]["rejected_gateway"], c["srt"]["established"]), (1, 2), c["srt"])

    # -- 5 ---------------------------------------------------------------------------

    def test_5_failed_claim_is_undone_redis(self):
        """Redis balancer. A publisher's claim on an origin that refuses it
        (the origin's own 1403, relayed) and a player's claim on an origin
        that does not answer (1502) are both deleted from Redis; the stream's
        next caller claims a live origin and a player that came first gets
        the stream there."""
        with self.lab() as lab:
            redis = lab.redis()
            fwd = lab.srtfwd(lab.fwd_config(redis=redis))
            o1 = self.origin(lab, 1, "--reject", "live/r=1403")
            self.write_go_proxy_servers(redis, [(1, ORIGIN_IPS[0])])
            self.wait_backends(fwd, ["ctl-origin1"])
            self.assert_rejected(lab, "publish", pub_sid("live/r"), 1403, what="origin's own rejection")
            self.redis_wait(redis, url_key("live/r"), lambda v: v is None)
            # Only origin #4 (nothing listens there) is registered.
            redis.cmd("DEL", server_key(1))
            self.write_go_proxy_servers(redis, [(4, ORIGIN_IPS[3])])
            self.wait_backends(fwd, ["ctl-origin4"])
            self.assert_rejected(lab, "play", play_sid("live/u"), 1502, what="dead origin")
            self.redis_wait(redis, url_key("live/u"), lambda v: v is None)
            # Origin #4 is gone, origin #1 is back: the next player claims it.
            redis.cmd("DEL", server_key(4))
            self.write_go_proxy_servers(redis, [(1, ORIGIN_IPS[0])])
            self.wait_backends(fwd, ["ctl-origin1"])
            self.assertEqual(self.player_first(lab, [o1], "live/u", count=100), 1)
            self.assertEqual(redis.cmd("GET", url_key("live/u")), server_key(1))
            self.wait_sessions(fwd, 0)
            c = self.stop_fwd(fwd)
            s = c["srt"]
            self.assertEqual((s["rejected_gateway"], s["rejected_backend"], s["established"]), (1, 1, 2), s)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        sys.exit(77)  # meson: skipped
    unittest.main(verbosity=2)

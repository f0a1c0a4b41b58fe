"""End-to-end tests of the admin API's access and visibility:

  - POST /api/v1/srs/register with [admin] register_token: refused (401,
    counted, logged) without the token or with a wrong one, taken with it in
    the query (?token=), as "Authorization: Bearer" or in the path
    (/api/v1/srs/register/TOKEN, the form an SRS heartbeat url can carry);
    only then are streams routed to the origin;
  - GET /api/v1/streams and /api/v1/origins during a live publish and play
    (libsrt peers, and ffmpeg), in memory and in Redis mode, where keys
    written straight into Redis, as another proxy would, show too;
  - the session list's stream_url, mode and origin.

Real libsrt peers (tests/peers), ffmpeg, in network namespaces (netlab.py),
the forwarder on net_af_packet. Origins #1..#3 are srt-origin processes on
198.18.1.2 .. 198.18.1.4, port 10080 (as in test_control.py).

Run as root:
  SRTFWD=.../srtfwd SRT_ORIGIN=.../srt-origin SRT_PEER=.../srt-peer \
      /usr/bin/python3 tests/e2e/test_streams_api.py [-k NAME]
"""

import json
import os
import re
import shutil
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_control as tc  # noqa: E402  (helpers; its tests are not collected here)
from netlab import NetLab, binary  # noqa: E402
from test_control import (ALL_SERVERS, ORIGIN_IPS, SRT_PORT, accepts, admin_base, go_server_json,  # noqa: E402
                          http_get, play_sid, pub_sid, register_body, server_key, url_key)

TOKEN = "srtfwd-e2e-register-Tok3n"
VHOST = "__defaultVhost__/"


def post_register(fwd, body, query="", headers=None):
    """(HTTP status, JSON answer) of a /register POST; query: what follows
    the path ("?token=...", or "/TOKEN" for the path form)."""
    req = urllib.request.Request(admin_base(fwd) + "/api/v1/srs/register" + query,
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})},
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def metric(fwd, name):
    m = re.search(rf"(?m)^{name} (\d+)$", http_get(fwd, "/metrics"))
    return int(m.group(1)) if m else None


def by_url(streams_answer):
    return {s["url"]: s for s in streams_answer["streams"]}


def by_key(origins_answer):
    return {o["key"]: o for o in origins_answer["origins"]}


class StreamsApiE2E(unittest.TestCase):
    maxDiff = None

    origin = tc.ControlE2E.origin
    peer_argv = tc.ControlE2E.peer_argv
    peer = tc.ControlE2E.peer
    run_peer = tc.ControlE2E.run_peer
    wait_ok = tc.ControlE2E.wait_ok
    assert_rejected = tc.ControlE2E.assert_rejected
    stop_fwd = tc.ControlE2E.stop_fwd
    wait_sessions = tc.ControlE2E.wait_sessions
    redis_wait = tc.ControlE2E.redis_wait

    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def lab(self, **kw):
        return NetLab(prefix="sapi", srtfwd_bin=self.srtfwd_bin, **kw)

    def live_pair(self, lab, resource):
        """A publisher (10 s at 100 msg/s) and, once it is connected, a player
        joining it; returns both once the player is connected."""
        pub = self.peer(lab, "publish", pub_sid(resource), "--count", 1000, "--rate", 100,
                        name=f"pub-{resource.replace('/', '-')}")
        pub.wait_for(r"^connected to ", timeout=10)
        play = self.peer(lab, "play", play_sid(resource), "--count", 300, "--start-seq-any",
                         "--timeout-ms", 30000, name=f"play-{resource.replace('/', '-')}")
        play.wait_for(r"^connected to ", timeout=10)
        return pub, play

    def check_live_stream(self, fwd, s, resource, origin_key, origin_addr):
        """s: the /api/v1/streams entry of resource, published and played here."""
        self.assertEqual(s["url"], VHOST + resource)
        self.assertEqual(s["origin"], {"key": origin_key, "address": origin_addr, "alive": True})
        pub, players = s["publisher"], s["players"]
        self.assertIsNotNone(pub, s)
        self.assertEqual(pub["mode"], "publish")
        self.assertEqual([p["mode"] for p in players], ["play"], s)
        self.assertRegex(pub["since"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(s["since"], pub["since"])  # the publisher came first
        now_ms = time.time() * 1000
        for x in (pub, players[0]):
            self.assertLess(abs(now_ms - x["since_unix_ms"]), 60000, x)
        self.assertLessEqual(pub["since_unix_ms"], players[0]["since_unix_ms"])
        # The same sessions in /api/v1/sessions, with their stream.
        sessions = {x["id"]: x for x in http_get(fwd, "/api/v1/sessions")["sessions"]}
        for x, mode in ((pub, "publish"), (players[0], "play")):
            self.assertIn(x["id"], sessions)
            got = sessions[x["id"]]
            self.assertEqual((got["stream_url"], got["mode"], got["origin"], got["caller"]),
                             (VHOST + resource, mode, origin_key, x["caller"]))
            self.assertEqual(got["backend"], origin_addr)

    # -- 1 ---------------------------------------------------------------------------

    def test_1_register_token(self):
        """Memory balancer, no static origin, register_token set. A heartbeat
        without the token, with a wrong one in the query, in a Bearer header or
        in the path, or with another scheme is refused with 401 and counted, and no origin is
        registered (a publisher gets 1404). With the token in the query
        origin #1 registers and a publish and
        play are routed to it; with the token as a Bearer it stays registered.
        /api/v1/streams and /api/v1/origins show the live stream meanwhile."""
        with self.lab() as lab:
            fwd = lab.srtfwd(lab.fwd_config(extra=f'register_token = "{TOKEN}"\n'))
            self.assertNotIn("/api/v1/srs/register is open", fwd.log())
            o1 = self.origin(lab, 1)
            body = register_body(1, ORIGIN_IPS[0])
            refused = [("", None), ("?token=wrong", None), ("?token=", None),
                       ("", {"Authorization": "Bearer wrong"}), ("/wrong", None),
                       ("", {"Authorization": f"Basic {TOKEN}"}),
                       (f"?token={TOKEN}x", {"Authorization": f"Bearer {TOKEN[:-1]}"})]
            for query, headers in refused:
                status, answer = post_register(fwd, body, query, headers)
                self.assertEqual((status, answer["code"]), (401, 401), (query, headers, answer))
            self.assertEqual(metric(fwd, "srtfwd_admin_register_unauthorized_total"), len(refused))
            self.assertEqual(metric(fwd, "srtfwd_admin_registered_total"), 0)
            fwd.wait_log(r"/register from 127\.0\.0\.1:\d+ refused \(401\): no token")
            fwd.wait_log(r"/register from 127\.0\.0\.1:\d+ refused \(401\): wrong token")
            self.assertEqual(http_get(fwd, "/api/v1/origins")["origins"], [])
            self.assertEqual(http_get(fwd, "/api/v1/backends")["backends"], [])
            self.assert_rejected(lab, "publish", pub_sid("live/tok"), 1404, what="no origin")

            status, answer = post_register(fwd, body, f"?token={TOKEN}")
            self.assertEqual((status, answer["code"]), (200, 0), answer)
            status, answer = post_register(fwd, body, "", {"Authorization": f"Bearer {TOKEN}"})
            self.assertEqual((status, answer["code"]), (200, 0), answer)
            self.assertEqual(metric(fwd, "srtfwd_admin_registered_total"), 2)
            deadline = time.monotonic() + 5
            while not http_get(fwd, "/api/v1/origins")["origins"]:
                self.assertLess(time.monotonic(), deadline, "the registered origin does not show")
                time.sleep(0.05)

            pub, play = self.live_pair(lab, "live/tok")
            self.wait_sessions(fwd, 2)
            streams = http_get(fwd, "/api/v1/streams")
            self.assertEqual((streams["source"], streams["sessions"]), ("memory", "this host's"))
            self.assertEqual(list(by_url(streams)), [VHOST + "live/tok"])
            self.check_live_stream(fwd, by_url(streams)[VHOST + "live/tok"], "live/tok", server_key(1),
                                   f"{ORIGIN_IPS[0]}:{SRT_PORT}")
            origins = http_get(fwd, "/api/v1/origins")
            self.assertEqual(list(by_key(origins)), [server_key(1)])
            o = by_key(origins)[server_key(1)]
            self.assertEqual((o["alive"], o["streams"], o["static"], o["address"], o["server_id"]),
                             (True, 1, False, f"{ORIGIN_IPS[0]}:{SRT_PORT}", "ctl-origin1"))
            self.assertRegex(o["update_at"], r"^\d{4}-\d\d-\d\dT")
            self.assertIn("received 300/300 ok", self.wait_ok(play, 40))
            self.assertIn("sent 1000/1000", self.wait_ok(pub, 40))
            self.assertEqual(sorted(accepts(o1)), [("live/tok", "publish"), ("live/tok", "request")])
            self.wait_sessions(fwd, 0)
            # No session left: the stream stays mapped to its origin, with nobody on it here.
            s = by_url(http_get(fwd, "/api/v1/streams"))[VHOST + "live/tok"]
            self.assertEqual((s["publisher"], s["players"], s["since"]), (None, [], None))
            c = self.stop_fwd(fwd)
            self.assertEqual(c["admin"], {"registered": 2, "register_unauthorized": len(refused)})
            self.assertEqual(c["srt"]["established"], 2)

    # -- 2 ---------------------------------------------------------------------------

    def test_2_ffmpeg_static_origin_open_register(self):
        """No register_token: a warning at start-up says /register is open, and a
        heartbeat without a token registers. An ffmpeg encoder publishes to
        static origin #1 and an ffmpeg player plays: /api/v1/streams shows
        both sessions under the stream, /api/v1/origins the static origin
        with its stream and the registered one (origin #2) with none."""
        if shutil.which("ffmpeg") is None:
            raise AssertionError("ffmpeg is missing: scripts/setup.sh installs it")
        with self.lab() as lab:
            fwd = lab.srtfwd(lab.fwd_config(backends=[(ORIGIN_IPS[0], SRT_PORT)]))
            fwd.wait_log(r"/api/v1/srs/register is open")
            o1 = self.origin(lab, 1)
            vip = f"{lab.fwd(0).fwd_ip}:{SRT_PORT}"
            pub = lab.popen_in(lab.caller_ns(0), [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                "-i", "testsrc=size=320x240:rate=25", "-t", "12", "-c:v", "mpeg2video",
                "-g", "12", "-b:v", "400k", "-f", "mpegts",
                f"srt://{vip}?streamid=#!::r=live/ff,m=publish&mode=caller&pkt_size=1316"], name="ffmpeg-pub")
            o1.wait_for(r"^accept \S+ #!::r=live/ff,m=publish publish$", timeout=15)
            # Registered once the stream is on origin #1: it would take the
            # stream otherwise (no streams yet, first in key order), and no
            # origin listens at its address.
            status, answer = post_register(fwd, register_body(2, ORIGIN_IPS[1]))
            self.assertEqual((status, answer["code"]), (200, 0), answer)
            play = lab.popen_in(lab.caller_ns(0), [
                "ffmpeg", "-hide_banner", "-loglevel", "error",
                "-i", f"srt://{vip}?streamid=#!::r=live/ff,m=request&mode=caller",
                "-t", "4", "-c", "copy", "-f", "null", "-"], name="ffmpeg-play")
            o1.wait_for(r"^accept \S+ #!::r=live/ff,m=request request$", timeout=15)
            self.wait_sessions(fwd, 2)
            streams = http_get(fwd, "/api/v1/streams")
            self.assertEqual(list(by_url(streams)), [VHOST + "live/ff"])
            static_key = next(k for k in by_key(http_get(fwd, "/api/v1/origins")) if "static-0" in k)
            self.check_live_stream(fwd, by_url(streams)[VHOST + "live/ff"], "live/ff", static_key,
                                   f"{ORIGIN_IPS[0]}:{SRT_PORT}")
            origins = by_key(http_get(fwd, "/api/v1/origins"))
            deadline = time.monotonic() + 5
            while server_key(2) not in origins:
                self.assertLess(time.monotonic(), deadline, "the registered origin does not show")
                time.sleep(0.05)
                origins = by_key(http_get(fwd, "/api/v1/origins"))
            self.assertEqual(set(origins), {static_key, server_key(2)})
            self.assertEqual((origins[static_key]["static"], origins[static_key]["streams"]), (True, 1))
            self.assertEqual((origins[server_key(2)]["static"], origins[server_key(2)]["streams"],
                              origins[server_key(2)]["alive"]), (False, 0, True))
            self.assertEqual(play.wait(30), 0, play.err_text())
            self.assertEqual(pub.wait(30), 0, pub.err_text())
            c = self.stop_fwd(fwd)
            self.assertEqual(c["admin"], {"registered": 1, "register_unauthorized": 0})
            self.assertEqual(c["srt"]["established"], 2)

    # -- 3 ---------------------------------------------------------------------------

    def test_3_redis_shows_every_proxy(self):
        """Redis balancer. Origin #1 registers through this forwarder (the
        token in the path, as an SRS heartbeat url carries it); origin #2 as the Go proxy writes it, with a stream of its own
        (live/elsewhere) mapped to it by another proxy; origin #3 is listed but
        its record has expired. During a publish and play of live/red here,
        /api/v1/streams shows both streams (only live/red with sessions) and
        /api/v1/origins all three origins, #3 dead, with their stream counts
        and TTLs as Redis has them."""
        with self.lab() as lab:
            redis = lab.redis()
            fwd = lab.srtfwd(lab.fwd_config(redis=redis, extra=f'register_token = "{TOKEN}"\n'))
            o1, o2 = self.origin(lab, 1), self.origin(lab, 2)
            status, _ = post_register(fwd, register_body(1, ORIGIN_IPS[0]), "?token=nope")
            self.assertEqual(status, 401)
            self.assertEqual(redis.cmd("GET", ALL_SERVERS), None)
            # As an SRS origin sends it: the token in the heartbeat url's path.
            status, answer = post_register(fwd, register_body(1, ORIGIN_IPS[0]), f"/{TOKEN}")
            self.assertEqual((status, answer["code"]), (200, 0), answer)
            self.redis_wait(redis, ALL_SERVERS, lambda v: v is not None and server_key(1) in json.loads(v))
            # Another proxy's writes.
            self.assertEqual(redis.cmd("SET", server_key(2), go_server_json(2, ORIGIN_IPS[1]), "EX", 300), "OK")
            redis.cmd("SET", ALL_SERVERS, json.dumps([server_key(1), server_key(2), server_key(3)]))
            redis.cmd("SET", url_key("live/elsewhere"), server_key(2))

            pub, play = self.live_pair(lab, "live/red")
            self.wait_sessions(fwd, 2)
            host = next(n for n, o in ((1, o1), (2, o2)) if ("live/red", "publish") in accepts(o))
            self.assertEqual(redis.cmd("GET", url_key("live/red")), server_key(host))
            streams = http_get(fwd, "/api/v1/streams")
            self.assertEqual(streams["source"], f"redis {redis.addr}")
            self.assertEqual(list(by_url(streams)), [VHOST + "live/elsewhere", VHOST + "live/red"])
            self.check_live_stream(fwd, by_url(streams)[VHOST + "live/red"], "live/red", server_key(host),
                                   f"{ORIGIN_IPS[host - 1]}:{SRT_PORT}")
            other = by_url(streams)[VHOST + "live/elsewhere"]
            self.assertEqual(other["origin"], {"key": server_key(2), "address": f"{ORIGIN_IPS[1]}:{SRT_PORT}",
                                               "alive": True})
            self.assertEqual((other["publisher"], other["players"], other["since"]), (None, [], None))

            origins = by_key(http_get(fwd, "/api/v1/origins"))
            self.assertEqual(set(origins), {server_key(1), server_key(2), server_key(3)})
            for n in (1, 2):
                o = origins[server_key(n)]
                self.assertTrue(o["alive"], o)
                self.assertTrue(0 < o["ttl_s"] <= 300, o)
                self.assertEqual(o["streams"], (host == n) + (n == 2), o)
                self.assertEqual(o["address"], f"{ORIGIN_IPS[n - 1]}:{SRT_PORT}")
                self.assertRegex(o["update_at"], r"^\d{4}-\d\d-\d\dT")
            dead = origins[server_key(3)]
            self.assertEqual((dead["alive"], dead["update_at"], dead["ttl_s"], dead["streams"]),
                             (False, None, None, 0))

            self.assertIn("received 300/300 ok", self.wait_ok(play, 40))
            self.assertIn("sent 1000/1000", self.wait_ok(pub, 40))
            c = self.stop_fwd(fwd)
            self.assertEqual(c["admin"], {"registered": 1, "register_unauthorized": 1})

    def test_4_redis_down_is_503(self):
        """A Redis that is not there: /api/v1/streams and /api/v1/origins
        answer 503 naming it, quickly, and the forwarder runs on."""
        with self.lab() as lab:
            redis = lab.redis()
            addr = redis.addr
            redis.stop()
            fwd = lab.srtfwd(lab.fwd_config(redis=addr))
            for path in ("/api/v1/streams", "/api/v1/origins"):
                t0 = time.monotonic()
                with self.assertRaises(urllib.error.HTTPError) as e:
                    http_get(fwd, path)
                self.assertEqual(e.exception.code, 503)
                self.assertIn(f"redis {addr}", json.loads(e.exception.read().decode())["error"])
                self.assertLess(time.monotonic() - t0, 4)
            self.stop_fwd(fwd)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)
    unittest.main(verbosity=2)

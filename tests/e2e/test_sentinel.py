#!/usr/bin/env python3
"""End-to-end: two srtfwd hosts on one Redis behind Redis Sentinel, through a
failover.

redis-server master + one replica + one redis-sentinel (quorum 1, down after
2 s), all on 127.0.0.1 with their files in the lab's work directory; two
forwarders (one worker each, the default idle back-off) with
[balancer] sentinels; four origins in the origin namespace.

  1. A stream published through host A and played through host B before the
     failover loses no message across it (the session never needs Redis).
  2. The master is SIGKILLed: until the replica is promoted new callers get
     1503; both hosts hear +switch-master and move to the new master.
  3. A new caller connects within 5 s of the promotion; its claim, made on
     host A after the promotion, is on the new master, and host B sends a
     player of that stream to the same origin.

Run through `meson test -C build e2e-sentinel` (sets SRTFWD, SRT_ORIGIN,
SRT_PEER); needs root. The forwarders and Redis processes are stopped and the
work directory removed at the end, also on failure (netlab).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, tail  # noqa: E402

ORIGIN_IPS = ["198.18.1.2", "198.18.1.3", "198.18.1.4", "198.18.1.5"]
SRT_PORT = 10080
MASTER = "srs"
# Sentinel's down-after-milliseconds: the window in which there is no master.
DOWN_AFTER_MS = 2000


def admin_url(fwd, path):
    """fwd's admin API (its [admin] listen, from its config file)."""
    with open(fwd.config_path) as f:
        port = re.search(r'^listen = "127\.0\.0\.1:(\d+)"', f.read(), re.M).group(1)
    return f"http://127.0.0.1:{port}{path}"


def api(fwd, path):
    with urllib.request.urlopen(admin_url(fwd, path), timeout=5) as r:
        body = r.read().decode()
    return json.loads(body) if path.startswith("/api/") else body


def register(fwd, n, ip):
    """Origin #n's SRS heartbeat, through fwd's admin API."""
    body = {"ip": ip, "device_id": f"sen-device-{n}", "server": f"sen-origin{n}", "service": f"svc{n}",
            "pid": str(5000 + n), "rtmp": ["1935"], "srt": [str(SRT_PORT)]}
    req = urllib.request.Request(admin_url(fwd, "/api/v1/srs/register"),
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert json.loads(r.read().decode()).get("code") == 0


def server_key(n):
    return f"srs-proxy-server:sen-origin{n}-svc{n}-{5000 + n}"


def url_key(resource):
    return f"srs-proxy-url:__defaultVhost__/{resource}"


def poll(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


class SentinelE2E(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def peer(self, lab, fwd, verb, resource, *extra, name=None):
        mode = "publish" if verb == "publish" else "request"
        return lab.popen_in(lab.caller_ns(fwd), [
            self.peer_bin, verb, "--to", f"{lab.fwd(fwd).fwd_ip}:{SRT_PORT}",
            "--streamid", f"#!::r={resource},m={mode}", *map(str, extra)],
            name=name or f"{verb}-{resource.replace('/', '-')}-f{fwd}")

    def finished(self, p, timeout):
        rc = p.wait(timeout)
        self.assertEqual(rc, 0, f"{p.name} exit {rc}:\n{p.out_text()}{p.err_text()}")
        return p.out_text()

    def test_failover(self):
        with NetLab(prefix="sen", forwarders=2, srtfwd_bin=self.srtfwd_bin) as lab:
            master = lab.redis()
            replica = lab.redis(replica_of=master)
            poll(lambda: "master_link_status:up" in replica.cmd("INFO", "replication"), 10,
                 "replica in sync")
            sentinel = lab.sentinel(master, MASTER, quorum=1, down_after_ms=DOWN_AFTER_MS,
                                    failover_timeout_ms=3000)
            # A failover needs the replica, which the Sentinel learns from the master.
            poll(lambda: "slaves=1" in sentinel.cmd("INFO", "sentinel"), 15, "sentinel sees the replica")

            fwds = [lab.srtfwd(lab.fwd_config(i, sentinels=[sentinel], master_name=MASTER), fwd=i)
                    for i in (0, 1)]
            for f in fwds:
                f.wait_log(rf'redis master "{MASTER}" at 127\.0\.0\.1:{master.port} connected')
                f.wait_log(r"following \+switch-master on Sentinel")
            origins = []
            for n, ip in enumerate(ORIGIN_IPS, 1):
                o = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", ip, "--port", SRT_PORT],
                                 name=f"origin{n}")
                o.wait_for(r"^listening ", timeout=10)
                origins.append(o)
            for n, ip in enumerate(ORIGIN_IPS, 1):
                register(fwds[0], n, ip)
            # On the master and copied to the replica before it is killed.
            poll(lambda: all(replica.cmd("EXISTS", server_key(n)) == 1 for n in range(1, 5)), 5,
                 "origins on the replica")

            # 1. A session across the failover: 25 s of messages, A publishes, B plays.
            pub = self.peer(lab, 0, "publish", "live/across", "--count", 2500, "--rate", 100)
            pub.wait_for(r"^connected to ", timeout=10)
            play = self.peer(lab, 1, "play", "live/across", "--count", 2000, "--start-seq-any",
                             "--timeout-ms", 40000)
            play.wait_for(r"^connected to ", timeout=10)
            # The player's session on B forwards a second of the stream before the failover.
            poll(lambda: sum(x["from_backend"]["packets"] for x in api(fwds[1], "/api/v1/sessions")["sessions"])
                 > 100, 10, "the stream reaches the player through host B")

            # 2. The master dies; until the promotion new callers get 1503 at once.
            master.proc.kill()
            master.proc.wait(5)
            for i, f in enumerate(fwds):
                f.wait_log(rf'redis master "{MASTER}" at 127\.0\.0\.1:{master.port} lost', timeout=5)
            r = lab.run_in(lab.caller_ns(0), [
                self.peer_bin, "publish", "--to", f"{lab.fwd(0).fwd_ip}:{SRT_PORT}", "--streamid",
                "#!::r=live/during,m=publish", "--expect-reject", 1503, "--connect-timeout-ms", 3000],
                timeout=10)
            self.assertEqual(r.returncode, 0, f"a caller during the failover:\n{r.stdout}{r.stderr}")
            self.assertEqual(sentinel.cmd("SENTINEL", "get-master-addr-by-name", MASTER),
                             ["127.0.0.1", str(master.port)], "the 1503 came after the promotion")
            self.assertIsNone(replica.cmd("GET", url_key("live/during")))

            # The promotion, as the Sentinel reports it.
            poll(lambda: sentinel.cmd("SENTINEL", "get-master-addr-by-name", MASTER)
                 == ["127.0.0.1", str(replica.port)], 20, "the Sentinel promotes the replica")
            t_promo = time.monotonic()
            self.assertIn("role:master", replica.cmd("INFO", "replication"))

            # 3. A new caller within 5 s of the promotion (a caller that was
            # refused tries again, as an encoder does).
            connected = None
            while connected is None and time.monotonic() < t_promo + 5:
                after = self.peer(lab, 0, "publish", "live/after", "--count", 600, "--rate", 100)
                while after.poll() is None and connected is None:
                    if re.search(r"(?m)^connected to ", after.out_text()):
                        connected = time.monotonic()
                    time.sleep(0.02)
                if connected is None:
                    self.assertIn("rejected reason=1503", after.out_text())
                    time.sleep(0.1)
            self.assertIsNotNone(connected, "no caller connected within 5 s of the promotion:\n"
                                 + tail(fwds[0].log()))
            self.assertLess(connected - t_promo, 5.0)
            for f in fwds:
                f.wait_log(rf'Sentinel: \+switch-master "{MASTER}" to 127\.0\.0\.1:{replica.port}', timeout=5)
                f.wait_log(rf'Redis master "{MASTER}" switched from 127\.0\.0\.1:{master.port} '
                           rf'to 127\.0\.0\.1:{replica.port}', timeout=5)

            # Host A's claim is on the new master; host B follows it.
            owner = replica.cmd("GET", url_key("live/after"))
            self.assertIn(owner, [server_key(n) for n in range(1, 5)])
            player = self.peer(lab, 1, "play", "live/after", "--count", 200, "--start-seq-any",
                               "--timeout-ms", 20000)
            out = self.finished(player, 30)
            self.assertRegex(out, r"(?m)^received 200/200 ok")
            n_owner = [server_key(n) for n in range(1, 5)].index(owner)
            self.assertRegex(origins[n_owner].out_text(),
                             rf"(?m)^accept {re.escape(lab.fwd(1).fwd_origin_ip)}:\d+ \S*r=live/after\S* request$")
            self.assertIn("sent 600/600", self.finished(after, 30))

            # 1 (end). Nothing lost across the failover.
            out = self.finished(play, 60)
            self.assertRegex(out, r"(?m)^received 2000/2000 ok")
            self.assertIn("sent 2500/2500", self.finished(pub, 60))

            # The admin API reads the store where the Sentinel says the master is.
            origins_view = api(fwds[1], "/api/v1/origins")
            self.assertEqual(origins_view["source"], f'redis master "{MASTER}" at 127.0.0.1:{replica.port}')
            streams_view = api(fwds[1], "/api/v1/streams")
            self.assertIn("__defaultVhost__/live/after", json.dumps(streams_view))
            for f in fwds:
                state = api(f, "/api/v1/backends")["balancer"]
                self.assertEqual(state, f'redis master "{MASTER}" at 127.0.0.1:{replica.port} connected')
                self.assertRegex(api(f, "/metrics"), r"(?m)^srtfwd_balancer_master_switches_total 1$")
            for f in fwds:
                rc = f.stop(timeout=15)
                log = f.log()
                self.assertEqual(rc, 0, tail(log))
                c = final_counters(log)
                self.assertEqual(c["srt"]["balancer_master_switches"], 1, c["srt"])
                self.assertIn("mbufs in use at exit: 0", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)

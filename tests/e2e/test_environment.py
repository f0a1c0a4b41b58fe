"""End-to-end test of the SRS Go proxy's environment variables (README
"Environment"): srtfwd started with them, real libsrt callers and origins in
network namespaces (netlab.py), the forwarder on net_af_packet.

  1. memory: PROXY_SRT_SERVER=20080 moves the SRT listener (a caller on
     20080 is relayed, one on the config's 10080 is not answered),
     PROXY_SYSTEM_API moves the admin API, PROXY_DEFAULT_BACKEND_* is the only
     origin (no [[backend]] in the config);
  2. redis: PROXY_LOAD_BALANCER_TYPE, PROXY_REDIS_HOST/PORT,
     PROXY_REDIS_KEY_PREFIX, PROXY_ORIGIN_SERVER_TTL and the default backend
     registered in Redis as the Go proxy registers it; a caller without a
     stream ID goes to SRS's default stream.

Run as root with SRTFWD, SRT_ORIGIN and SRT_PEER set (meson does it)."""

import json
import os
import re
import socket
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, free_port, tail  # noqa: E402

PROXY_SRT_PORT = 20080
CONFIG_SRT_PORT = 10080
ORIGIN_PORT = 10080


class Environment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def origin(self, lab):
        ip = lab.fwd(0).origin_ips[0]
        p = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", ip, "--port", str(ORIGIN_PORT)], name="origin")
        p.wait_for(r"^listening ", timeout=10)
        return ip, p

    def run_peer(self, lab, port, sid, *extra, timeout=30):
        argv = [self.peer_bin, "publish", "--to", f"{lab.fwd(0).fwd_ip}:{port}", "--streamid", sid, *map(str, extra)]
        return lab.run_in(lab.caller_ns(0), argv, timeout=timeout)

    def stop_fwd(self, fwd):
        rc = fwd.stop(15)
        log = fwd.log()
        self.assertEqual(rc, 0, f"srtfwd exit {rc}:\n{tail(log)}")
        self.assertIn("mbufs in use at exit: 0", log)
        return final_counters(log)

    def test_1_memory(self):
        with NetLab(prefix="env", srtfwd_bin=self.srtfwd_bin) as lab:
            origin_ip, origin = self.origin(lab)
            config_admin, env_admin = free_port(), free_port()
            # No [[backend]]; leg ports moved off the Go proxy's 20080.
            config = lab.fwd_config(listen=(CONFIG_SRT_PORT,), admin_port=config_admin, leg_ports="21000-59999")
            self.assertNotIn("[[backend]]", config)
            env = dict(os.environ, PROXY_SRT_SERVER=str(PROXY_SRT_PORT), PROXY_SYSTEM_API=f"127.0.0.1:{env_admin}",
                       PROXY_DEFAULT_BACKEND_ENABLED="on", PROXY_DEFAULT_BACKEND_IP=origin_ip,
                       PROXY_DEFAULT_BACKEND_SRT=str(ORIGIN_PORT))
            fwd = lab.srtfwd(config, env=env)
            log = fwd.log()
            for line in (f"environment: PROXY_SRT_SERVER={PROXY_SRT_PORT} -> srt.listen = [{PROXY_SRT_PORT}]",
                         f"environment: PROXY_SYSTEM_API=127.0.0.1:{env_admin} -> admin.listen",
                         "environment: PROXY_DEFAULT_BACKEND_ENABLED=on -> default backend a static backend",
                         f"environment: PROXY_DEFAULT_BACKEND_IP={origin_ip} -> default backend ip",
                         f"environment: PROXY_DEFAULT_BACKEND_SRT={ORIGIN_PORT} -> default backend srt port"):
                self.assertIn(line, log)

            # A real libsrt caller on 20080 reaches the default backend.
            r = self.run_peer(lab, PROXY_SRT_PORT, "#!::r=live/env,m=publish", "--count", 100, "--rate", 200)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("sent 100/100", r.stdout)
            origin.wait_for(r"^close \S+ #!::r=live/env,m=publish publish msgs=100 drops=0$", timeout=10)
            # The config's port is not listened on any more: no answer at all.
            r = self.run_peer(lab, CONFIG_SRT_PORT, "#!::r=live/env2,m=publish", "--count", 1,
                              "--connect-timeout-ms", 1500)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertNotIn("connected to", r.stdout)
            self.assertNotRegex(r.stdout, r"rejected reason=")

            # The admin API moved to PROXY_SYSTEM_API.
            with urllib.request.urlopen(f"http://127.0.0.1:{env_admin}/api/v1/sessions", timeout=5) as resp:
                self.assertIn("active", json.loads(resp.read().decode()))
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", config_admin), timeout=2).close()

            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 1)

    def test_2_redis(self):
        with NetLab(prefix="env", srtfwd_bin=self.srtfwd_bin) as lab:
            origin_ip, origin = self.origin(lab)
            redis = lab.redis()
            # The config says memory and has no Redis: the environment decides.
            config = lab.fwd_config(listen=(CONFIG_SRT_PORT,), leg_ports="21000-59999")
            env = dict(os.environ, PROXY_LOAD_BALANCER_TYPE="redis", PROXY_REDIS_HOST="127.0.0.1",
                       PROXY_REDIS_PORT=str(redis.port), PROXY_REDIS_KEY_PREFIX="envtest",
                       PROXY_ORIGIN_SERVER_TTL="45s", PROXY_SRT_SERVER=str(PROXY_SRT_PORT),
                       PROXY_DEFAULT_BACKEND_ENABLED="on", PROXY_DEFAULT_BACKEND_IP=origin_ip,
                       PROXY_DEFAULT_BACKEND_SRT=str(ORIGIN_PORT))
            fwd = lab.srtfwd(config, env=env)

            # The default backend, as the Go proxy registers it, under the prefix.
            deadline = time.monotonic() + 10
            keys = None
            while time.monotonic() < deadline:
                v = redis.cmd("GET", "envtest:srs-proxy-all-servers")
                if v:
                    keys = json.loads(v)
                    break
                time.sleep(0.05)
            self.assertTrue(keys, "no envtest:srs-proxy-all-servers")
            self.assertEqual(len(keys), 1, keys)
            self.assertRegex(keys[0], r"^envtest:srs-proxy-server:default-[0-9a-f]+-[0-9a-f]+-\d+$")
            rec = json.loads(redis.cmd("GET", keys[0]))
            self.assertEqual((rec["ip"], rec["srt"], rec["rtmp"], rec["api"], rec["rtc"]),
                             (origin_ip, [str(ORIGIN_PORT)], ["1935"], ["1985"], ["8000"]))
            self.assertTrue(rec["server_id"].startswith("default-"), rec)
            ttl = redis.cmd("TTL", keys[0])
            self.assertTrue(0 < ttl <= 45, ttl)
            self.assertIsNone(redis.cmd("GET", "srs-proxy-all-servers"), "an unprefixed key was written")

            # A caller without a stream ID: SRS's default stream, claimed under the prefix.
            r = self.run_peer(lab, PROXY_SRT_PORT, "", "--count", 50, "--rate", 200)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(redis.cmd("GET", "envtest:srs-proxy-url:__defaultVhost__/live/livestream"), keys[0])
            self.assertEqual(redis.cmd("KEYS", "srs-proxy-*"), [])

            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 1)
            self.assertIn(f"environment: PROXY_ORIGIN_SERVER_TTL=45s -> balancer.server_ttl_s = 45", fwd.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)

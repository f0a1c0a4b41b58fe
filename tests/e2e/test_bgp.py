"""End-to-end test of two srtfwd hosts sharing a VIP behind a BGP router
(docs/operations.md, "Several hosts behind one VIP"): each host's BIRD, in
the host's kernel namespace, announces the VIP over eBGP with the host's
data address as next hop while srtfwd is ready ([bgp] ready_command); the
router's BIRD merges both into one ECMP kernel route. Callers behind the
router spread over the two hosts. On SIGTERM a host's route is withdrawn
first ([bgp] draining_command), within withdraw_wait_ms, before its sessions
are cut: new callers go to the other host, and its own sessions finish
byte-exact while it drains.

The two forwarders share the two CPUs (one worker each, idle back-off).

Run as root:
  SRTFWD=.../srtfwd SRT_ORIGIN=.../srt-origin SRT_PEER=.../srt-peer \
      /usr/bin/python3 tests/e2e/test_bgp.py [-k NAME]
"""

import json
import os
import re
import signal
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_control as tc  # noqa: E402  (helpers; its tests are not collected here)
from netlab import NetLab, binary, final_counters, tail  # noqa: E402
from test_control import SRT_PORT, http_get, play_sid, pub_sid  # noqa: E402

VIP = "198.18.200.1"
PLAY_COUNT = 400  # 4 s at the publisher's 100 messages/s
DRAIN_MS = 15000
WITHDRAW_MS = 3000


def health(fwd):
    """GET /api/v1/health: (status, state)."""
    try:
        with urllib.request.urlopen(tc.admin_base(fwd) + "/api/v1/health", timeout=5) as r:
            return r.status, json.loads(r.read().decode())["state"]
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())["state"]


class BgpE2E(unittest.TestCase):
    maxDiff = None

    wait_ok = tc.ControlE2E.wait_ok
    stop_fwd = tc.ControlE2E.stop_fwd

    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    def peer(self, lab, verb, sid, dst, *extra, name):
        return lab.popen_in(lab.callers[0].ns, [self.peer_bin, verb, "--to", f"{dst}:{SRT_PORT}",
                                                "--streamid", sid, *map(str, extra)], name=name)

    def vip_sessions(self, fwd):
        """The forwarder's live sessions whose caller used the VIP."""
        s = http_get(fwd, "/api/v1/sessions")["sessions"]
        return [x for x in s if x["vip"] == f"{VIP}:{SRT_PORT}"]

    def wait_nexthops(self, lab, want, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            got = lab.vip_nexthops(VIP)
            if got == sorted(want):
                return
            if time.monotonic() > deadline:
                self.fail(f"router's route to {VIP}: next hops {got}, expected {sorted(want)}:\n"
                          + lab.run_in(lab.router_ns, ["ip", "route"]).stdout)
            time.sleep(0.02)

    def test_1_ecmp_then_one_host_withdraws_and_drains(self):
        with NetLab(prefix="bgp", srtfwd_bin=self.srtfwd_bin, router=True, forwarders=2) as lab:
            hosts = [lab.add_bgp_host(i) for i in range(2)]
            router = lab.bird(lab.router_ns, "router", lab.bird_router_config(hosts))
            for h in hosts:
                h.bird = lab.bird(h.ns, f"host{h.index}", lab.bird_host_config(h, [VIP]))
            # One origin on every forwarder's origin link (netlab: the router
            # is the forwarders' first gateway).
            o = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", "0.0.0.0", "--port", str(SRT_PORT)],
                             name="origin")
            o.wait_for(r"^listening ", timeout=10)
            fwds = []
            for i, h in enumerate(hosts):
                # srtfwd's hooks drive BIRD: announce when ready, withdraw
                # first on SIGTERM.
                bgp = (f"\n[bgp]\nready_command = '{' '.join(h.bird.birdc_argv('enable', 'srtfwd_vips'))}'\n"
                       f"draining_command = '{' '.join(h.bird.birdc_argv('disable', 'srtfwd_vips'))}'\n"
                       f"withdraw_wait_ms = {WITHDRAW_MS}\n")
                cfg = lab.fwd_config(i, backends=[(lab.fwd(i).origin_ip, SRT_PORT)], idle_timeout_ms=2000,
                                     port0_extra=[f'vips = ["{VIP}"]'],
                                     srt_extra=[f"drain_timeout_ms = {DRAIN_MS}"], extra=bgp)
                fwds.append(lab.srtfwd(cfg, fwd=i))
            for h in hosts:
                h.bird.wait_established("uplink")
                router.wait_established(f"host{h.index}")
            # Both ready: each has announced the VIP through its ready_command.
            for f in fwds:
                self.assertEqual(health(f), (200, "ready"))
            self.wait_nexthops(lab, [h.next_hop for h in hosts])
            route = lab.run_in(lab.router_ns, ["ip", "route", "show", f"{VIP}/32"]).stdout
            self.assertIn("proto bird", route)
            self.assertEqual(len(re.findall(r"nexthop via", route)), 2, route)

            # The stream is published on host 1's own address; players come
            # through the VIP, each from its own source port, until both
            # hosts have some.
            pub = self.peer(lab, "publish", pub_sid("live/vip"), lab.fwd(1).fwd_ip, "--count", 0,
                            "--rate", 100, name="pub")
            pub.wait_for(r"^connected to ", timeout=10)
            o.wait_for(r"^accept \S+ #!::r=live/vip,m=publish publish$", timeout=10)
            players = []
            # In batches started together, so that the first are still
            # playing when the last connect (all on one host: 1 in 32).
            while len(players) < 18 and (not players or
                                         min(len(self.vip_sessions(f)) for f in fwds) == 0):
                batch = [self.peer(lab, "play", play_sid("live/vip"), VIP, "--count", PLAY_COUNT,
                                   "--start-seq-any", "--timeout-ms", 20000, name=f"play{len(players) + k}")
                         for k in range(6)]
                for p in batch:
                    p.wait_for(r"^connected to ", timeout=10)
                players += batch
            on = [len(self.vip_sessions(f)) for f in fwds]
            self.assertEqual(sum(on), len(players), on)
            self.assertGreaterEqual(min(on), 1, on)

            # SIGTERM on host 0: health turns draining and its route goes
            # first (draining_command); the router is left with host 1 within
            # withdraw_wait_ms, before the drain starts, host 0's sessions
            # all running.
            t0 = time.monotonic()
            fwds[0].signal(signal.SIGTERM)
            self.wait_nexthops(lab, [hosts[1].next_hop], timeout=WITHDRAW_MS / 1000)
            self.assertLess(time.monotonic() - t0, WITHDRAW_MS / 1000)
            self.assertEqual(health(fwds[0]), (503, "draining"))
            self.assertNotRegex(fwds[0].log(), r"draining: \d+ session")
            self.assertEqual(len(self.vip_sessions(fwds[0])), on[0])
            fwds[0].wait_log(r"draining: \d+ session", timeout=WITHDRAW_MS / 1000 + 5)

            # New callers all reach host 1.
            late = [self.peer(lab, "play", play_sid("live/vip"), VIP, "--count", 100, "--start-seq-any",
                              "--timeout-ms", 20000, name=f"late{k}") for k in range(3)]
            for p in late:
                self.assertRegex(self.wait_ok(p, 30), r"(?m)^received 100/100 ok ")

            # Every player, host 0's drained ones too, got its messages
            # byte-exact and in order.
            for p in players:
                self.assertRegex(self.wait_ok(p, 30), rf"(?m)^received {PLAY_COUNT}/{PLAY_COUNT} ok ")
            rc = fwds[0].proc.wait(DRAIN_MS / 1000 + 10)
            log = fwds[0].log()
            self.assertEqual(rc, 0, tail(log))
            self.assertIn("mbufs in use at exit: 0", log)
            self.assertRegex(log, rf"draining: {on[0]} session\(s\)")
            c0 = final_counters(log)
            self.assertEqual(c0["srt"]["established"], on[0])
            self.assertEqual(c0["srt"]["rejected"], 0)
            pub.send_signal(signal.SIGTERM)
            self.wait_ok(pub, 20)
            c1 = self.stop_fwd(fwds[1])
            self.assertEqual(c1["srt"]["established"], 1 + on[1] + len(late))
            self.assertEqual(c1["srt"]["rejected"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

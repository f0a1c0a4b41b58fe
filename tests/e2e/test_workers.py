"""End-to-end tests of srtfwd with several workers: three worker lcores on the
two CPUs (--lcores 0@0,1@1,2@1,3@0; lcore 0 is the main lcore, which runs
control) and net_af_packet ports of 2, 3 and 4 queue pairs. The kernel hashes
the flows of an af_packet port over all of its queue pairs (PACKET_FANOUT), so
every one of them must be polled by some worker, or its share of the flows
vanishes.

  1-3 qpairs 2, 3, 4: the start-up log maps every (port, queue) to exactly one
      worker lcore (with 2 queue pairs the third worker idles and says so);
      UDP from 64 source ports to each of the forwarder's addresses is counted
      by the workers to the last datagram and reaches every RX queue; four
      streams, each a publisher and a player (eight libsrt callers with
      numbered messages), play byte-exact and in order, and one more caller's
      handshake succeeds while the others hold sessions on every worker;
      SHUTDOWN ends every session; the workers' own counters (exit JSON and
      /metrics with label lcore) add up to the totals; every mbuf is back in
      the pool at exit.
  4   Idle ending: with every peer and the origin killed (no SHUTDOWN), the
      idle sweep ends all sessions, wherever their two directions were polled.
With 8 sessions over 3 workers the chance that no session has its two
directions on different workers is (1/3)^8 per run; test 1-3 also check that
at least two workers forwarded.

Run as root:
  SRTFWD=.../srtfwd SRT_ORIGIN=.../srt-origin SRT_PEER=.../srt-peer \
      /usr/bin/python3 tests/e2e/test_workers.py [-k NAME]
"""

import os
import re
import signal
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import NetLab, binary, final_counters, tail  # noqa: E402
from test_control import ORIGIN_IPS, SRT_PORT, http_get, play_sid, pub_sid  # noqa: E402

PY = "/usr/bin/python3"
LCORES = "0@0,1@1,2@1,3@0"   # main lcore 0 (control), workers 1, 2, 3 on two CPUs
WORKERS = [1, 2, 3]
STREAMS = 4                  # each a publisher and a player: 8 callers
PLAY_COUNT = 150
PROBE_FLOWS = 64             # UDP source ports of the queue probe
PROBE_EACH = 2               # datagrams per source port
PROBE_PORT = 9               # no session there: the workers drop them as no_session

# Sends PROBE_EACH datagrams from each of PROBE_FLOWS source ports to dst:port.
PROBE = textwrap.dedent(r'''
    import socket, sys, time
    src, dst, port, flows, each = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    socks = []
    for i in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        socks.append(s)
    for k in range(each):
        for i, s in enumerate(socks):
            s.sendto(b"queue probe %d %d" % (i, k), (dst, port))
            time.sleep(0.001)
    print("sent", flows * each, flush=True)
''')

# The counters of the exit JSON whose worker shares must add up to the total
# (its control_tx is the control lcore's own sends, not the workers' share).
SUMMED = ["rx_packets", "rx_bytes", "forwarded", "forwarded_bytes", "tx_packets", "tx_dropped",
          "to_control", "session_events", "event_ring_full"]


def metrics(fwd):
    """{series: value} of /metrics."""
    out = {}
    for line in http_get(fwd, "/metrics").splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = int(float(value))
    return out


class WorkersE2E(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.srtfwd_bin = binary("SRTFWD")
        cls.origin_bin = binary("SRT_ORIGIN")
        cls.peer_bin = binary("SRT_PEER")

    # -- helpers ---------------------------------------------------------------------

    def origin(self, lab, n):
        p = lab.popen_in(lab.origin_ns, [self.origin_bin, "--bind", ORIGIN_IPS[n - 1], "--port", str(SRT_PORT)],
                         name=f"origin{n}")
        p.wait_for(r"^listening ", timeout=10)
        return p

    def peer(self, lab, verb, sid, *extra, name=None):
        argv = [self.peer_bin, verb, "--to", f"{lab.fwd().fwd_ip}:{SRT_PORT}", "--streamid", sid,
                *map(str, extra)]
        return lab.popen_in(lab.caller_ns(), argv, name=name or f"peer-{verb}")

    def wait_ok(self, p, timeout=30):
        rc = p.wait(timeout)
        self.assertEqual(rc, 0, f"{p.name} exit {rc}:\n{p.out_text()}{p.err_text()}")
        return p.out_text()

    def wait_sessions(self, fwd, n, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            s = http_get(fwd, "/api/v1/sessions")
            if s["active"] == n:
                return s
            if time.monotonic() > deadline:
                self.fail(f"sessions active {s['active']}, expected {n}: {s}")
            time.sleep(0.1)

    def start(self, lab, qpairs, **cfg):
        fwd = lab.srtfwd(lab.fwd_config(backends=[(ip, SRT_PORT) for ip in ORIGIN_IPS[:2]], **cfg),
                         lcores=LCORES, qpairs=qpairs)
        return fwd, self.check_queue_map(fwd.log(), qpairs)

    def check_queue_map(self, log, qpairs):
        """Every queue of both ports to exactly one worker lcore; returns {lcore: [(port, queue)]}."""
        owners = {}
        for port, rest in re.findall(r"port (\d) \(\S+\): rx queue (.*)$", log, re.M):
            for q, lcore in re.findall(r"(\d+) -> lcore (\d+)", rest):
                key = (int(port), int(q))
                self.assertNotIn(key, owners, f"queue {key} mapped twice:\n{tail(log)}")
                owners[key] = int(lcore)
        self.assertEqual(sorted(owners), [(p, q) for p in (0, 1) for q in range(qpairs)], tail(log))
        by_lcore = {}
        for key, lcore in owners.items():
            self.assertIn(lcore, WORKERS)
            by_lcore.setdefault(lcore, []).append(key)
        forwarding = min(len(WORKERS), qpairs)
        self.assertEqual(sorted(by_lcore), WORKERS[:forwarding], by_lcore)
        for lcore in WORKERS[forwarding:]:
            self.assertRegex(log, rf"(?m)lcore {lcore} idles: no RX queue")
        # round-robin: no worker has more than one queue more than another
        sizes = [len(v) for v in by_lcore.values()]
        self.assertLessEqual(max(sizes) - min(sizes), 1, by_lcore)
        return by_lcore

    def probe_queues(self, lab, fwd):
        """UDP from PROBE_FLOWS source ports to each forwarder address: every
        datagram reaches a worker (dropped there as no_session)."""
        f = lab.fwd()
        lab.run_in(f.caller_ns, [PY, "-c", PROBE, f.caller_ip, f.fwd_ip, PROBE_PORT, PROBE_FLOWS, PROBE_EACH],
                   check=True)
        lab.run_in(lab.origin_ns, [PY, "-c", PROBE, f.origin_ip, f.fwd_origin_ip, PROBE_PORT, PROBE_FLOWS,
                                   PROBE_EACH], check=True)
        want = 2 * PROBE_FLOWS * PROBE_EACH
        series = 'srtfwd_dropped_packets_total{reason="no_session"}'
        deadline = time.monotonic() + 10
        while metrics(fwd)[series] < want and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(metrics(fwd)[series], want, "queue probe datagrams lost (an RX queue nobody polls?)")

    def check_worker_sums(self, fwd, c, qpairs):
        """The workers' shares add up to the totals, in the exit JSON and in /metrics."""
        workers = {w["lcore"]: w for w in c["workers"]}
        self.assertEqual(sorted(workers), WORKERS, c["workers"])
        for k in SUMMED:
            self.assertEqual(sum(w[k] for w in workers.values()), c[k], f"{k}: {c['workers']}")
        self.assertEqual(sum(w["dropped"] for w in workers.values()), sum(c["dropped"].values()))
        # at least two workers forwarded (the two directions of the sessions spread)
        self.assertGreaterEqual(sum(1 for w in workers.values() if w["forwarded"] > 0), 2, c["workers"])
        for lcore, w in workers.items():
            self.assertEqual(w["rx_packets"] > 0, bool(w["rx_queues"]), w)
        # every RX queue of both ports received something (the probe's 64 flows)
        for p in c["ports"]:
            self.assertEqual(len(p["rx_queue_packets"]), qpairs, p)
            self.assertTrue(all(n > 0 for n in p["rx_queue_packets"]), p)
            self.assertEqual(sum(p["rx_queue_packets"]), p["rx_packets"], p)
        self.assertEqual(sum(p["rx_packets"] for p in c["ports"]), c["rx_packets"], c["ports"])

    def check_metrics_sums(self, fwd):
        """At rest, /metrics' worker series (label lcore) add up to its totals."""
        pairs = [("srtfwd_rx_packets_total", "srtfwd_worker_rx_packets_total"),
                 ("srtfwd_forwarded_packets_total", "srtfwd_worker_forwarded_packets_total"),
                 ("srtfwd_tx_packets_total", "srtfwd_worker_tx_packets_total"),
                 ("srtfwd_to_control_packets_total", "srtfwd_worker_to_control_packets_total")]
        deadline = time.monotonic() + 5
        while True:
            m = metrics(fwd)
            got = {t: (m[t], sum(m[f'{w}{{lcore="{lc}"}}'] for lc in WORKERS)) for t, w in pairs}
            if all(a == b for a, b in got.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for t, (total, summed) in got.items():
            self.assertEqual(summed, total, t)

    def streams(self, lab, fwd, origins, tag):
        """STREAMS publishers and players (8 callers), each player byte-exact
        and in order; a handshake while they all hold sessions; SHUTDOWN ends
        every session."""
        res = [f"live/{tag}{i}" for i in range(STREAMS)]
        pubs = [self.peer(lab, "publish", pub_sid(r), "--count", 0, "--rate", 100, name=f"pub-{r}") for r in res]
        for p in pubs:
            p.wait_for(r"^connected to ", timeout=15)
        plays = [self.peer(lab, "play", play_sid(r), "--count", PLAY_COUNT, "--start-seq-any",
                           "--timeout-ms", 30000, name=f"play-{r}") for r in res]
        for p in plays:
            p.wait_for(r"^connected to ", timeout=15)
        self.wait_sessions(fwd, 2 * STREAMS)
        # A handshake while every worker holds sessions: one more publisher.
        extra = self.peer(lab, "publish", pub_sid(f"live/{tag}x"), "--count", 50, "--rate", 100,
                          name="pub-extra")
        self.assertIn("sent 50/50", self.wait_ok(extra, 30))
        for p in plays:
            self.assertRegex(self.wait_ok(p, 60), rf"(?m)^received {PLAY_COUNT}/{PLAY_COUNT} ok ")
        for p in pubs:
            p.send_signal(signal.SIGTERM)
        for p in pubs:
            self.assertRegex(self.wait_ok(p, 20), r"(?m)^sent (\d+)/\1$")
        self.wait_sessions(fwd, 0)
        closed = [m for o in origins for m in re.findall(r"(?m)^close \S+ #!::r=(\S+),m=publish publish "
                                                         r"msgs=\d+ drops=0$", o.out_text())]
        self.assertEqual(sorted(closed), sorted(res + [f"live/{tag}x"]))

    def stop_fwd(self, fwd):
        rc = fwd.stop(15)
        log = fwd.log()
        self.assertEqual(rc, 0, f"srtfwd exit {rc}:\n{tail(log)}")
        self.assertIn("mbufs in use at exit: 0", log)
        return final_counters(log)

    def run_streams(self, qpairs):
        with NetLab(prefix="wrk", srtfwd_bin=self.srtfwd_bin) as lab:
            fwd, by_lcore = self.start(lab, qpairs)
            origins = [self.origin(lab, 1), self.origin(lab, 2)]
            self.probe_queues(lab, fwd)
            self.streams(lab, fwd, origins, f"q{qpairs}s")
            self.check_metrics_sums(fwd)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["srt"]["established"], 2 * STREAMS + 1)
            self.assertEqual(c["control"]["sessions_installed"], 2 * STREAMS + 1)
            self.assertEqual(c["control"]["sessions_ended_shutdown"], 2 * STREAMS + 1, c["control"])
            self.assertEqual(c["dropped"]["control_ring_full"], 0)
            self.assertEqual(c["tx_dropped"], 0)
            self.check_worker_sums(fwd, c, qpairs)
            self.assertEqual({w["lcore"]: sorted(map(tuple, w["rx_queues"])) for w in c["workers"]},
                             {lc: sorted(by_lcore.get(lc, [])) for lc in WORKERS})

    # -- tests -----------------------------------------------------------------------

    def test_1_qpairs_2(self):
        """2 queue pairs, 3 workers: two forward, the third idles (logged)."""
        self.run_streams(2)

    def test_2_qpairs_3(self):
        """3 queue pairs, 3 workers: one queue of each port per worker."""
        self.run_streams(3)

    def test_3_qpairs_4(self):
        """4 queue pairs, 3 workers: the fourth queue of each port is polled
        too (round-robin), and every flow is forwarded."""
        self.run_streams(4)

    def test_4_idle_ends_sessions_across_workers(self):
        """Every peer and the origin killed: the idle sweep ends all sessions."""
        with NetLab(prefix="wrk", srtfwd_bin=self.srtfwd_bin) as lab:
            fwd, _ = self.start(lab, 4, idle_timeout_ms=1000)
            origins = [self.origin(lab, 1), self.origin(lab, 2)]
            res = [f"live/idle{i}" for i in range(STREAMS)]
            pubs = [self.peer(lab, "publish", pub_sid(r), "--count", 0, "--rate", 100, name=f"pub-{r}")
                    for r in res]
            for p in pubs:
                p.wait_for(r"^connected to ", timeout=15)
            plays = [self.peer(lab, "play", play_sid(r), "--count", 1000000, "--start-seq-any",
                               "--timeout-ms", 60000, name=f"play-{r}") for r in res]
            for p in plays:
                p.wait_for(r"^connected to ", timeout=15)
            s = self.wait_sessions(fwd, 2 * STREAMS)
            self.assertTrue(all(x["from_caller"]["packets"] > 0 for x in s["sessions"]), s)
            for p in pubs + plays + origins:
                p.kill()
            for p in pubs + plays + origins:
                p.wait(5)
            self.wait_sessions(fwd, 0, timeout=15)
            c = self.stop_fwd(fwd)
            self.assertEqual(c["control"]["sessions_ended_idle"], 2 * STREAMS, c["control"])
            self.assertEqual(c["control"]["sessions_ended_shutdown"], 0, c["control"])
            workers = {w["lcore"]: w for w in c["workers"]}
            for k in SUMMED:
                self.assertEqual(sum(w[k] for w in workers.values()), c[k], k)
            self.assertGreaterEqual(sum(1 for w in workers.values() if w["forwarded"] > 0), 2, c["workers"])


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        sys.exit(77)  # meson: skipped
    unittest.main(verbosity=2)

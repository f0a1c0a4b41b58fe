#!/usr/bin/python3
"""Relay benchmark with real SRT peers (prints figures; not a test): a libsrt
publisher in a caller namespace sends through srtfwd (net_af_packet on veth
ends, as the e2e tests run it) to a libsrt origin, at rising bitrates. For
each rate: messages sent, messages the origin received, what SRT had to
retransmit on the way, srtfwd's own drops, and what its ports' drivers
missed (srtfwd_port_rx_missed_total: lost before a worker saw it). The Go proxy this replaces
loses packets above about 100 Mbit/s on one session; here the limit is what
af_packet and two shared cores carry.
  usage: scripts/bench-srt.sh [SECONDS_PER_RATE]   (default 5)
  RATES="50 100 200 400" (Mbit/s of SRT payload), SIZE=1316 (bytes per message)"""
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from netlab import NetLab  # noqa: E402

build = os.environ.get("BUILD", "build")
SRTFWD = os.path.join(build, "src/app/srtfwd")
ORIGIN = os.path.join(build, "tests/peers/srt-origin")
PEER = os.path.join(build, "tests/peers/srt-peer")
ORIGIN_IP, PORT = "198.18.1.2", 10080
secs = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
rates = [float(x) for x in os.environ.get("RATES", "50 100 200 400").split()]
size = int(os.environ.get("SIZE", "1316"))


def metrics(config_path):
    """The unlabelled counters of /metrics, and the labelled ones summed by name."""
    with open(config_path) as f:
        admin = re.search(r'^listen = "(127\.0\.0\.1:\d+)"', f.read(), re.M).group(1)
    text = urllib.request.urlopen(f"http://{admin}/metrics", timeout=5).read().decode()
    out = {}
    for m in re.finditer(r"^(srtfwd_[a-z_]+)(?:\{[^}]*\})? (\S+)$", text, re.M):
        out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
    return out


with NetLab(prefix="bsrt", srtfwd_bin=SRTFWD, keep_logs=False) as lab:
    fwd = lab.srtfwd(lab.fwd_config(backends=[(ORIGIN_IP, PORT)]), log_level="info")
    origin = lab.popen_in(lab.origin_ns, [ORIGIN, "--bind", ORIGIN_IP, "--port", str(PORT)], name="origin")
    origin.wait_for(r"^listening ", timeout=10)
    print(f"srt relay bench: libsrt publisher -> srtfwd (af_packet, 1 worker) -> libsrt origin, "
          f"{size}-byte messages, {secs:g} s per rate, {os.cpu_count()} cores")
    for i, mbit in enumerate(rates):
        pps = mbit * 1e6 / 8 / size
        n = int(pps * secs)
        res = f"live/bench{i}"
        m0 = metrics(fwd.config_path)
        t0 = time.monotonic()
        pub = lab.popen_in(lab.caller_ns(), [PEER, "publish", "--to", f"{lab.fwd().fwd_ip}:{PORT}",
                                             "--streamid", f"#!::r={res},m=publish", "--count", str(n),
                                             "--rate", str(int(pps)), "--size", str(size)],
                           name=f"pub{i}")
        try:
            rc = pub.wait(secs * 4 + 30)
        except subprocess.TimeoutExpired:  # a publisher starved of CPU falls behind its rate
            pub.kill()
            pub.wait(5)
            rc = "killed, still sending"
        took = time.monotonic() - t0
        close = origin.wait_for(rf"^close \S+ #!::r={re.escape(res)},m=publish publish msgs=(\d+)", timeout=15)
        got = int(close.group(1))
        time.sleep(0.3)  # the session's last packets and counters
        m1 = metrics(fwd.config_path)
        d = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1}
        sent = re.search(r"^sent (\d+)/", pub.out_text(), re.M)
        print(f"{mbit:6g} Mbit/s ({pps:7.0f} msg/s): publisher sent {sent.group(1) if sent else '?'}/{n} "
              f"(exit {rc}, {took:.1f} s), origin received {got} ({n - got} lost), "
              f"srtfwd forwarded {d.get('srtfwd_forwarded_packets_total', 0):.0f} packets "
              f"(both ways: data, retransmissions, ACKs), dropped {d.get('srtfwd_dropped_packets_total', 0):.0f}, "
              f"tx dropped {d.get('srtfwd_tx_dropped_packets_total', 0):.0f}, "
              f"missed by the ports {d.get('srtfwd_port_rx_missed_total', 0):.0f}")
    rc = fwd.stop(15)
    print(f"srtfwd stopped with exit code {rc}")

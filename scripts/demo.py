#!/usr/bin/python3
"""The srtfwd demo: builds test hosts in network namespaces, starts an SRT
origin, the forwarder on af_packet ports, an ffmpeg publisher and two players
through the forwarder, then prints what the forwarder's admin API reports.
Everything it starts is stopped and every namespace deleted at the end.
  usage: scripts/demo.py BUILD_DIR [SECONDS]"""
import json
import os
import sys
import time
import urllib.request

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "e2e"))
from netlab import NetLab, free_port  # noqa: E402

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build"))
seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
SRTFWD = os.path.join(build, "src", "app", "srtfwd")
ORIGIN = os.path.join(build, "tests", "peers", "srt-origin")
PEER = os.path.join(build, "tests", "peers", "srt-peer")


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


def link_line(s):
    """One session's link quality, each data direction its receiver reports on."""
    parts = []
    for name, d in (("caller->origin", s["from_caller"]), ("origin->caller", s["from_backend"])):
        if d["acks"] == 0:
            continue  # no receiver reports on it: no data that way (ACKACKs, keep-alives)
        parts.append(f"{name} {d['rate_pps']} pkt/s {d['rate_bps'] / 1e6:.2f} Mbit/s "
                     f"rtt {d['rtt_us'] / 1000:.2f} ms (var {d['rtt_var_us'] / 1000:.2f}) "
                     f"lost {d['lost']} ({d['loss_percent']:.2f} %) rexmit {d['retransmitted']} "
                     f"buf {d['avail_buf']}")
    return f"{s['caller']} [{s['id']}]: " + ("; ".join(parts) or "no data yet")


def say(text):
    print(f"demo: {text}", flush=True)


status = 1
with NetLab(prefix="demo", caller_addrs=3, srtfwd_bin=SRTFWD, keep_logs=False) as lab:
    f = lab.fwd(0)
    say(f"test hosts: caller ns {lab.caller_ns(0)} {f.caller_ips}, origin ns {lab.origin_ns} "
        f"{f.origin_ips}; forwarder answers {f.fwd_ip} (callers) and {f.fwd_origin_ip} (origins)")
    origin = lab.popen_in(lab.origin_ns, [ORIGIN, "--bind", f.origin_ips[0], "--port", "10080"])
    origin.wait_for(r"^listening", 10)
    say(f"SRT origin (libsrt) listening on {f.origin_ips[0]}:10080")
    admin = free_port()
    fwd = lab.srtfwd(lab.fwd_config(0, backends=[(f.origin_ips[0], 10080)], admin_port=admin),
                     log_level="info")
    say(f"srtfwd ready (admin API http://127.0.0.1:{admin})")
    vip = f"{f.fwd_ip}:10080"

    ok = lab.ping(lab.caller_ns(0), f.fwd_ip)
    say(f"ping {f.fwd_ip} from the caller host: {'ok' if ok else 'FAILED'}")

    # A real encoder: ffmpeg publishes a test pattern in MPEG-TS over SRT.
    ff = lab.popen_in(lab.caller_ns(0), [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
        "-i", "testsrc=size=320x240:rate=25", "-t", str(seconds + 4), "-c:v", "mpeg2video",
        "-b:v", "500k", "-f", "mpegts",
        f"srt://{vip}?streamid=#!::r=live/demo,m=publish&mode=caller&pkt_size=1316"], name="ffmpeg-pub")
    # A byte-exact check alongside: srt-peer publishes numbered messages.
    pub = lab.popen_in(lab.caller_ns(0), [PEER, "publish", "--to", vip, "--streamid",
                                          "#!::r=live/check,m=publish", "--count", "0",
                                          "--rate", "200"], name="peer-pub")
    time.sleep(1.5)
    say(f"ffmpeg publishes live/demo; srt-peer publishes live/check (200 msg/s)")
    play = lab.popen_in(lab.caller_ns(0), [PEER, "play", "--to", vip, "--streamid",
                                           "#!::r=live/check,m=request", "--count",
                                           str(200 * (seconds - 2)), "--start-seq-any",
                                           "--timeout-ms", str((seconds + 5) * 1000)], name="peer-play")
    ffplay = lab.run_in(lab.caller_ns(0), [
        "ffprobe", "-hide_banner", "-loglevel", "error", "-count_frames", "-select_streams", "v:0",
        "-read_intervals", "%+3", "-show_entries", "stream=codec_name,width,height,nb_read_frames",
        "-of", "json", f"srt://{vip}?streamid=#!::r=live/demo,m=request&mode=caller"],
        timeout=seconds + 10)
    try:
        st = json.loads(ffplay.stdout)["streams"][0]
        say(f"ffprobe played live/demo through srtfwd: {st['codec_name']} {st['width']}x{st['height']}, "
            f"{st.get('nb_read_frames')} frames in 3 s")
    except (ValueError, KeyError, IndexError):
        say(f"ffprobe could not play live/demo: {ffplay.stderr.strip()[:300]}")
    # Link quality, live: what srtfwd reads from the ACKs and NAKs it relays.
    deadline = time.monotonic() + seconds + 10
    while play.poll() is None and time.monotonic() < deadline:
        for s in json.loads(get(admin, "/api/v1/sessions"))["sessions"]:
            say("  " + link_line(s))
        time.sleep(1)
    rc = play.wait(timeout=max(1, deadline - time.monotonic()))
    say(f"srt-peer player: {play.out_text().strip().splitlines()[-1] if play.out_text().strip() else ''} (exit {rc})")
    # A player of a stream nobody publishes yet is routed and held at an
    # origin, as through the Go proxy; a stream ID without a resource is
    # refused at once, as an SRS origin refuses it.
    rej = lab.run_in(lab.caller_ns(0), [PEER, "play", "--to", vip, "--streamid",
                                        "#!::m=request", "--count", "1", "--timeout-ms", "5000"])
    say(f"stream ID without a resource: {rej.stdout.strip().splitlines()[-1] if rej.stdout.strip() else rej.stderr.strip()}")

    sessions = json.loads(get(admin, "/api/v1/sessions"))
    say(f"/api/v1/sessions: {sessions['active']} active")
    for s in sessions["sessions"]:
        say(f"  {s['caller']} -> {s['vip']} => leg {s['leg']} -> {s['backend']}: "
            f"{s['from_caller']['packets']} packets in, {s['from_backend']['packets']} back")
        say("    " + link_line(s))
    metrics = get(admin, "/metrics")
    say("/metrics (excerpt):")
    for line in metrics.splitlines():
        if line.startswith(("srtfwd_rx_packets_total", "srtfwd_forwarded_packets_total",
                            "srtfwd_sessions_", "srtfwd_to_control", "srtfwd_mbufs",
                            "srtfwd_session_rtt_seconds_count", "srtfwd_session_rtt_seconds_sum",
                            "srtfwd_session_loss_percent_count", "srtfwd_session_loss_percent_sum")):
            print("    " + line)
    for p in (pub, ff):
        p.stop()
    code = fwd.stop()
    tail = [l for l in fwd.log().splitlines() if "mbufs in use" in l]
    say(f"srtfwd stopped with exit code {code}; {tail[-1].split(' info ')[-1] if tail else ''}")
    say("done: namespaces and processes are removed now")
    status = 0 if (code == 0 and rc == 0) else 1
sys.exit(status)

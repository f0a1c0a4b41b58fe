// srt-peer — an SRT caller (live mode) that publishes or plays test messages.
//
//   srt-peer publish|play --to IP:PORT --streamid S
//            [--passphrase X [--pbkeylen 16|24|32]] [--latency MS]
//            [--count N] [--size BYTES] [--rate PPS] [--timeout-ms T]
//            [--connect-timeout-ms T] [--bind IP:PORT] [--key K]
//            [--start-seq-any] [--expect-reject CODE] [--first-seq N]
//
// publish: sends N messages (N = 0: until SIGTERM/SIGINT) of BYTES bytes (16..1456,
//   default 1316) at PPS messages/s (default 100; 0 = unpaced), each carrying its
//   sequence number and content derived from (key, seq); waits until the peer
//   has acknowledged everything and its latency has passed, closes, prints
//   "sent N/N", then libsrt's statistics of the connection ("stats rtt_ms=..."
//   as peer_common.h's link_stats_text). --first-seq N numbers the messages from N (an encoder that
//   reconnects and carries on, so a player that waited sees one sequence).
// play: receives until N messages arrived (default 100) or T ms passed (default
//   10000), checks every message byte-exact and in order from seq 0 (or from the
//   first one received with --start-seq-any), prints "received N/N ok".
// key: the resource of the stream ID (r=..., or the plain form without query),
//   so a publisher and a player of one stream agree; --key overrides it.
//
// Exit: 0 ok; 1 data error (gap, reorder, corruption), connection lost, or an
//   --expect-reject that did not happen; 2 rejected ("rejected reason=C (text)
//   after MS ms"); 3 timeout (connect: "timeout reason=16 (...) after MS ms";
//   play: "timeout: received K/N"); 64 usage. With --expect-reject CODE: 0 iff
//   the connection was rejected with CODE (a connect timeout is CODE 16).
#include "peer_common.h"
#include "srt_wrap.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Args {
  bool publish = false;
  std::string to;
  std::string streamid;
  bool have_streamid = false;
  std::optional<std::string> bind;
  std::optional<std::string> key;
  peers::LiveOptions live;
  uint64_t count = 100;
  int size = 1316;
  double rate = 100;
  int timeout_ms = 10000;
  int connect_timeout_ms = 3000;
  bool start_seq_any = false;
  std::optional<int> expect_reject;
  uint64_t first_seq = 0;
};

int usage() {
  std::fprintf(stderr,
               "usage: srt-peer publish|play --to IP:PORT --streamid S\n"
               "         [--passphrase X [--pbkeylen 16|24|32]] [--latency MS]\n"
               "         [--count N] [--size BYTES] [--rate PPS] [--timeout-ms T]\n"
               "         [--connect-timeout-ms T] [--bind IP:PORT] [--key K]\n"
               "         [--start-seq-any] [--expect-reject CODE] [--first-seq N]\n");
  return 64;
}

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
}

void out(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Connects; on failure prints the outcome and sets *rc.
srtw::Socket connect_or_report(const Args& a, int* rc) {
  auto to = srtw::parse_endpoint(a.to);
  if (!to) {
    std::fprintf(stderr, "srt-peer: bad --to %s\n", a.to.c_str());
    *rc = 64;
    return {};
  }
  auto s = srtw::Socket::create();
  peers::LiveOptions live = a.live;
  if (a.publish && a.size > 1316) live.payload_size = a.size;
  peers::apply_live(s, live);
  s.set_string(SRTO_STREAMID, a.streamid, "SRTO_STREAMID");
  s.set(SRTO_CONNTIMEO, a.connect_timeout_ms, "SRTO_CONNTIMEO");
  if (a.bind) {
    auto b = srtw::parse_endpoint(*a.bind);
    if (!b) {
      std::fprintf(stderr, "srt-peer: bad --bind %s\n", a.bind->c_str());
      *rc = 64;
      return {};
    }
    if (srt_bind(s.get(), b->sa(), static_cast<int>(b->len)) < 0)
      srtw::throw_last("srt_bind " + *a.bind);
  }
  auto t0 = Clock::now();
  if (srt_connect(s.get(), to->sa(), static_cast<int>(to->len)) < 0) {
    long long ms = ms_since(t0);
    int reason = srt_getrejectreason(s.get());
    std::string err = srtw::last_error_text();
    bool timeout = reason == SRT_REJ_TIMEOUT;
    out(std::string(timeout ? "timeout" : "rejected") + " reason=" + std::to_string(reason) + " (" +
        srt_rejectreason_str(reason) + ") after " + std::to_string(ms) + " ms");
    std::fprintf(stderr, "srt-peer: srt_connect %s: %s\n", a.to.c_str(), err.c_str());
    if (a.expect_reject)
      *rc = (*a.expect_reject == reason) ? 0 : 1;
    else
      *rc = timeout ? 3 : 2;
    return {};
  }
  if (a.expect_reject) {
    out("connected, but expected reject reason=" + std::to_string(*a.expect_reject));
    *rc = 1;
    return {};
  }
  out("connected to " + a.to + " streamid=" + a.streamid + " in " + std::to_string(ms_since(t0)) +
      " ms");
  *rc = 0;
  return s;
}

int do_publish(const Args& a, srtw::Socket& s, const std::string& key) {
  std::vector<uint8_t> buf(static_cast<size_t>(a.size));
  auto t0 = Clock::now();
  auto period =
      a.rate > 0 ? std::chrono::duration<double>(1.0 / a.rate) : std::chrono::duration<double>(0);
  uint64_t seq = 0;
  for (; (a.count == 0 || seq < a.count) && !g_stop; ++seq) {
    if (a.rate > 0)
      std::this_thread::sleep_until(
          t0 + std::chrono::duration_cast<Clock::duration>(period * static_cast<double>(seq)));
    peers::fill_message(buf, key, a.first_seq + seq);
    if (srt_sendmsg2(s.get(), reinterpret_cast<const char*>(buf.data()),
                     static_cast<int>(buf.size()), nullptr) < 0) {
      out("send failed at seq " + std::to_string(seq) + ": " + srtw::last_error_text());
      return 1;
    }
  }
  // Live mode closes without lingering, and a receiver drops what its TSBPD
  // has not yet delivered when the connection ends: wait for the ACKs, then
  // for the negotiated latency, before closing.
  auto drain_deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    size_t blocks = 0, bytes = 0;
    if (srt_getsndbuffer(s.get(), &blocks, &bytes) < 0 || blocks == 0) break;
    if (Clock::now() > drain_deadline) {
      std::fprintf(stderr, "srt-peer: %zu messages still unacknowledged at close\n", blocks);
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  int peer_latency = a.live.latency_ms;
  try {
    peer_latency = s.get_opt<int>(SRTO_PEERLATENCY, "SRTO_PEERLATENCY");
  } catch (const srtw::Error&) {}
  std::this_thread::sleep_for(milliseconds(peer_latency + 200));
  out("sent " + std::to_string(seq) + "/" + std::to_string(a.count == 0 ? seq : a.count));
  out("stats " + peers::link_stats_text(s.get()));
  return 0;
}

int do_play(const Args& a, srtw::Socket& s, const std::string& key) {
  auto deadline = Clock::now() + milliseconds(a.timeout_ms);
  char buf[1500];
  uint64_t received = 0, first = 0, expect = 0;
  while (received < a.count) {
    if (g_stop) {
      out("interrupted: received " + std::to_string(received) + "/" + std::to_string(a.count));
      return 1;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      out("timeout: received " + std::to_string(received) + "/" + std::to_string(a.count));
      return 3;
    }
    int slice = static_cast<int>(std::min<long long>(left, 200));
    s.set(SRTO_RCVTIMEO, slice, "SRTO_RCVTIMEO");
    int n = srt_recvmsg2(s.get(), buf, sizeof buf, nullptr);
    if (n < 0) {
      int err = srtw::last_error_code();
      if (err == SRT_ETIMEOUT || err == SRT_EASYNCRCV) continue;
      out("connection lost after " + std::to_string(received) + "/" + std::to_string(a.count) +
          " messages: " + srtw::last_error_text());
      return 1;
    }
    if (n == 0) continue;
    uint64_t seq = 0;
    auto bad = peers::check_message(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)),
        key, &seq);
    if (bad) {
      out("corrupt message #" + std::to_string(received) + " (seq " + std::to_string(seq) +
          "): " + *bad);
      return 1;
    }
    if (received == 0) {
      if (!a.start_seq_any && seq != 0) {
        out("gap: first message has seq " + std::to_string(seq) +
            ", expected 0 (use --start-seq-any to join a running stream)");
        return 1;
      }
      first = expect = seq;
    }
    if (seq != expect) {
      out(std::string(seq > expect ? "gap" : "reorder") + ": expected seq " +
          std::to_string(expect) + ", got " + std::to_string(seq) + " after " +
          std::to_string(received) + " messages");
      return 1;
    }
    ++expect;
    ++received;
  }
  out("received " + std::to_string(received) + "/" + std::to_string(a.count) + " ok (seq " +
      std::to_string(first) + ".." + std::to_string(expect - 1) + ")");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  Args a;
  std::string_view verb = argv[1];
  if (verb == "publish")
    a.publish = true;
  else if (verb == "play")
    a.publish = false;
  else if (verb == "--help" || verb == "-h")
    return usage(), 0;
  else
    return usage();
  for (int i = 2; i < argc; ++i) {
    std::string_view o = argv[i];
    if (o == "--start-seq-any") {
      a.start_seq_any = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    std::string_view v = argv[++i];
    bool ok = true;
    if (o == "--to")
      a.to = v;
    else if (o == "--streamid")
      a.streamid = v, a.have_streamid = true;
    else if (o == "--passphrase")
      a.live.passphrase = v;
    else if (o == "--pbkeylen")
      ok = peers::parse_num(v, a.live.pbkeylen);
    else if (o == "--latency")
      ok = peers::parse_num(v, a.live.latency_ms);
    else if (o == "--count")
      ok = peers::parse_num(v, a.count);
    else if (o == "--size")
      ok = peers::parse_num(v, a.size);
    else if (o == "--rate")
      ok = peers::parse_num(v, a.rate);
    else if (o == "--timeout-ms")
      ok = peers::parse_num(v, a.timeout_ms);
    else if (o == "--connect-timeout-ms")
      ok = peers::parse_num(v, a.connect_timeout_ms);
    else if (o == "--bind")
      a.bind = std::string(v);
    else if (o == "--key")
      a.key = std::string(v);
    else if (o == "--first-seq")
      ok = peers::parse_num(v, a.first_seq);
    else if (o == "--expect-reject") {
      int c = 0;
      ok = peers::parse_num(v, c);
      a.expect_reject = c;
    } else {
      std::fprintf(stderr, "srt-peer: unknown option %s\n", argv[i - 1]);
      return usage();
    }
    if (!ok) {
      std::fprintf(stderr, "srt-peer: bad value for %s: %s\n", argv[i - 1], argv[i]);
      return usage();
    }
  }
  if (a.to.empty() || !a.have_streamid) return usage();
  if (a.size < static_cast<int>(peers::kHeaderSize) ||
      a.size > static_cast<int>(peers::kMaxPayload)) {
    std::fprintf(stderr, "srt-peer: --size must be %zu..%zu\n", peers::kHeaderSize,
                 peers::kMaxPayload);
    return 64;
  }
  if (!a.publish && a.count == 0) {
    std::fprintf(stderr, "srt-peer: play needs --count >= 1\n");
    return 64;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::string key = a.key ? *a.key : peers::parse_stream_id(a.streamid).resource;
  try {
    srtw::Library lib;
    srt_setloglevel(LOG_ERR);
    int rc = 0;
    auto s = connect_or_report(a, &rc);
    if (!s) return rc;
    return a.publish ? do_publish(a, s, key) : do_play(a, s, key);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srt-peer: %s\n", e.what());
    return 1;
  }
}

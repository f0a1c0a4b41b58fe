// srt-origin — a small multi-stream SRT origin (live mode) for the tests: the
// backend srtfwd relays to.
//
//   srt-origin --bind IP --port P [--passphrase X [--pbkeylen 16|24|32]]
//              [--latency MS] [--reject RESOURCE=CODE ...]
//
// Accepts any number of callers on one thread (srt_epoll). Each accepted socket's
// stream ID (SRTO_STREAMID) says its resource and mode: a publisher's messages are
// relayed byte-exact and in order to every player connected for that resource at
// the time. As SRS does (srs_app_srt_conn.cpp), a player of a resource nobody
// publishes is accepted and held, and gets the stream once a publisher starts
// it (or starts it again after a reconnection). One line per event on stdout:
//   listening IP:PORT
//   accept PEER STREAMID MODE
//   close PEER STREAMID MODE msgs=N drops=D      (N received or sent, D not sent)
//   stats PEER rtt_ms=... (libsrt's view of that connection, peer_common.h;
//                          a publisher's as of its last message)
//   reject PEER STREAMID code=CODE               (--reject)
//   exit
// An empty stream ID is printed as "-". SIGTERM/SIGINT: close everything, exit 0.
// --reject RESOURCE=CODE (repeatable; RESOURCE "*" matches all) rejects such
// callers in the listen callback with that code (e.g. 1404, 1403).
#include "peer_common.h"
#include "srt_wrap.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Conn {
  srtw::Socket sock;
  std::string peer;
  std::string sid;
  peers::StreamId id;
  uint64_t msgs = 0;
  uint64_t drops = 0;
  // libsrt's statistics as of the last message (every 100 ms at most): a
  // publisher's socket is already broken when its close is seen, and
  // srt_bstats no longer answers then.
  std::string stats;
  std::chrono::steady_clock::time_point stats_at{};
};

struct Config {
  std::string bind = "0.0.0.0";
  int port = 0;
  peers::LiveOptions live;
  std::map<std::string, int> reject;  // resource (or "*") -> code
};

std::string show(const std::string& sid) { return sid.empty() ? "-" : sid; }

// One write per line: the listen callback prints from libsrt's thread.
void say_line(const std::string& line) {
  std::string l = line + "\n";
  std::fwrite(l.data(), 1, l.size(), stdout);
  std::fflush(stdout);
}

// Runs on libsrt's receiver thread; reads only the immutable config.
int listen_hook(void* opaque, SRTSOCKET ns, int, const sockaddr* peer, const char* streamid) {
  const auto* cfg = static_cast<const Config*>(opaque);
  if (cfg->reject.empty()) return 0;
  std::string sid = streamid ? streamid : "";
  auto id = peers::parse_stream_id(sid);
  auto it = cfg->reject.find(id.resource);
  if (it == cfg->reject.end()) it = cfg->reject.find("*");
  if (it == cfg->reject.end()) return 0;
  srt_setrejectreason(ns, it->second);
  say_line("reject " + srtw::to_string(peer) + " " + show(sid) +
           " code=" + std::to_string(it->second));
  return -1;
}

int usage() {
  std::fprintf(stderr,
               "usage: srt-origin --bind IP --port P [--passphrase X [--pbkeylen 16|24|32]]\n"
               "                  [--latency MS] [--reject RESOURCE=CODE ...]\n");
  return 64;
}

class Origin {
 public:
  explicit Origin(const Config& cfg) : cfg_(cfg) {}

  int run() {
    auto addr = srtw::make_address(cfg_.bind, static_cast<uint16_t>(cfg_.port));
    if (!addr) {
      std::fprintf(stderr, "srt-origin: bad bind address %s\n", cfg_.bind.c_str());
      return 64;
    }
    listener_ = srtw::Socket::create();
    peers::apply_live(listener_, cfg_.live);
    // Accepted sockets inherit these: nothing blocks the one thread, and a
    // player may be sent the largest live payload a publisher can send.
    listener_.set(SRTO_PAYLOADSIZE, static_cast<int>(peers::kMaxPayload), "SRTO_PAYLOADSIZE");
    listener_.set(SRTO_RCVSYN, false, "SRTO_RCVSYN");
    listener_.set(SRTO_SNDSYN, false, "SRTO_SNDSYN");
    if (addr->family() == AF_INET6) listener_.set(SRTO_IPV6ONLY, 0, "SRTO_IPV6ONLY");
    if (srt_bind(listener_.get(), addr->sa(), static_cast<int>(addr->len)) < 0)
      srtw::throw_last("srt_bind " + cfg_.bind + ":" + std::to_string(cfg_.port));
    if (srt_listen_callback(listener_.get(), &listen_hook, const_cast<Config*>(&cfg_)) < 0)
      srtw::throw_last("srt_listen_callback");
    if (srt_listen(listener_.get(), 128) < 0) srtw::throw_last("srt_listen");
    ep_.add(listener_.get(), SRT_EPOLL_IN | SRT_EPOLL_ERR);
    {
      sockaddr_storage ss{};
      int len = sizeof ss;
      srt_getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
      say("listening " + srtw::to_string(reinterpret_cast<sockaddr*>(&ss)));
    }

    std::vector<SRT_EPOLL_EVENT> ev(256);
    while (!g_stop) {
      int n = ep_.wait(ev, 100);
      for (int i = 0; i < n; ++i) {
        if (ev[i].fd == listener_.get())
          accept_all();
        else
          on_event(ev[i].fd, ev[i].events);
      }
    }
    std::vector<SRTSOCKET> all;
    for (auto& [s, c] : conns_) all.push_back(s);
    for (auto s : all) close_conn(s, "shutdown");
    say("exit");
    return 0;
  }

 private:
  static void say(const std::string& line) { say_line(line); }

  // One accept per readiness event: the epoll is level-triggered, so more
  // pending callers wake the next wait at once. (Accepting until EASYNCRCV
  // would make libsrt 1.5.1 log an error for the empty queue every time.)
  void accept_all() {
    {
      sockaddr_storage ss{};
      int len = sizeof ss;
      SRTSOCKET s = srt_accept(listener_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
      if (s == SRT_INVALID_SOCK) {
        if (srtw::last_error_code() != SRT_EASYNCRCV)
          std::fprintf(stderr, "srt-origin: srt_accept: %s\n", srtw::last_error_text().c_str());
        return;
      }
      Conn c;
      c.sock = srtw::Socket(s);
      c.peer = srtw::to_string(reinterpret_cast<sockaddr*>(&ss));
      try {
        c.sid = c.sock.get_string(SRTO_STREAMID, "SRTO_STREAMID");
      } catch (const srtw::Error& e) { std::fprintf(stderr, "srt-origin: %s\n", e.what()); }
      c.id = peers::parse_stream_id(c.sid);
      say("accept " + c.peer + " " + show(c.sid) + " " + c.id.mode());
      // Players only need to be watched for errors; publishers for data.
      // A player waits in players_ whether or not its resource is
      // published yet: relay() finds it when data arrives.
      ep_.add(s, c.id.publish ? (SRT_EPOLL_IN | SRT_EPOLL_ERR) : SRT_EPOLL_ERR);
      if (!c.id.publish) players_[c.id.resource].insert(s);
      conns_.emplace(s, std::move(c));
    }
  }

  void on_event(SRTSOCKET s, int events) {
    auto it = conns_.find(s);
    if (it == conns_.end()) return;
    Conn& c = it->second;
    if (c.id.publish && (events & SRT_EPOLL_IN)) {
      if (!drain_publisher(c)) return;  // closed
    }
    if (events & SRT_EPOLL_ERR) {
      close_conn(s, "");
      return;
    }
    SRT_SOCKSTATUS st = c.sock.state();
    if (st == SRTS_BROKEN || st == SRTS_CLOSED || st == SRTS_NONEXIST) close_conn(s, "");
  }

  // false when the publisher was closed
  bool drain_publisher(Conn& c) {
    char buf[1500];
    for (;;) {
      int n = srt_recvmsg2(c.sock.get(), buf, sizeof buf, nullptr);
      if (n < 0) {
        int err = srtw::last_error_code();
        if (err == SRT_EASYNCRCV) return true;
        close_conn(c.sock.get(), "");
        return false;
      }
      if (n == 0) continue;
      ++c.msgs;
      const auto now = std::chrono::steady_clock::now();
      if (now - c.stats_at >= std::chrono::milliseconds(100)) {
        c.stats = peers::link_stats_text(c.sock.get());
        c.stats_at = now;
      }
      relay(c.id.resource, buf, n);
    }
  }

  void relay(const std::string& resource, const char* buf, int n) {
    auto pit = players_.find(resource);
    if (pit == players_.end()) return;
    std::vector<SRTSOCKET> dead;
    for (SRTSOCKET p : pit->second) {
      auto& pc = conns_.at(p);
      if (srt_sendmsg2(p, buf, n, nullptr) < 0) {
        if (srtw::last_error_code() == SRT_EASYNCSND)
          ++pc.drops;
        else
          dead.push_back(p);
      } else {
        ++pc.msgs;
      }
    }
    for (SRTSOCKET p : dead) close_conn(p, "");
  }

  void close_conn(SRTSOCKET s, const char* why) {
    auto it = conns_.find(s);
    if (it == conns_.end()) return;
    Conn& c = it->second;
    ep_.remove(s);
    if (!c.id.publish) {
      auto pit = players_.find(c.id.resource);
      if (pit != players_.end()) {
        pit->second.erase(s);
        if (pit->second.empty()) players_.erase(pit);
      }
    }
    std::string stats = peers::link_stats_text(s);
    if (stats.starts_with("rtt_ms=?") && !c.stats.empty()) stats = c.stats;
    say("stats " + c.peer + " " + stats);
    say("close " + c.peer + " " + show(c.sid) + " " + c.id.mode() +
        " msgs=" + std::to_string(c.msgs) + " drops=" + std::to_string(c.drops) +
        (why && *why ? std::string(" ") + why : std::string()));
    conns_.erase(it);  // Socket closes
  }

  const Config& cfg_;
  srtw::Socket listener_;
  srtw::Epoll ep_;
  std::unordered_map<SRTSOCKET, Conn> conns_;
  std::unordered_map<std::string, std::set<SRTSOCKET>> players_;
};

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") return usage(), 0;
    if (!(v = val())) return usage();
    if (a == "--bind")
      cfg.bind = v;
    else if (a == "--port") {
      if (!peers::parse_num(v, cfg.port) || cfg.port < 0 || cfg.port > 65535) return usage();
      have_port = true;
    } else if (a == "--passphrase")
      cfg.live.passphrase = v;
    else if (a == "--pbkeylen") {
      if (!peers::parse_num(v, cfg.live.pbkeylen)) return usage();
    } else if (a == "--latency") {
      if (!peers::parse_num(v, cfg.live.latency_ms)) return usage();
    } else if (a == "--reject") {
      std::string_view r = v;
      auto eq = r.rfind('=');
      int code = 0;
      if (eq == std::string_view::npos || !peers::parse_num(r.substr(eq + 1), code)) return usage();
      cfg.reject[std::string(r.substr(0, eq))] = code;
    } else {
      std::fprintf(stderr, "srt-origin: unknown option %s\n", argv[i - 1]);
      return usage();
    }
  }
  if (!have_port) return usage();

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    srtw::Library lib;
    srt_setloglevel(LOG_ERR);
    Origin o(cfg);
    return o.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srt-origin: %s\n", e.what());
    return 1;
  }
}

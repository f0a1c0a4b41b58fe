// The in-process balancer: static [[backend]]s and origins that registered
// through the admin API, with stream stickiness in this process only. The
// rules are the Redis balancer's, so a deployment can move between the two
// without surprises: a mapping to a live origin is kept, whoever publishes
// or leaves; a caller with no live mapping claims the least loaded origin (a
// player only with unknown_stream_players = "route"); a claim whose leg
// failed is undone.
#include <unistd.h>

#include <map>
#include <optional>
#include <utility>
#include <unordered_map>

#include "srtfwd/control/balancer.h"
#include "srtfwd/srt/reject.h"

namespace srtfwd::control {

namespace {

class MemoryBalancer final : public Balancer {
 public:
  explicit MemoryBalancer(const BalancerOptions& opt)
      : ttl_ms_(uint64_t{opt.server_ttl_s} * 1000), route_players_(opt.route_unknown_players) {
    add_static(opt.backends);
  }

  void set_static_backends(const std::vector<StaticBackend>& backends) override {
    std::map<std::string, Entry> old;
    for (auto it = servers_.begin(); it != servers_.end();) {
      if (it->second.info.seen_ms == 0) {
        old.insert(*it);
        it = servers_.erase(it);
      } else {
        ++it;
      }
    }
    add_static(backends);
    // Static origins are named by position: a stream mapped to one whose
    // place now holds another endpoint, or none, is forgotten, and its next
    // caller claims again. Sessions already relayed go on where they are.
    for (auto it = streams_.begin(); it != streams_.end();) {
      const auto o = old.find(it->second.server);
      const auto n = servers_.find(it->second.server);
      if (o != old.end() && (n == servers_.end() || n->second.srt != o->second.srt)) {
        unmap(it->second.server);
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void pick(const std::string& stream_url, srt::Mode mode, uint64_t now_ms, Done done) override {
    Pick p = choose(stream_url, mode, now_ms);
    done(p);
  }

  void register_server(const ServerInfo& s, uint64_t now_ms) override {
    ServerInfo copy = s;
    // 0 means static; a heartbeat at the clock's origin still expires.
    copy.seen_ms = now_ms == 0 ? 1 : now_ms;
    add(std::move(copy));
  }

  void poll(uint64_t now_ms) override {
    // Forget expired origins and the streams mapped to them, now and then:
    // a stream that outlives its origin is re-claimed by its next caller.
    if (now_ms < next_expiry_ms_) return;
    next_expiry_ms_ = now_ms + 1000;
    for (auto it = servers_.begin(); it != servers_.end();) {
      if (!alive(it->second.info, now_ms)) {
        it = servers_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (servers_.find(it->second.server) == servers_.end()) {
        unmap(it->second.server);
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // The mapping a failed claim created goes, and its origin's load with it.
  // The dead mapping it replaced (if any) is not restored: it would be
  // replaced again by the next claim.
  void unclaim(const std::string& url, const std::string& server_key, uint64_t claim) override {
    auto m = streams_.find(url);
    if (claim == 0 || m == streams_.end() || m->second.claim != claim ||
        m->second.server != server_key)
      return;
    unmap(m->second.server);
    streams_.erase(m);
  }

  std::vector<ServerInfo> servers(uint64_t now_ms) const override {
    std::vector<ServerInfo> out;
    for (const auto& [key, e] : servers_)
      if (alive(e.info, now_ms)) out.push_back(e.info);
    return out;
  }

  std::vector<StreamMapping> streams() const override {
    std::vector<StreamMapping> out;
    out.reserve(streams_.size());
    for (const auto& [url, m] : streams_) out.push_back({url, m.server});
    return out;
  }

  std::string state() const override { return "memory"; }

 private:
  bool alive(const ServerInfo& s, uint64_t now_ms) const {
    return s.seen_ms == 0 || now_ms < s.seen_ms + ttl_ms_;
  }

  // An origin with what a pick needs from it worked out once per heartbeat,
  // not once per handshake: its SRT endpoint (parsed from the registered
  // listen string) and its key.
  struct Entry {
    ServerInfo info;
    std::optional<std::pair<net::IpAddr, uint16_t>> srt;
  };

  // A static backend has no heartbeat: it is a server that never expires
  // (seen_ms 0), named like a registered one so the API shows one kind.
  void add_static(const std::vector<StaticBackend>& backends) {
    const std::string pid = std::to_string(::getpid());
    for (size_t i = 0; i < backends.size(); ++i) {
      ServerInfo s;
      s.ip = backends[i].ip.to_string();
      s.server_id = "static-" + std::to_string(i);
      s.service_id = "srtfwd";
      s.pid = pid;
      s.srt = {std::to_string(backends[i].srt_port)};
      add(std::move(s));
    }
  }

  void add(ServerInfo s) {
    std::string key = s.redis_key();
    auto ep = s.srt_endpoint();
    servers_[std::move(key)] = Entry{std::move(s), ep};
  }

  static Pick picked(const std::string& key, const std::pair<net::IpAddr, uint16_t>& ep) {
    Pick p;
    p.ok = true;
    p.ip = ep.first;
    p.port = ep.second;
    p.server_key = key;
    return p;
  }

  static Pick rejected(uint32_t reason, std::string why) {
    Pick p;
    p.reject_reason = reason;
    p.why = std::move(why);
    return p;
  }

  Pick choose(const std::string& url, srt::Mode mode, uint64_t now_ms) {
    const bool claims = mode != srt::Mode::Request || route_players_;
    if (auto m = streams_.find(url); m != streams_.end()) {
      auto s = servers_.find(m->second.server);
      if (s != servers_.end() && alive(s->second.info, now_ms)) {
        if (s->second.srt) return picked(s->first, *s->second.srt);
        // The origin hosting the stream has no SRT listener (it re-registered
        // without one): moving the stream would split it, so refuse.
        return rejected(srt::kRejXNotFound, "stream " + url + " is on " + m->second.server +
                                                ", which has no SRT listener");
      }
      unmap(m->second.server);
      streams_.erase(m);  // the origin is gone: so is the stream
    }
    bool any_alive = false;
    for (const auto& [key, e] : servers_) any_alive = any_alive || alive(e.info, now_ms);
    if (!any_alive) return rejected(srt::kRejXNotFound, "no origin registered");
    if (!claims) return rejected(srt::kRejXNotFound, "stream " + url + " is not published");

    // The live origin with the fewest streams; ties go to the first in key
    // order, which keeps the choice reproducible. Loads are kept up to date
    // on every map/unmap: counting them per pick made a pick O(streams).
    const std::string* best = nullptr;  // key of the chosen origin
    std::pair<net::IpAddr, uint16_t> best_ep;
    size_t best_load = 0;
    for (const auto& [key, e] : servers_) {
      if (!alive(e.info, now_ms) || !e.srt) continue;
      const auto li = load_.find(key);
      const size_t l = li == load_.end() ? 0 : li->second;
      if (best == nullptr || l < best_load) {
        best = &key;
        best_ep = *e.srt;
        best_load = l;
      }
    }
    if (best == nullptr) return rejected(srt::kRejXNotFound, "no live origin with an SRT listener");
    const uint64_t claim = ++next_claim_;
    streams_[url] = Mapping{*best, claim};
    ++load_[*best];
    Pick p = picked(*best, best_ep);
    p.claim = claim;
    return p;
  }

  // A stream's origin, and which claim made it (so that undoing a failed
  // claim never removes a newer one).
  struct Mapping {
    std::string server;  // key
    uint64_t claim = 0;
  };

  uint64_t ttl_ms_;
  bool route_players_;
  uint64_t next_expiry_ms_ = 0;
  uint64_t next_claim_ = 0;
  std::map<std::string, Entry> servers_;              // by redis_key()
  std::unordered_map<std::string, Mapping> streams_;  // stream URL -> its origin
  std::unordered_map<std::string, size_t> load_;      // server key -> streams mapped

  void unmap(const std::string& server_key) {
    auto it = load_.find(server_key);
    if (it != load_.end() && --it->second == 0) load_.erase(it);
  }
};

}  // namespace

std::unique_ptr<Balancer> make_memory_balancer(const BalancerOptions& opt) {
  return std::make_unique<MemoryBalancer>(opt);
}

}  // namespace srtfwd::control

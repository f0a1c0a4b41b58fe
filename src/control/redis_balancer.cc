// The Redis balancer: the SRS Go proxy's schema (proxy/srs.go,
// srsRedisLoadBalancer), shared with every Go proxy and srtfwd on the same
// Redis, driven from the control lcore without ever blocking it.
//
//   srs-proxy-server:{server_id}-{service_id}-{pid}  JSON of an origin, EX ttl
//   srs-proxy-all-servers                            JSON list of those keys
//   srs-proxy-url:{stream_url}                       the key of the stream's origin
//
// With a key prefix (PROXY_REDIS_KEY_PREFIX) every key is "{prefix}:{key}",
// the list's entries included, as the Go proxy's redisKey() builds them.
//
// Differences from the Go proxy, each on purpose:
//  - a caller claims a stream with an atomic compare-and-set (a Lua
//    script: set when absent or when it still names the dead origin we saw,
//    else return the winner), so two proxies racing on one stream agree on
//    its origin; the Go proxy's GET-then-SET can split a stream;
//  - a claim whose leg to the origin failed is undone (compare-and-delete),
//    so the stream's next caller does not follow it to a dead origin;
//  - with unknown_stream_players = "reject" a player never creates a
//    mapping: a stream nobody publishes is 1404 at once (the default,
//    "route", claims an origin for it as the Go proxy does);
//  - registration updates the key list in one script (the Go proxy's
//    read-modify-write, made atomic so two registrations never lose one).
//
// hiredis 0.14's asynchronous API runs without an event library: the
// context's ev hooks record which directions it wants, poll() asks the
// kernel with a zero timeout and hands readiness to redisAsyncHandleRead /
// redisAsyncHandleWrite.
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>

#include "srtfwd/control/balancer.h"
#include "srtfwd/srt/reject.h"

namespace srtfwd::control {

namespace {

// Connecting takes a round trip on a LAN; a Redis that has not answered the
// TCP handshake in a second is not there.
constexpr uint64_t kConnectTimeoutMs = 1000;
// Reconnection back-off: quick after a blip, at most every 5 s when down.
constexpr uint64_t kBackoffMinMs = 100;
constexpr uint64_t kBackoffMaxMs = 5000;
// A caller waits for the handshake answer for its connect timeout (3 s in
// libsrt by default) and the backend handshake still has to run after the
// pick: half a second is all the balancer may take.
constexpr uint64_t kPickTimeoutMs = 500;
// A command without reply for this long: the connection is stuck (a frozen
// Redis, a black-holed route) and is replaced.
constexpr uint64_t kStuckMs = 3000;
// How often the origin list is reloaded; also how stale an origin in the
// cache may be before a pick checks its key directly.
constexpr uint64_t kRefreshMs = 1000;
constexpr uint64_t kCacheFreshMs = 2 * kRefreshMs;
// A pick re-claims at most this often when every winner it finds is dead.
constexpr int kClaimAttempts = 3;
// Bounds on what we read from a shared store someone else may have filled.
constexpr size_t kMaxServerKeys = 4096;

constexpr const char* kAllServersKey = "srs-proxy-all-servers";
constexpr const char* kUrlKeyPrefix = "srs-proxy-url:";

// KEYS[1] the stream's key; ARGV[1] our candidate; ARGV[2] the dead origin
// the caller saw there ("" if none). Sets the mapping when absent or still
// dead, and returns whatever the mapping is afterwards and 1 if this call
// set it (another proxy may have claimed the same origin first).
constexpr const char* kClaimScript = R"lua(
local cur = redis.call('GET', KEYS[1])
if (not cur) or (ARGV[2] ~= '' and cur == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return {ARGV[1], 1}
end
return {cur, 0}
)lua";

// KEYS[1] the stream's key; ARGV[1] the origin our failed claim set. Deletes
// the mapping only if it still names that origin: a newer claim stays.
constexpr const char* kUnclaimScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

// KEYS[1] the server's key, KEYS[2] the key list; ARGV[1] the JSON, ARGV[2]
// the TTL in seconds. As the Go proxy's Update: write the server with its
// TTL, drop listed keys that expired, add ours if missing.
constexpr const char* kRegisterScript = R"lua(
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
local keys = {}
local found = false
local raw = redis.call('GET', KEYS[2])
if raw then
  local ok, list = pcall(cjson.decode, raw)
  if ok and type(list) == 'table' then
    for _, k in ipairs(list) do
      if type(k) == 'string' then
        if k == KEYS[1] then
          found = true
          table.insert(keys, k)
        elseif redis.call('EXISTS', k) == 1 then
          table.insert(keys, k)
        end
      end
    end
  end
end
if not found then table.insert(keys, KEYS[1]) end
redis.call('SET', KEYS[2], cjson.encode(keys))
return #keys
)lua";

// ---------------------------------------------------------------------------
// One hiredis async connection, owned, polled, never blocking.
class RedisConnection {
 public:
  // nullptr: the connection failed before a reply (the command is lost).
  using OnReply = std::function<void(const redisReply*)>;

  RedisConnection(const std::string& host, uint16_t port) {
    ac_ = redisAsyncConnect(host.c_str(), port);
    if (ac_ == nullptr) {
      error_ = "out of memory";
      return;
    }
    if (ac_->err != 0) {
      error_ = ac_->errstr;
      redisAsyncFree(ac_);
      ac_ = nullptr;
      return;
    }
    ac_->ev.data = this;
    ac_->ev.addRead = [](void* p) { static_cast<RedisConnection*>(p)->want_read_ = true; };
    ac_->ev.delRead = [](void* p) { static_cast<RedisConnection*>(p)->want_read_ = false; };
    ac_->ev.addWrite = [](void* p) { static_cast<RedisConnection*>(p)->want_write_ = true; };
    ac_->ev.delWrite = [](void* p) { static_cast<RedisConnection*>(p)->want_write_ = false; };
    ac_->ev.cleanup = [](void* p) { static_cast<RedisConnection*>(p)->on_cleanup(); };
  }

  ~RedisConnection() {
    // Runs every pending callback with a null reply, then the cleanup hook.
    if (ac_ != nullptr) redisAsyncFree(ac_);
  }
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  bool alive() const { return ac_ != nullptr; }
  const std::string& error() const { return error_; }
  // Milliseconds-stamp of the oldest command without reply, if any.
  std::optional<uint64_t> oldest_pending() const {
    if (sent_ms_.empty()) return std::nullopt;
    return sent_ms_.front();
  }

  // Queues a command; false (and cb never runs) when the connection is gone.
  bool command(const std::vector<std::string>& args, uint64_t now_ms, OnReply cb) {
    if (ac_ == nullptr) return false;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* holder = new Pending{this, std::move(cb)};
    if (redisAsyncCommandArgv(ac_, &RedisConnection::on_reply, holder,
                              static_cast<int>(argv.size()), argv.data(),
                              lens.data()) != REDIS_OK) {
      delete holder;
      return false;
    }
    sent_ms_.push_back(now_ms);
    return true;
  }

  // Moves bytes both ways as far as the socket allows without waiting.
  void pump() {
    // A few rounds: a reply callback may queue the next command, which can
    // go out at once.
    for (int round = 0; round < 8 && ac_ != nullptr; ++round) {
      const bool connected = (ac_->c.flags & REDIS_CONNECTED) != 0;
      pollfd p{};
      p.fd = ac_->c.fd;
      if (want_read_) p.events |= POLLIN;
      // A non-blocking connect completes when the socket turns writable.
      if (want_write_ || !connected) p.events |= POLLOUT;
      if (p.events == 0) return;
      if (::poll(&p, 1, 0) <= 0) return;
      if ((p.revents & (POLLIN | POLLERR | POLLHUP)) != 0) redisAsyncHandleRead(ac_);
      if (ac_ != nullptr && (p.revents & POLLOUT) != 0) redisAsyncHandleWrite(ac_);
    }
  }

 private:
  struct Pending {
    RedisConnection* conn;
    OnReply cb;
  };

  static void on_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
    // Redis answers in order, so the reply belongs to the oldest command.
    if (!p->conn->sent_ms_.empty()) p->conn->sent_ms_.pop_front();
    if (p->cb) p->cb(static_cast<const redisReply*>(reply));
  }

  void on_cleanup() {
    // hiredis frees the context right after this hook: forget it.
    if (ac_ != nullptr && ac_->err != 0 && ac_->errstr != nullptr) error_ = ac_->errstr;
    if (error_.empty()) error_ = "connection closed";
    ac_ = nullptr;
    want_read_ = want_write_ = false;
  }

  redisAsyncContext* ac_ = nullptr;
  bool want_read_ = false;
  bool want_write_ = false;
  std::deque<uint64_t> sent_ms_;
  std::string error_;
};

std::string reply_text(const redisReply* r) {
  return r != nullptr && r->str != nullptr ? std::string(r->str, r->len) : std::string();
}

// "host" as given, resolved once at start-up when it is a name: hiredis
// would call getaddrinfo at every (re)connection on the control lcore.
std::string resolve_once(const std::string& host) {
  if (net::IpAddr::parse(host)) return host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return host;
  char buf[NI_MAXHOST] = {};
  const bool ok =
      getnameinfo(res->ai_addr, res->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) == 0;
  freeaddrinfo(res);
  return ok ? std::string(buf) : host;
}

// ---------------------------------------------------------------------------
class RedisBalancer final : public Balancer {
 public:
  explicit RedisBalancer(const BalancerOptions& opt)
      : opt_(opt),
        endpoint_(opt.redis_host + ":" + std::to_string(opt.redis_port)),
        connect_host_(resolve_once(opt.redis_host)),
        rng_(std::random_device{}()) {
    // hiredis writes with write(2): a Redis that closes the connection
    // would otherwise kill the process with SIGPIPE. Only the default
    // action is replaced; a handler someone installed stays.
    struct sigaction sa {};
    if (sigaction(SIGPIPE, nullptr, &sa) == 0 && sa.sa_handler == SIG_DFL)
      std::signal(SIGPIPE, SIG_IGN);
    if (!opt.backends.empty())
      spdlog::warn(
          "balancer redis: {} static [[backend]] entries ignored (origins register in Redis)",
          opt.backends.size());
  }

  ~RedisBalancer() override {
    // The connection's teardown runs the pending callbacks: they must not
    // answer into a half-destroyed object, nor call back into user code.
    closing_ = true;
    conn_.reset();
  }

  void pick(const std::string& stream_url, srt::Mode mode, uint64_t now_ms, Done done) override {
    now_ms_ = std::max(now_ms_, now_ms);
    if (link_ != Link::kReady) {
      Pick p;
      p.reject_reason = srt::kRejXDown;
      p.why =
          "redis unavailable: " + (last_error_.empty() ? std::string("connecting") : last_error_);
      done(p);
      return;
    }
    const uint64_t id = ++next_pick_id_;
    Job& job = jobs_[id];
    job.url = stream_url;
    job.mode = mode;
    job.deadline_ms = now_ms_ + kPickTimeoutMs;
    job.done = std::move(done);
    lookup_mapping(id);
  }

  void register_server(const ServerInfo& s, uint64_t now_ms) override {
    now_ms_ = std::max(now_ms_, now_ms);
    const std::string key = prefixed(s.redis_key());
    Cached& c = cache_[key];
    c.info = s;
    c.info.seen_ms = now_ms_ == 0 ? 1 : now_ms_;
    c.fetched_ms = now_ms_;
    if (link_ != Link::kReady) return;  // the next heartbeat writes it
    send({"EVAL", kRegisterScript, "2", key, prefixed(kAllServersKey), to_json(s),
          std::to_string(opt_.server_ttl_s)},
         [this, key](const redisReply* r) {
           if (r == nullptr) return;
           if (r->type == REDIS_REPLY_ERROR) {
             if (!register_failing_)
               spdlog::warn("balancer redis {}: cannot register {}: {}", endpoint_, key,
                            reply_text(r));
             register_failing_ = true;
           } else {
             register_failing_ = false;
           }
         });
  }

  void poll(uint64_t now_ms) override {
    now_ms_ = std::max(now_ms_, now_ms);
    if (conn_) {
      conn_->pump();
      if (!conn_->alive()) {
        lose(conn_->error());
      } else if (!drop_reason_.empty()) {
        lose(drop_reason_);
      } else if (link_ == Link::kConnecting && now_ms_ >= connect_deadline_ms_) {
        lose("connect timeout");
      } else if (auto oldest = conn_->oldest_pending(); oldest && now_ms_ >= *oldest + kStuckMs) {
        lose("no reply for " + std::to_string(kStuckMs) + " ms");
      }
    }
    if (!conn_ && now_ms_ >= next_attempt_ms_) connect();
    expire_jobs();
    if (link_ == Link::kReady && !refreshing_ && now_ms_ >= next_refresh_ms_) refresh();
  }

  std::vector<ServerInfo> servers(uint64_t /*now_ms*/) const override {
    std::vector<ServerInfo> out;
    for (const auto& [key, c] : cache_) out.push_back(c.info);
    return out;
  }

  std::string state() const override {
    switch (link_) {
      case Link::kReady: return "redis " + endpoint_ + " connected";
      case Link::kConnecting: return "redis " + endpoint_ + " connecting";
      case Link::kDown: break;
    }
    return "redis " + endpoint_ + " down (" +
           (last_error_.empty() ? "not connected" : last_error_) + ")";
  }

  size_t in_flight() const override { return jobs_.size(); }

  bool redis_command(const std::vector<std::string>& args, RawReply cb) override {
    return link_ == Link::kReady && send(args, std::move(cb));
  }

  void unclaim(const std::string& url, const std::string& server_key, uint64_t claim) override {
    if (claim == 0) return;
    // Without Redis the mapping stays: its origin is still registered, and
    // the next claim replaces it once that origin's key expires.
    const bool sent = link_ == Link::kReady &&
                      send({"EVAL", kUnclaimScript, "1", prefixed(kUrlKeyPrefix + url), server_key},
                           [this, url](const redisReply* r) {
                             if (r != nullptr && r->type == REDIS_REPLY_ERROR)
                               spdlog::warn("balancer redis {}: cannot undo the claim of {}: {}",
                                            endpoint_, url, reply_text(r));
                           });
    if (!sent)
      spdlog::warn("balancer: {}: the failed claim of {} on {} stays", state(), url, server_key);
  }

 private:
  enum class Link { kDown, kConnecting, kReady };

  struct Job {
    std::string url;
    srt::Mode mode = srt::Mode::Request;
    uint64_t deadline_ms = 0;
    int claims = 0;
    Done done;
  };

  struct Cached {
    ServerInfo info;
    uint64_t fetched_ms = 0;
  };

  // ---- connection ----

  void connect() {
    conn_ = std::make_unique<RedisConnection>(connect_host_, opt_.redis_port);
    drop_reason_.clear();
    if (!conn_->alive()) {
      lose(conn_->error());
      return;
    }
    link_ = Link::kConnecting;
    connect_deadline_ms_ = now_ms_ + kConnectTimeoutMs;
    // Queued now, written once the TCP connection is up.
    if (!opt_.redis_password.empty()) {
      send({"AUTH", opt_.redis_password}, [this](const redisReply* r) {
        if (r != nullptr && r->type == REDIS_REPLY_ERROR) drop_reason_ = "AUTH: " + reply_text(r);
      });
    }
    send({"SELECT", std::to_string(opt_.redis_db)}, [this](const redisReply* r) {
      if (r == nullptr || !drop_reason_.empty()) return;
      if (r->type == REDIS_REPLY_ERROR) {
        drop_reason_ = "SELECT " + std::to_string(opt_.redis_db) + ": " + reply_text(r);
        return;
      }
      link_ = Link::kReady;
      backoff_ms_ = kBackoffMinMs;
      last_error_.clear();
      down_logged_ = false;
      up_logged_ = true;
      spdlog::info("balancer: redis {} connected (db {})", endpoint_, opt_.redis_db);
      next_refresh_ms_ = 0;
      refresh();
    });
  }

  // Drops the connection (outside any hiredis callback) and schedules the
  // next attempt. Logged once per transition, not per attempt.
  void lose(const std::string& why) {
    // A lost reply may have marked the link down already: whether the
    // operator heard "connected" decides between "lost" and "unavailable".
    const bool was_up = up_logged_;
    up_logged_ = false;
    link_ = Link::kDown;
    last_error_ = why.empty() ? "connection closed" : why;
    conn_.reset();  // pending commands fail now: their picks get 1503
    refreshing_ = false;
    cache_loaded_ = false;
    if (was_up) {
      spdlog::warn("balancer: redis {} lost: {}; reconnecting", endpoint_, last_error_);
      down_logged_ = true;
    } else if (!down_logged_) {
      spdlog::warn("balancer: redis {} unavailable: {}; retrying", endpoint_, last_error_);
      down_logged_ = true;
    }
    next_attempt_ms_ = now_ms_ + backoff_ms_;
    backoff_ms_ = std::min(backoff_ms_ * 2, kBackoffMaxMs);
    run_waiters();
  }

  // Sends a command; a connection that dies before the reply calls cb with
  // nullptr. Returns false (cb not called) when there is no connection.
  bool send(const std::vector<std::string>& args, RedisConnection::OnReply cb) {
    if (!conn_) return false;
    return conn_->command(args, now_ms_, [this, cb = std::move(cb)](const redisReply* r) {
      if (closing_) return;
      if (r == nullptr) {
        // Any lost reply means the connection is gone: stop issuing
        // commands before the callback answers anyone.
        link_ = Link::kDown;
        if (conn_ && !conn_->error().empty()) last_error_ = conn_->error();
        if (last_error_.empty()) last_error_ = "connection lost";
      }
      cb(r);
    });
  }

  // ---- the origin cache ----

  void refresh() {
    refreshing_ = true;
    next_refresh_ms_ = now_ms_ + kRefreshMs;
    const bool sent = send({"GET", prefixed(kAllServersKey)}, [this](const redisReply* r) {
      if (r == nullptr || r->type == REDIS_REPLY_ERROR) return refresh_done(false);
      std::vector<std::string> keys;
      if (r->type == REDIS_REPLY_STRING) {
        auto j = nlohmann::json::parse(reply_text(r), nullptr, false);
        if (j.is_array()) {
          for (const auto& k : j) {
            if (k.is_string() && keys.size() < kMaxServerKeys) keys.push_back(k.get<std::string>());
          }
        } else if (!list_garbled_logged_) {
          spdlog::warn("balancer: redis {}: {} is not a JSON list; ignored", endpoint_,
                       kAllServersKey);
          list_garbled_logged_ = true;
        }
      }
      if (keys.empty()) {
        cache_.clear();
        return refresh_done(true);
      }
      std::vector<std::string> args{"MGET"};
      args.insert(args.end(), keys.begin(), keys.end());
      const bool ok = send(args, [this, keys](const redisReply* m) {
        if (m == nullptr || m->type != REDIS_REPLY_ARRAY) return refresh_done(false);
        std::map<std::string, Cached> fresh;
        for (size_t i = 0; i < m->elements && i < keys.size(); ++i) {
          // A key whose TTL ran out reads nil: the origin is gone.
          if (auto c = parse_server(m->element[i])) fresh[keys[i]] = std::move(*c);
        }
        cache_ = std::move(fresh);
        refresh_done(true);
      });
      if (!ok) refresh_done(false);
    });
    if (!sent) refresh_done(false);
  }

  void refresh_done(bool ok) {
    refreshing_ = false;
    if (ok) cache_loaded_ = true;
    run_waiters(ok);
  }

  // Claims that needed the first origin list run once it is in (or failed).
  void run_waiters(bool loaded = false) {
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& w : waiters) w(loaded);
  }

  std::optional<Cached> parse_server(const redisReply* r) const {
    if (r == nullptr || r->type != REDIS_REPLY_STRING) return std::nullopt;
    auto s = server_from_json(reply_text(r), nullptr);
    if (!s) return std::nullopt;
    Cached c;
    c.info = std::move(*s);
    c.info.seen_ms = now_ms_ == 0 ? 1 : now_ms_;
    c.fetched_ms = now_ms_;
    return c;
  }

  // The origin stored under key: from a fresh cache entry, else read now.
  // cb(nullopt) means dead; a failed read answers the pick itself.
  void resolve(uint64_t id, const std::string& key,
               std::function<void(std::optional<ServerInfo>)> cb) {
    if (auto it = cache_.find(key);
        it != cache_.end() && now_ms_ < it->second.fetched_ms + kCacheFreshMs) {
      cb(it->second.info);
      return;
    }
    const bool sent = send({"GET", key}, [this, id, key, cb](const redisReply* r) {
      if (!jobs_.count(id)) return;
      if (r == nullptr || r->type == REDIS_REPLY_ERROR) return answer_down(id, r);
      auto c = parse_server(r);
      if (!c) {
        cache_.erase(key);
        return cb(std::nullopt);
      }
      cache_[key] = *c;
      cb(c->info);
    });
    if (!sent) answer_down(id, nullptr);
  }

  // ---- a pick ----

  void lookup_mapping(uint64_t id) {
    const std::string url_key = prefixed(kUrlKeyPrefix + jobs_[id].url);
    const bool sent = send({"GET", url_key}, [this, id](const redisReply* r) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) return;  // answered already (timeout)
      if (r == nullptr || r->type == REDIS_REPLY_ERROR) return answer_down(id, r);
      const bool claims = it->second.mode != srt::Mode::Request || opt_.route_unknown_players;
      if (r->type != REDIS_REPLY_STRING || r->len == 0) {
        if (!claims) {
          if (cache_loaded_ && cache_.empty())
            return reject(id, srt::kRejXNotFound, "no origin registered");
          return reject(id, srt::kRejXNotFound, "stream " + it->second.url + " is not published");
        }
        return claim(id, "");
      }
      const std::string key = reply_text(r);
      resolve(id, key, [this, id, key](std::optional<ServerInfo> s) {
        auto j = jobs_.find(id);
        if (j == jobs_.end()) return;
        if (s) return use(id, key, *s);
        if (j->second.mode == srt::Mode::Request && !opt_.route_unknown_players)
          return reject(id, srt::kRejXNotFound,
                        "stream " + j->second.url + " is on " + key + ", which is gone");
        claim(id, key);  // its origin is gone: claim it anew
      });
    });
    if (!sent) answer_down(id, nullptr);
  }

  // Chooses a live origin and claims the stream for it unless someone else
  // holds it; `dead` is the gone origin the mapping named ("" if none).
  void claim(uint64_t id, std::string dead) {
    with_servers([this, id, dead](bool loaded) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) return;
      if (!loaded) return answer_down(id, nullptr);
      std::vector<const std::string*> candidates;
      for (const auto& [key, c] : cache_)
        if (key != dead && c.info.srt_endpoint()) candidates.push_back(&key);
      if (candidates.empty())
        return reject(id, srt::kRejXNotFound,
                      cache_.empty() ? std::string("no origin registered")
                                     : std::string("no live origin with an SRT listener"));
      // Random, as the Go proxy picks: every proxy on the store chooses
      // alone, and counting streams per origin would need a shared counter.
      std::uniform_int_distribution<size_t> d(0, candidates.size() - 1);
      const std::string chosen = *candidates[d(rng_)];
      ++it->second.claims;
      const bool sent =
          send({"EVAL", kClaimScript, "1", prefixed(kUrlKeyPrefix + it->second.url), chosen, dead},
               [this, id](const redisReply* r) {
                 if (!jobs_.count(id)) return;
                 if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                     r->element[0]->type != REDIS_REPLY_STRING)
                   return answer_down(id, r);
                 const std::string winner = reply_text(r->element[0]);
                 const bool ours =
                     r->element[1]->type == REDIS_REPLY_INTEGER && r->element[1]->integer == 1;
                 resolve(id, winner, [this, id, winner, ours](std::optional<ServerInfo> s) {
                   auto j = jobs_.find(id);
                   if (j == jobs_.end()) return;
                   if (s) return use(id, winner, *s, ours);
                   if (j->second.claims >= kClaimAttempts)
                     return reject(id, srt::kRejXDown,
                                   "redis: every origin claimed for " + j->second.url + " is gone");
                   claim(id, winner);
                 });
               });
      if (!sent) answer_down(id, nullptr);
    });
  }

  // Runs cb once the origin list has been read since the connection came
  // up (at once, mostly), so a pick right after a reconnection does not
  // find an empty list.
  void with_servers(std::function<void(bool)> cb) {
    if (cache_loaded_) return cb(true);
    waiters_.push_back(std::move(cb));
    if (!refreshing_) refresh();
  }

  // claimed: this pick's claim created the mapping (the caller undoes it if
  // the leg fails).
  void use(uint64_t id, const std::string& key, const ServerInfo& s, bool claimed = false) {
    auto ep = s.srt_endpoint();
    if (!ep) {
      // The stream lives on an origin we cannot reach over SRT (e.g. an
      // RTMP stream on an origin without an SRT listener). Moving it would
      // split it, so the caller is refused.
      const bool publishes = jobs_[id].mode != srt::Mode::Request;
      return reject(id, publishes ? srt::kRejXConflict : srt::kRejXNotFound,
                    "stream " + jobs_[id].url + " is on " + key + ", which has no SRT listener");
    }
    Pick p;
    p.ok = true;
    p.ip = ep->first;
    p.port = ep->second;
    p.server_key = key;
    p.claim = claimed ? ++next_claim_ : 0;
    answer(id, p);
  }

  void reject(uint64_t id, uint32_t reason, std::string why) {
    Pick p;
    p.reject_reason = reason;
    p.why = std::move(why);
    answer(id, p);
  }

  void answer_down(uint64_t id, const redisReply* r) {
    std::string why = r != nullptr && r->type == REDIS_REPLY_ERROR
                          ? "redis error: " + reply_text(r)
                          : "redis unavailable: " + last_error_;
    reject(id, srt::kRejXDown, std::move(why));
  }

  void answer(uint64_t id, const Pick& p) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Done done = std::move(it->second.done);
    jobs_.erase(it);  // first: done may pick again
    if (done) done(p);
  }

  void expire_jobs() {
    std::vector<uint64_t> late;
    for (const auto& [id, j] : jobs_)
      if (now_ms_ >= j.deadline_ms) late.push_back(id);
    for (uint64_t id : late)
      reject(id, srt::kRejXDown,
             "redis unavailable: no answer within " + std::to_string(kPickTimeoutMs) + " ms");
  }

  BalancerOptions opt_;
  // PROXY_REDIS_KEY_PREFIX as the Go proxy applies it: "{prefix}:{key}".
  std::string prefixed(const std::string& key) const {
    return opt_.key_prefix.empty() ? key : opt_.key_prefix + ":" + key;
  }
  std::string endpoint_;      // as configured, for logs
  std::string connect_host_;  // numeric
  std::unique_ptr<RedisConnection> conn_;
  Link link_ = Link::kDown;
  std::string last_error_;
  std::string drop_reason_;  // set inside a callback, acted on in poll()
  bool closing_ = false;
  bool down_logged_ = false;
  bool up_logged_ = false;
  bool register_failing_ = false;
  bool list_garbled_logged_ = false;
  uint64_t now_ms_ = 0;
  uint64_t connect_deadline_ms_ = 0;
  uint64_t next_attempt_ms_ = 0;
  uint64_t backoff_ms_ = kBackoffMinMs;
  uint64_t next_refresh_ms_ = 0;
  bool refreshing_ = false;
  bool cache_loaded_ = false;
  std::map<std::string, Cached> cache_;  // live origins by server key
  std::vector<std::function<void(bool)>> waiters_;
  std::map<uint64_t, Job> jobs_;
  uint64_t next_pick_id_ = 0;
  uint64_t next_claim_ = 0;
  std::minstd_rand rng_;
};

}  // namespace

std::unique_ptr<Balancer> make_redis_balancer(const BalancerOptions& opt) {
  return std::make_unique<RedisBalancer>(opt);
}

}  // namespace srtfwd::control

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
// With [balancer] sentinels the master is found through Redis Sentinel:
//  - a Sentinel, asked in turn until one answers, names the master
//    (SENTINEL get-master-addr-by-name); ROLE on the new connection checks
//    that it is one (a demoted master still accepts connections);
//  - one more connection, to one Sentinel, subscribes to +switch-master and
//    moves us to the promoted master at once; a master connection that drops
//    (or answers READONLY) asks the Sentinels again, with back-off;
//  - without a master, picks get 1503 as with a plain Redis that is down;
//    established sessions never need Redis;
//  - a claim in flight when the master goes is never re-sent: its caller
//    gets 1503 (the reply is lost, so whether the old master applied it is
//    unknown). Either way the new master then holds no mapping or one that
//    names the live origin we chose, and the next caller reads it before
//    claiming, so the stream is never split by a retry. A claim whose reply
//    did arrive (its caller went to that origin) may still not have reached
//    the replica before the master died: every claim of the last
//    kClaimLedgerMs is written again, set-if-absent with the same script, on
//    each new master connection, and so is every origin heartbeat this host
//    took (with what is left of its TTL).
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
#include <sstream>
#include <unordered_map>

#include "srtfwd/control/balancer.h"
#include "srtfwd/net/endpoint.h"
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
// Sentinel mode: the master connection's back-off stays short (a failover
// takes about Sentinel's down-after-milliseconds plus an election), and the
// +switch-master subscription, once every Sentinel has failed it in a row,
// is tried again this often.
constexpr uint64_t kSentinelBackoffMaxMs = 1000;
constexpr uint64_t kSentinelResubscribeMs = 1000;
// Claims kept to write again on a new master: longer than a failover takes.
constexpr uint64_t kClaimLedgerMs = 60000;
constexpr size_t kClaimLedgerMax = 4096;
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

  // SUBSCRIBE channel: cb sees the confirmation, then every message, and
  // nullptr when the connection goes. Nothing else may be sent after it.
  bool subscribe(const std::string& channel, OnReply cb) {
    if (ac_ == nullptr) return false;
    sub_cb_ = std::move(cb);
    const char* argv[] = {"SUBSCRIBE", channel.c_str()};
    const size_t lens[] = {9, channel.size()};
    // hiredis keeps this callback for every message of the channel.
    return redisAsyncCommandArgv(ac_, &RedisConnection::on_message, this, 2, argv, lens) ==
           REDIS_OK;
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

  static void on_message(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
    auto* self = static_cast<RedisConnection*>(privdata);
    if (self->sub_cb_) self->sub_cb_(static_cast<const redisReply*>(reply));
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
  OnReply sub_cb_;
};

// "host:port", an IPv6 host in brackets.
std::string host_port(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

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
        connect_port_(opt.redis_port),
        rng_(std::random_device{}()) {
    if (sentinel_mode()) {
      std::string names;
      for (const auto& s : opt.sentinels) {
        sentinels_.push_back({resolve_once(s.host), s.port, host_port(s.host, s.port), {}});
        names += (names.empty() ? "" : ", ") + sentinels_.back().name;
      }
      endpoint_ = "(not known yet)";
      spdlog::info(
          "balancer: Redis Sentinel: master \"{}\" as named by {}; balancer.redis is not used",
          opt.master_name, names);
    }
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
    query_.reset();
    sub_.reset();
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
    // Kept to write again on the next master connection (a new master, or
    // a restarted Redis), with what is left of its TTL.
    if (heartbeats_.size() < kMaxServerKeys || heartbeats_.count(key))
      heartbeats_[key] = Heartbeat{s, now_ms_};
    if (link_ != Link::kReady) return;  // written once a master is connected
    write_server(key, s, opt_.server_ttl_s);
  }

  void write_server(const std::string& key, const ServerInfo& s, uint64_t ttl_s) {
    send({"EVAL", kRegisterScript, "2", key, prefixed(kAllServersKey), to_json(s),
          std::to_string(ttl_s)},
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
    if (sentinel_mode()) poll_sentinels();
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
    if (!conn_ && now_ms_ >= next_attempt_ms_) {
      if (!sentinel_mode() || master_known_)
        connect();
      else if (!query_)
        ask_sentinel();
    }
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
      case Link::kReady: return label() + " connected";
      case Link::kConnecting: return label() + " connecting";
      case Link::kDown: break;
    }
    return label() + " down (" + (last_error_.empty() ? "not connected" : last_error_) + ")";
  }

  size_t in_flight() const override { return jobs_.size(); }

  bool redis_command(const std::vector<std::string>& args, RawReply cb) override {
    return link_ == Link::kReady && send(args, std::move(cb));
  }
  BalancerStats stats() const override { return stats_; }

  void unclaim(const std::string& url, const std::string& server_key, uint64_t claim) override {
    if (claim == 0) return;
    // Undone: not to be written again on a new master.
    std::erase_if(claim_ledger_,
                  [&](const LedgerEntry& e) { return e.url == url && e.server_key == server_key; });
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

  struct Heartbeat {
    ServerInfo info;
    uint64_t at_ms = 0;
  };

  // A claim this host made and its caller went on with.
  struct LedgerEntry {
    std::string url;
    std::string server_key;
    uint64_t at_ms = 0;
  };

  struct SentinelAddr {
    std::string host;  // numeric
    uint16_t port = 0;
    std::string name;        // as configured, for logs
    std::string last_error;  // logged once until it changes
  };

  bool sentinel_mode() const { return !opt_.sentinels.empty(); }
  std::string label() const {
    return sentinel_mode() ? "redis master \"" + opt_.master_name + "\" at " + endpoint_
                           : "redis " + endpoint_;
  }

  // ---- connection ----

  void connect() {
    conn_ = std::make_unique<RedisConnection>(connect_host_, connect_port_);
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
      if (!sentinel_mode()) return ready();
      // What a Sentinel named may be a master demoted since: its writes
      // would fail (READONLY) or be lost.
      send({"ROLE"}, [this](const redisReply* role) {
        if (role == nullptr || !drop_reason_.empty()) return;
        const std::string name =
            role->type == REDIS_REPLY_ARRAY && role->elements > 0
                ? reply_text(role->element[0])
                : (role->type == REDIS_REPLY_ERROR ? "error " + reply_text(role) : "?");
        if (name != "master") {
          drop_reason_ = "ROLE says " + name + ", not master";
          return;
        }
        ready();
      });
    });
  }

  void ready() {
    link_ = Link::kReady;
    backoff_ms_ = kBackoffMinMs;
    last_error_.clear();
    down_logged_ = false;
    up_logged_ = true;
    spdlog::info("balancer: {} connected (db {})", label(), opt_.redis_db);
    if (sentinel_mode()) {
      if (!ready_master_.empty() && ready_master_ != endpoint_) {
        stats_.master_switches++;
        spdlog::warn("balancer: Redis master \"{}\" switched from {} to {}", opt_.master_name,
                     ready_master_, endpoint_);
      }
      ready_master_ = endpoint_;
    }
    // Written before the origin list is read, so that a store that lost
    // them has them again when the first pick looks.
    resume_writes();
    next_refresh_ms_ = 0;
    refresh();
  }

  // After any (re)connection: the heartbeats and claims the store may have
  // lost (a failover's unreplicated tail, a restarted Redis) written again.
  // Both scripts are idempotent: a heartbeat rewrites the same record, a
  // claim sets the mapping only where none is, so a write the new master
  // already has changes nothing and another proxy's newer claim stays.
  void resume_writes() {
    for (auto it = heartbeats_.begin(); it != heartbeats_.end();) {
      const uint64_t ttl_ms = uint64_t{opt_.server_ttl_s} * 1000;
      const uint64_t age = now_ms_ - std::min(now_ms_, it->second.at_ms);
      if (age >= ttl_ms) {
        it = heartbeats_.erase(it);
        continue;
      }
      write_server(it->first, it->second.info, (ttl_ms - age + 999) / 1000);
      ++it;
    }
    prune_ledger();
    for (const auto& e : claim_ledger_) {
      send({"EVAL", kClaimScript, "1", prefixed(kUrlKeyPrefix + e.url), e.server_key, ""},
           [this, url = e.url, key = e.server_key](const redisReply* r) {
             if (r == nullptr) return;
             if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
               spdlog::warn("balancer: {}: cannot write the claim of {} again: {}", label(), url,
                            reply_text(r));
               return;
             }
             if (r->element[1]->type == REDIS_REPLY_INTEGER && r->element[1]->integer == 1)
               spdlog::info("balancer: {}: claim of {} on {} written again (the store had lost it)",
                            label(), url, key);
             else if (reply_text(r->element[0]) != key)
               spdlog::warn("balancer: {}: {} is now on {}, not on {} where this host sent it",
                            label(), url, reply_text(r->element[0]), key);
           });
    }
  }

  void prune_ledger() {
    while (!claim_ledger_.empty() && (claim_ledger_.size() > kClaimLedgerMax ||
                                      claim_ledger_.front().at_ms + kClaimLedgerMs <= now_ms_))
      claim_ledger_.pop_front();
  }

  // ---- Redis Sentinel ----

  void poll_sentinels() {
    if (query_) {
      query_->pump();
      if (query_answer_) {
        query_.reset();
        got_master();
      } else if (!query_error_.empty()) {
        sentinel_failed(query_error_);
      } else if (!query_->alive()) {
        sentinel_failed(query_->error());
      } else if (now_ms_ >= query_deadline_ms_) {
        sentinel_failed("no answer within " + std::to_string(kConnectTimeoutMs) + " ms");
      }
    }
    if (!sub_ && now_ms_ >= next_sub_ms_) subscribe();
    if (sub_) {
      sub_->pump();
      if (!sub_error_.empty())
        sub_lost(sub_error_);
      else if (!sub_->alive())
        sub_lost(sub_->error());
      else if (!sub_ok_ && now_ms_ >= sub_deadline_ms_)
        sub_lost("no answer to SUBSCRIBE within " + std::to_string(kConnectTimeoutMs) + " ms");
    }
    if (switch_to_) {
      const auto [host, port] = *switch_to_;
      switch_to_.reset();
      const std::string to = host_port(host, port);
      spdlog::info("balancer: Sentinel: +switch-master \"{}\" to {}", opt_.master_name, to);
      if (to == endpoint_ && (conn_ || link_ == Link::kReady)) return;
      query_.reset();
      if (conn_) lose("the Sentinels moved the master to " + to);
      set_master(host, port);
      next_attempt_ms_ = now_ms_;  // at once: the new master is up
      backoff_ms_ = kBackoffMinMs;
    }
  }

  void set_master(const std::string& host, uint16_t port) {
    connect_host_ = host;
    connect_port_ = port;
    endpoint_ = host_port(host, port);
    master_known_ = true;
  }

  // Asks the next Sentinel which address the master has.
  void ask_sentinel() {
    SentinelAddr& s = sentinels_[query_index_];
    query_ = std::make_unique<RedisConnection>(s.host, s.port);
    query_answer_.reset();
    query_error_.clear();
    query_deadline_ms_ = now_ms_ + kConnectTimeoutMs;
    if (link_ == Link::kDown) link_ = Link::kConnecting;
    if (!query_->alive()) return sentinel_failed(query_->error());
    if (!opt_.sentinel_password.empty())
      query_->command({"AUTH", opt_.sentinel_password}, now_ms_, [this](const redisReply* r) {
        if (r != nullptr && r->type == REDIS_REPLY_ERROR) query_error_ = "AUTH: " + reply_text(r);
      });
    query_->command({"SENTINEL", "get-master-addr-by-name", opt_.master_name}, now_ms_,
                    [this](const redisReply* r) {
                      if (r == nullptr || !query_error_.empty()) return;
                      if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                          r->element[0]->type == REDIS_REPLY_STRING &&
                          r->element[1]->type == REDIS_REPLY_STRING) {
                        const std::string host = reply_text(r->element[0]);
                        const auto port = net::parse_port(reply_text(r->element[1]));
                        // Sentinel announces addresses; resolving a name would block.
                        if (!net::IpAddr::parse(host) || !port) {
                          query_error_ = "names the master at \"" + host + ":" +
                                         reply_text(r->element[1]) + "\", not an address and port";
                          return;
                        }
                        query_answer_ = std::make_pair(host, *port);
                      } else if (r->type == REDIS_REPLY_NIL) {
                        query_error_ = "does not know a master \"" + opt_.master_name + "\"";
                      } else {
                        query_error_ =
                            r->type == REDIS_REPLY_ERROR ? reply_text(r) : "unexpected reply";
                      }
                    });
  }

  void got_master() {
    SentinelAddr& s = sentinels_[query_index_];
    s.last_error.clear();
    query_failures_ = 0;
    const auto [host, port] = *query_answer_;
    query_answer_.reset();
    set_master(host, port);
    next_attempt_ms_ = now_ms_;
  }

  // This Sentinel could not say: the next one is asked at once; once all
  // have failed, the next round waits for the back-off.
  // (why by value: it may be the error text of the connection dropped here.)
  void sentinel_failed(std::string why) {
    query_.reset();
    query_answer_.reset();
    stats_.sentinel_errors++;
    SentinelAddr& s = sentinels_[query_index_];
    if (s.last_error != why)
      spdlog::warn("balancer: Sentinel {} (master \"{}\"): {}", s.name, opt_.master_name, why);
    s.last_error = why;
    query_index_ = (query_index_ + 1) % sentinels_.size();
    if (++query_failures_ < sentinels_.size()) {
      next_attempt_ms_ = now_ms_;
      return;
    }
    query_failures_ = 0;
    lose("no Sentinel named the master (last: " + s.name + ": " + why + ")");
  }

  void subscribe() {
    SentinelAddr& s = sentinels_[sub_index_];
    sub_ = std::make_unique<RedisConnection>(s.host, s.port);
    sub_ok_ = false;
    sub_error_.clear();
    sub_deadline_ms_ = now_ms_ + kConnectTimeoutMs;
    if (!sub_->alive()) return sub_lost(sub_->error());
    if (!opt_.sentinel_password.empty())
      sub_->command({"AUTH", opt_.sentinel_password}, now_ms_, [this](const redisReply* r) {
        if (r != nullptr && r->type == REDIS_REPLY_ERROR) sub_error_ = "AUTH: " + reply_text(r);
      });
    sub_->subscribe("+switch-master", [this](const redisReply* r) { on_sentinel_message(r); });
  }

  // ["subscribe", channel, n] once, then ["message", "+switch-master",
  // "<name> <old ip> <old port> <new ip> <new port>"].
  void on_sentinel_message(const redisReply* r) {
    if (closing_ || r == nullptr) return;  // a drop is seen by poll
    if (r->type == REDIS_REPLY_ERROR) {
      sub_error_ = reply_text(r);
      return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const std::string kind = reply_text(r->element[0]);
    if (kind == "subscribe") {
      sub_ok_ = true;
      sub_failures_ = 0;
      const SentinelAddr& s = sentinels_[sub_index_];
      spdlog::info("balancer: following +switch-master on Sentinel {}", s.name);
      sub_down_logged_ = false;
      return;
    }
    if (kind != "message") return;
    std::istringstream in(reply_text(r->element[2]));
    std::string name, old_ip, old_port, new_ip, new_port;
    if (!(in >> name >> old_ip >> old_port >> new_ip >> new_port) || name != opt_.master_name)
      return;
    const auto port = net::parse_port(new_port);
    if (!net::IpAddr::parse(new_ip) || !port) {
      spdlog::warn("balancer: Sentinel: +switch-master \"{}\" to \"{}:{}\" ignored: not an address",
                   name, new_ip, new_port);
      return;
    }
    switch_to_ = std::make_pair(new_ip, *port);  // acted on in poll()
  }

  void sub_lost(std::string why) {
    stats_.sentinel_errors++;
    if (!sub_down_logged_)
      spdlog::warn("balancer: Sentinel {}: +switch-master subscription lost: {}; retrying",
                   sentinels_[sub_index_].name, why);
    sub_down_logged_ = true;
    sub_.reset();
    sub_ok_ = false;
    sub_index_ = (sub_index_ + 1) % sentinels_.size();
    // The next Sentinel at once; a pause once each has failed in a row.
    if (++sub_failures_ < sentinels_.size()) {
      next_sub_ms_ = now_ms_;
      return;
    }
    sub_failures_ = 0;
    next_sub_ms_ = now_ms_ + kSentinelResubscribeMs;
  }

  // Drops the connection (outside any hiredis callback) and schedules the
  // next attempt. Logged once per transition, not per attempt.
  void lose(const std::string& why) {
    // A lost reply may have marked the link down already: whether the
    // operator heard "connected" decides between "lost" and "unavailable".
    const bool was_up = up_logged_;
    up_logged_ = false;
    link_ = Link::kDown;
    master_known_ = false;  // Sentinel mode: ask again
    last_error_ = why.empty() ? "connection closed" : why;
    conn_.reset();  // pending commands fail now: their picks get 1503
    refreshing_ = false;
    cache_loaded_ = false;
    if (was_up) {
      spdlog::warn("balancer: {} lost: {}; reconnecting", label(), last_error_);
      down_logged_ = true;
    } else if (!down_logged_) {
      spdlog::warn("balancer: {} unavailable: {}; retrying", label(), last_error_);
      down_logged_ = true;
    }
    next_attempt_ms_ = now_ms_ + backoff_ms_;
    backoff_ms_ =
        std::min(backoff_ms_ * 2, sentinel_mode() ? kSentinelBackoffMaxMs : kBackoffMaxMs);
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
      } else if (sentinel_mode() && r->type == REDIS_REPLY_ERROR && r->len >= 8 &&
                 std::strncmp(r->str, "READONLY", 8) == 0) {
        // Demoted under us (a failover we did not hear of): find the master.
        drop_reason_ = "it is a replica now (READONLY)";
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
    if (claimed) {
      claim_ledger_.push_back({jobs_[id].url, key, now_ms_});
      prune_ledger();
    }
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
  uint16_t connect_port_ = 0;
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
  std::map<std::string, Heartbeat> heartbeats_;  // by server key
  std::deque<LedgerEntry> claim_ledger_;         // oldest first
  BalancerStats stats_;
  // Sentinel mode.
  std::vector<SentinelAddr> sentinels_;
  bool master_known_ = false;  // connect_host_ is a fresh answer or a switch
  std::string ready_master_;   // the master we were last connected to
  std::unique_ptr<RedisConnection> query_;
  size_t query_index_ = 0;
  size_t query_failures_ = 0;  // in a row, this round
  uint64_t query_deadline_ms_ = 0;
  std::optional<std::pair<std::string, uint16_t>> query_answer_;
  std::string query_error_;
  std::unique_ptr<RedisConnection> sub_;
  size_t sub_index_ = 0;
  size_t sub_failures_ = 0;  // in a row, this round
  uint64_t next_sub_ms_ = 0;
  uint64_t sub_deadline_ms_ = 0;
  bool sub_ok_ = false;
  bool sub_down_logged_ = false;
  std::string sub_error_;
  std::optional<std::pair<std::string, uint16_t>> switch_to_;
};

}  // namespace

std::unique_ptr<Balancer> make_redis_balancer(const BalancerOptions& opt) {
  return std::make_unique<RedisBalancer>(opt);
}

}  // namespace srtfwd::control

// The admin thread's read of the balancer's Redis for /api/v1/streams and
// /api/v1/origins: one blocking connection per request, with timeouts. The
// control lcore's asynchronous connection is not involved: a slow SCAN of a
// big keyspace must not delay a single pick. Admin requests are rare.
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "srtfwd/admin/streams.h"

namespace srtfwd::admin {

namespace {

// Bounds on what one request reads from a store others may fill.
constexpr size_t kMaxStreams = 100000;
constexpr size_t kMaxOrigins = 4096;
constexpr size_t kBatch = 512;  // GETs pipelined per round trip

constexpr const char* kAllServersKey = "srs-proxy-all-servers";
constexpr const char* kUrlKeyPrefix = "srs-proxy-url:";

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;
struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};

std::string text(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                          r->type == REDIS_REPLY_ERROR)
             ? std::string(r->str, r->len)
             : std::string();
}

// SCAN's MATCH treats * ? [ ] and \ as pattern characters: a prefix with
// them must match itself only.
std::string glob_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string host_port(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// Sentinel mode: the master as the first Sentinel that answers names it.
std::pair<std::string, uint16_t> ask_sentinels(const control::BalancerOptions& opt,
                                               const timeval& tv) {
  std::string errors;
  for (const auto& s : opt.sentinels) {
    const std::string name = host_port(s.host, s.port);
    std::unique_ptr<redisContext, ContextFree> c(
        redisConnectWithTimeout(s.host.c_str(), s.port, tv));
    auto fail = [&](const std::string& why) {
      errors += (errors.empty() ? "" : "; ") + name + ": " + why;
    };
    if (!c || c->err != 0) {
      fail(c ? c->errstr : "out of memory");
      continue;
    }
    redisSetTimeout(c.get(), tv);
    auto run = [&](std::vector<std::string> args) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      return Reply(static_cast<redisReply*>(
          redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    };
    if (!opt.sentinel_password.empty()) {
      Reply a = run({"AUTH", opt.sentinel_password});
      if (!a || a->type == REDIS_REPLY_ERROR) {
        fail("AUTH: " + (a ? text(a.get()) : std::string(c->errstr)));
        continue;
      }
    }
    Reply r = run({"SENTINEL", "get-master-addr-by-name", opt.master_name});
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
      const std::string port = text(r->element[1]);
      const int p = std::atoi(port.c_str());
      if (p > 0 && p < 65536) return {text(r->element[0]), static_cast<uint16_t>(p)};
    }
    fail(!r                           ? std::string(c->errstr)
         : r->type == REDIS_REPLY_NIL ? "no master \"" + opt.master_name + "\""
                                      : "unexpected reply " + text(r.get()));
  }
  throw std::runtime_error("no Sentinel named master \"" + opt.master_name + "\": " + errors);
}

timeval to_timeval(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  return tv;
}

class Sync {
 public:
  Sync(const control::BalancerOptions& opt, std::chrono::milliseconds timeout)
      : Sync(opt, timeout,
             opt.sentinels.empty() ? std::make_pair(opt.redis_host, opt.redis_port)
                                   : ask_sentinels(opt, to_timeval(timeout))) {}

  Sync(const control::BalancerOptions& opt, std::chrono::milliseconds timeout,
       const std::pair<std::string, uint16_t>& at)
      : where_(opt.sentinels.empty() ? "redis " + at.first + ":" + std::to_string(at.second)
                                     : "redis master \"" + opt.master_name + "\" at " +
                                           host_port(at.first, at.second)) {
    const timeval tv = to_timeval(timeout);
    c_.reset(redisConnectWithTimeout(at.first.c_str(), at.second, tv));
    if (!c_) fail("out of memory");
    if (c_->err != 0) fail(c_->errstr);
    if (redisSetTimeout(c_.get(), tv) != REDIS_OK) fail("cannot set a timeout");
    if (!opt.redis_password.empty()) expect_ok(cmd({"AUTH", opt.redis_password}), "AUTH");
    if (opt.redis_db != 0) expect_ok(cmd({"SELECT", std::to_string(opt.redis_db)}), "SELECT");
  }

  const std::string& where() const { return where_; }

  Reply cmd(const std::vector<std::string>& args) {
    append(args);
    return reply();
  }
  void append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(c_.get(), static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK)
      fail(c_->errstr);
  }
  Reply reply() {
    void* r = nullptr;
    if (redisGetReply(c_.get(), &r) != REDIS_OK || r == nullptr)
      fail(c_->err != 0 ? c_->errstr : "no reply");
    return Reply(static_cast<redisReply*>(r));
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(where_ + ": " + why);
  }

 private:
  void expect_ok(const Reply& r, const char* what) {
    if (r->type == REDIS_REPLY_ERROR) fail(std::string(what) + ": " + text(r.get()));
  }
  std::string where_;
  std::unique_ptr<redisContext, ContextFree> c_;
};

}  // namespace

StreamsSource read_redis(const control::BalancerOptions& opt, std::chrono::milliseconds timeout) {
  auto prefixed = [&](const std::string& k) {
    return opt.key_prefix.empty() ? k : opt.key_prefix + ":" + k;
  };
  Sync r(opt, timeout);
  StreamsSource src;
  src.source = r.where();

  // The mappings: SCAN, then their values in pipelined batches.
  const std::string url_prefix = prefixed(kUrlKeyPrefix);
  std::vector<std::string> url_keys;
  std::string cursor = "0";
  do {
    Reply sc = r.cmd({"SCAN", cursor, "MATCH", glob_escape(url_prefix) + "*", "COUNT", "1000"});
    if (sc->type == REDIS_REPLY_ERROR) r.fail("SCAN: " + text(sc.get()));
    if (sc->type != REDIS_REPLY_ARRAY || sc->elements != 2 ||
        sc->element[1]->type != REDIS_REPLY_ARRAY)
      r.fail("SCAN: unexpected reply");
    cursor = text(sc->element[0]);
    for (size_t i = 0; i < sc->element[1]->elements; ++i) {
      if (url_keys.size() >= kMaxStreams) {
        src.truncated = true;
        break;
      }
      url_keys.push_back(text(sc->element[1]->element[i]));
    }
  } while (cursor != "0" && !src.truncated);
  for (size_t b = 0; b < url_keys.size(); b += kBatch) {
    const size_t e = std::min(url_keys.size(), b + kBatch);
    for (size_t i = b; i < e; ++i) r.append({"GET", url_keys[i]});
    for (size_t i = b; i < e; ++i) {
      Reply v = r.reply();
      // Deleted between SCAN and GET (an unclaim): not a stream any more.
      if (v->type != REDIS_REPLY_STRING) continue;
      src.mappings.push_back({url_keys[i].substr(url_prefix.size()), text(v.get())});
    }
  }
  std::sort(src.mappings.begin(), src.mappings.end(),
            [](const auto& a, const auto& b) { return a.url < b.url; });

  // The origins: the registered list, and any origin a mapping names.
  std::vector<std::string> keys;
  std::set<std::string> seen;
  Reply all = r.cmd({"GET", prefixed(kAllServersKey)});
  if (all->type == REDIS_REPLY_STRING) {
    auto j = nlohmann::json::parse(text(all.get()), nullptr, false);
    if (j.is_array())
      for (const auto& k : j)
        if (k.is_string() && keys.size() < kMaxOrigins && seen.insert(k.get<std::string>()).second)
          keys.push_back(k.get<std::string>());
  }
  for (const auto& m : src.mappings)
    if (keys.size() < kMaxOrigins && seen.insert(m.server_key).second) keys.push_back(m.server_key);
  for (size_t b = 0; b < keys.size(); b += kBatch) {
    const size_t e = std::min(keys.size(), b + kBatch);
    for (size_t i = b; i < e; ++i) {
      r.append({"GET", keys[i]});
      r.append({"TTL", keys[i]});
    }
    for (size_t i = b; i < e; ++i) {
      Reply v = r.reply();
      Reply ttl = r.reply();
      OriginState o;
      o.key = keys[i];
      if (v->type == REDIS_REPLY_STRING) {
        // A key whose TTL ran out reads nil: the origin is gone, as for the
        // balancer. An unparsable record is no origin either.
        if (auto s = control::server_from_json(text(v.get()), nullptr)) {
          o.info = std::move(*s);
          o.alive = true;
        }
      }
      if (ttl->type == REDIS_REPLY_INTEGER && ttl->integer >= 0) o.ttl_s = ttl->integer;
      src.origins.push_back(std::move(o));
    }
  }
  return src;
}

}  // namespace srtfwd::admin

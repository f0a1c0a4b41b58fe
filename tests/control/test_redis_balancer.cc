// The Redis balancer against a private redis-server, with keys written as
// the SRS Go proxy writes them (proxy/srs.go).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "srtfwd/control/balancer.h"
#include "srtfwd/srt/reject.h"

namespace srtfwd::control {
namespace {

using srt::Mode;

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Polls the balancers until cond holds or timeout_ms passes.
bool drive(std::initializer_list<Balancer*> bs, const std::function<bool()>& cond,
           uint64_t timeout_ms) {
  const uint64_t end = now_ms() + timeout_ms;
  while (now_ms() < end) {
    for (Balancer* b : bs) b->poll(now_ms());
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return cond();
}

class RedisServer {
 public:
  // sentinel_conf: a Sentinel instead, with that (writable) config file.
  explicit RedisServer(uint16_t port, std::vector<std::string> extra = {},
                       const std::string& sentinel_conf = "")
      : port_(port) {
    std::vector<std::string> args{SRTFWD_REDIS_SERVER};
    if (!sentinel_conf.empty()) args.insert(args.end(), {sentinel_conf, "--sentinel"});
    args.insert(args.end(), {"--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
                             "--logfile", "/dev/null"});
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // Ready once it accepts a connection.
    for (int i = 0; i < 500; ++i) {
      timeval tv{0, 100000};
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
      const bool ok = c != nullptr && c->err == 0;
      if (c != nullptr) redisFree(c);
      if (ok) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "redis-server did not start on port " << port_;
  }
  ~RedisServer() { kill(); }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  uint16_t port_;
  pid_t pid_ = -1;
};

// A blocking client for the test's own reads and writes (as a Go proxy
// would do them).
class Cli {
 public:
  explicit Cli(uint16_t port, const std::string& password = "") {
    timeval tv{2, 0};
    c_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!password.empty()) run({"AUTH", password});
  }
  ~Cli() {
    if (c_ != nullptr) redisFree(c_);
  }
  // nullopt for nil; the text of a string / status / error / integer.
  std::optional<std::string> run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) return std::string("(io error)");
    std::optional<std::string> out;
    if (r->type == REDIS_REPLY_INTEGER)
      out = std::to_string(r->integer);
    else if (r->type != REDIS_REPLY_NIL && r->str != nullptr)
      out = std::string(r->str, r->len);
    freeReplyObject(r);
    return out;
  }

 private:
  redisContext* c_ = nullptr;
};

// As the Go proxy writes an origin: SET key json EX 300, key appended to the
// JSON list.
std::string go_register(Cli& cli, const std::string& id, const std::string& ip,
                        const std::string& srt, int ttl_s = 300) {
  const std::string key = "srs-proxy-server:" + id + "-svc-100";
  nlohmann::ordered_json j;
  j["ip"] = ip;
  j["server_id"] = id;
  j["service_id"] = "svc";
  j["pid"] = "100";
  j["rtmp"] = {"1935"};
  if (!srt.empty()) j["srt"] = {srt};
  j["update_at"] = "2024-09-05T10:43:01.681187+08:00";
  cli.run({"SET", key, j.dump(), "EX", std::to_string(ttl_s)});
  auto list = cli.run({"GET", "srs-proxy-all-servers"});
  auto keys = list ? nlohmann::json::parse(*list) : nlohmann::json::array();
  keys.push_back(key);
  cli.run({"SET", "srs-proxy-all-servers", keys.dump()});
  return key;
}

class RedisBalancerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(SRTFWD_REDIS_SERVER).empty()) {
      // Under CI a test that cannot run fails; elsewhere it is reported as skipped.
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
        FAIL() << "redis-server not installed";
      GTEST_SKIP() << "redis-server not installed";
    }
    port_ = free_port();
    redis_ = std::make_unique<RedisServer>(port_);
    cli_ = std::make_unique<Cli>(port_);
  }

  BalancerOptions options() const {
    BalancerOptions o;
    o.type = "redis";
    o.redis_host = "127.0.0.1";
    o.redis_port = port_;
    return o;
  }

  std::unique_ptr<Balancer> connected(const BalancerOptions& o) {
    auto b = make_redis_balancer(o);
    EXPECT_TRUE(drive(
        {b.get()}, [&] { return b->state().ends_with(" connected"); }, 3000))
        << b->state();
    // Let the first origin list arrive.
    drive(
        {b.get()}, [] { return false; }, 20);
    return b;
  }
  std::unique_ptr<Balancer> connected() { return connected(options()); }
  // unknown_stream_players = "reject"
  std::unique_ptr<Balancer> rejecting() {
    BalancerOptions o = options();
    o.route_unknown_players = false;
    return connected(o);
  }

  static std::optional<Pick> pick(Balancer& b, const std::string& url, Mode mode,
                                  uint64_t timeout_ms = 2000) {
    std::optional<Pick> out;
    b.pick(url, mode, now_ms(), [&](const Pick& p) { out = p; });
    drive(
        {&b}, [&] { return out.has_value(); }, timeout_ms);
    return out;
  }

  uint16_t port_ = 0;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<Cli> cli_;
};

TEST_F(RedisBalancerTest, StateAndConnect) {
  auto b = connected();
  EXPECT_EQ(b->state(), "redis 127.0.0.1:" + std::to_string(port_) + " connected");
  EXPECT_EQ(b->in_flight(), 0u);
}

TEST_F(RedisBalancerTest, PublisherClaimsAnOriginTheGoProxyRegistered) {
  const std::string key = go_register(*cli_, "origin1", "198.18.1.2", "udp://:10080");
  auto b = connected();
  auto p = pick(*b, "__defaultVhost__/live/a", Mode::Publish);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->ok) << p->why;
  EXPECT_EQ(p->ip.to_string(), "198.18.1.2");
  EXPECT_EQ(p->port, 10080);
  EXPECT_EQ(p->server_key, key);
  // The mapping reads exactly as the Go proxy writes it: the server key.
  EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:__defaultVhost__/live/a"}), key);
  auto servers = b->servers(now_ms());
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].server_id, "origin1");
  // And a player follows.
  auto q = pick(*b, "__defaultVhost__/live/a", Mode::Request);
  ASSERT_TRUE(q && q->ok);
  EXPECT_EQ(q->server_key, key);
}

TEST_F(RedisBalancerTest, HonoursAMappingTheGoProxyWrote) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  const std::string kb = go_register(*cli_, "b", "198.18.1.3", "10081");
  for (int i = 0; i < 5; ++i)
    cli_->run({"SET", "srs-proxy-url:example.com/live/s" + std::to_string(i), kb});
  auto b = connected();
  for (int i = 0; i < 5; ++i) {
    const std::string url = "example.com/live/s" + std::to_string(i);
    for (Mode m : {Mode::Request, Mode::Publish}) {
      auto p = pick(*b, url, m);
      ASSERT_TRUE(p && p->ok);
      EXPECT_EQ(p->server_key, kb);
      EXPECT_EQ(p->ip.to_string(), "198.18.1.3");
      EXPECT_EQ(p->port, 10081);
    }
  }
}

TEST_F(RedisBalancerTest, TwoProxiesRacingAgreeOnEveryStream) {
  for (int i = 0; i < 4; ++i)
    go_register(*cli_, "o" + std::to_string(i), "198.18.1." + std::to_string(10 + i), "10080");
  auto b1 = connected();
  auto b2 = connected();
  std::map<std::string, std::string> first, second;
  for (int i = 0; i < 30; ++i) {
    const std::string url = "__defaultVhost__/live/race" + std::to_string(i);
    // Both ask before either's command is sent: a true race on Redis.
    b1->pick(url, Mode::Publish, now_ms(),
             [&, url](const Pick& p) { first[url] = p.ok ? p.server_key : "!" + p.why; });
    b2->pick(url, Mode::Publish, now_ms(),
             [&, url](const Pick& p) { second[url] = p.ok ? p.server_key : "!" + p.why; });
  }
  ASSERT_TRUE(drive(
      {b1.get(), b2.get()}, [&] { return first.size() == 30 && second.size() == 30; }, 3000));
  std::set<std::string> used;
  for (const auto& [url, key] : first) {
    EXPECT_EQ(key, second[url]) << url;
    EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:" + url}), key);
    used.insert(key);
  }
  EXPECT_GT(used.size(), 1u) << "random choice spreads streams";
}

TEST_F(RedisBalancerTest, MappingToADeadOriginIsReplacedForAPublisher) {
  const std::string live = go_register(*cli_, "live", "198.18.1.2", "10080");
  const std::string dead = "srs-proxy-server:dead-svc-1";  // listed, expired
  cli_->run({"SET", "srs-proxy-all-servers", nlohmann::json({dead, live}).dump()});
  cli_->run({"SET", "srs-proxy-url:v.com/live/x", dead});
  auto b = rejecting();
  auto player = pick(*b, "v.com/live/x", Mode::Request);
  ASSERT_TRUE(player);
  EXPECT_FALSE(player->ok);
  EXPECT_EQ(player->reject_reason, srt::kRejXNotFound);
  EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:v.com/live/x"}), dead);  // a player changes nothing
  auto pub = pick(*b, "v.com/live/x", Mode::Publish);
  ASSERT_TRUE(pub && pub->ok) << (pub ? pub->why : "");
  EXPECT_EQ(pub->server_key, live);
  EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:v.com/live/x"}), live);
}

TEST_F(RedisBalancerTest, ExpiredOriginIsIgnored) {
  const std::string shortlived = go_register(*cli_, "short", "198.18.1.2", "10080", 1);
  const std::string lasting = go_register(*cli_, "long", "198.18.1.3", "10080");
  cli_->run({"SET", "srs-proxy-url:v/live/on-short", shortlived});
  auto b = rejecting();
  // Wait for the key to expire and a refresh to notice.
  drive(
      {b.get()}, [] { return false; }, 2600);
  EXPECT_EQ(b->servers(now_ms()).size(), 1u);
  for (int i = 0; i < 10; ++i) {
    auto p = pick(*b, "v/live/n" + std::to_string(i), Mode::Publish);
    ASSERT_TRUE(p && p->ok);
    EXPECT_EQ(p->server_key, lasting);
  }
  auto player = pick(*b, "v/live/on-short", Mode::Request);
  ASSERT_TRUE(player);
  EXPECT_EQ(player->reject_reason, srt::kRejXNotFound);
}

TEST_F(RedisBalancerTest, PlayerOfUnknownStreamIs1404WhenRejecting) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  auto b = rejecting();
  auto p = pick(*b, "__defaultVhost__/live/nobody", Mode::Request);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->ok);
  EXPECT_EQ(p->reject_reason, srt::kRejXNotFound);
  EXPECT_FALSE(cli_->run({"GET", "srs-proxy-url:__defaultVhost__/live/nobody"}));
}

// As the Go proxy: a player of a stream nobody hosts claims an origin (SRS
// holds it until the stream starts); the publisher follows.
TEST_F(RedisBalancerTest, PlayerOfUnknownStreamClaimsAndThePublisherFollows) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  go_register(*cli_, "b", "198.18.1.3", "10080");
  auto b = connected();
  auto play = pick(*b, "__defaultVhost__/live/early", Mode::Request);
  ASSERT_TRUE(play && play->ok) << (play ? play->why : "");
  EXPECT_NE(play->claim, 0u);
  EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:__defaultVhost__/live/early"}), play->server_key);
  auto pub = pick(*b, "__defaultVhost__/live/early", Mode::Publish);
  ASSERT_TRUE(pub && pub->ok);
  EXPECT_EQ(pub->server_key, play->server_key);
  EXPECT_EQ(pub->claim, 0u) << "the publisher found the mapping";
}

TEST_F(RedisBalancerTest, MappingToADeadOriginIsReplacedForAPlayer) {
  const std::string live = go_register(*cli_, "live", "198.18.1.2", "10080");
  const std::string dead = "srs-proxy-server:dead-svc-1";
  cli_->run({"SET", "srs-proxy-all-servers", nlohmann::json({dead, live}).dump()});
  cli_->run({"SET", "srs-proxy-url:v.com/live/x", dead});
  auto b = connected();
  auto player = pick(*b, "v.com/live/x", Mode::Request);
  ASSERT_TRUE(player && player->ok) << (player ? player->why : "");
  EXPECT_EQ(player->server_key, live);
  EXPECT_NE(player->claim, 0u);
  EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:v.com/live/x"}), live);
}

// A player and a publisher of a new stream racing through two proxies agree.
TEST_F(RedisBalancerTest, RacingPlayersAndPublishersAgree) {
  for (int i = 0; i < 4; ++i)
    go_register(*cli_, "o" + std::to_string(i), "198.18.1." + std::to_string(10 + i), "10080");
  auto b1 = connected();
  auto b2 = connected();
  std::map<std::string, Pick> first, second;
  for (int i = 0; i < 20; ++i) {
    const std::string url = "__defaultVhost__/live/pr" + std::to_string(i);
    b1->pick(url, Mode::Request, now_ms(), [&, url](const Pick& p) { first[url] = p; });
    b2->pick(url, Mode::Publish, now_ms(), [&, url](const Pick& p) { second[url] = p; });
  }
  ASSERT_TRUE(drive(
      {b1.get(), b2.get()}, [&] { return first.size() == 20 && second.size() == 20; }, 3000));
  for (const auto& [url, p] : first) {
    ASSERT_TRUE(p.ok && second[url].ok) << url;
    EXPECT_EQ(p.server_key, second[url].server_key) << url;
    EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:" + url}), p.server_key);
    EXPECT_EQ((p.claim != 0) + (second[url].claim != 0), 1) << url << ": exactly one claimed";
  }
}

// A claim whose leg failed is undone: the mapping is deleted, and the next
// caller claims anew.
TEST_F(RedisBalancerTest, UnclaimDeletesTheMapping) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  auto b = connected();
  const std::string url_key = "srs-proxy-url:v/live/u";
  auto p = pick(*b, "v/live/u", Mode::Publish);
  ASSERT_TRUE(p && p->ok);
  ASSERT_NE(p->claim, 0u);
  ASSERT_EQ(cli_->run({"GET", url_key}), p->server_key);
  b->unclaim("v/live/u", p->server_key, p->claim);
  EXPECT_TRUE(drive(
      {b.get()},
      [&] {
        return !cli_->run({"GET", url_key});
      },
      2000));
  auto again = pick(*b, "v/live/u", Mode::Request);
  ASSERT_TRUE(again && again->ok);
  EXPECT_NE(again->claim, 0u) << "claimed anew";
}

// Undoing never deletes a claim it did not make: another proxy's newer claim,
// or one the pick only followed.
TEST_F(RedisBalancerTest, UnclaimLeavesSomeoneElsesClaim) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  const std::string other = go_register(*cli_, "b", "198.18.1.3", "10080");
  auto b = connected();
  const std::string url_key = "srs-proxy-url:v/live/w";
  auto p = pick(*b, "v/live/w", Mode::Publish);
  ASSERT_TRUE(p && p->ok);
  ASSERT_NE(p->claim, 0u);
  // Meanwhile another proxy found the origin gone and claimed another one.
  const std::string newer = p->server_key == other ? "srs-proxy-server:a-svc-100" : other;
  cli_->run({"SET", url_key, newer});
  b->unclaim("v/live/w", p->server_key, p->claim);
  // Redis answers in order: once a later pick is answered, the undo has run.
  auto follower = pick(*b, "v/live/w", Mode::Request);
  ASSERT_TRUE(follower && follower->ok);
  EXPECT_EQ(follower->server_key, newer);
  EXPECT_EQ(follower->claim, 0u);
  EXPECT_EQ(cli_->run({"GET", url_key}), newer);
  // A pick that followed a mapping has nothing to undo.
  b->unclaim("v/live/w", follower->server_key, follower->claim);
  EXPECT_TRUE(pick(*b, "v/live/x", Mode::Publish)->ok);
  EXPECT_EQ(cli_->run({"GET", url_key}), newer);
}

TEST_F(RedisBalancerTest, NoOriginIs1404) {
  auto b = connected();
  for (Mode m : {Mode::Publish, Mode::Request}) {
    auto p = pick(*b, "__defaultVhost__/live/a", m);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->reject_reason, srt::kRejXNotFound);
    EXPECT_EQ(p->why, "no origin registered");
  }
}

TEST_F(RedisBalancerTest, OriginWithoutSrtIsNotPicked) {
  go_register(*cli_, "rtmponly", "198.18.1.2", "");
  const std::string k = go_register(*cli_, "withsrt", "198.18.1.3", "10080");
  auto b = connected();
  for (int i = 0; i < 8; ++i) {
    auto p = pick(*b, "v/live/" + std::to_string(i), Mode::Publish);
    ASSERT_TRUE(p && p->ok);
    EXPECT_EQ(p->server_key, k);
  }
}

TEST_F(RedisBalancerTest, RegisterWritesWhatTheGoProxyReads) {
  // A stale key in the list is pruned, as the Go proxy's Update does.
  cli_->run({"SET", "srs-proxy-all-servers", R"(["srs-proxy-server:gone-1-2"])"});
  auto b = connected();
  auto s = server_from_register_body(
      R"({"ip":"198.18.1.7","server":"vid-1","service":"svc-2","pid":"33","rtmp":["1935"],"srt":["10080"]})",
      nullptr);
  ASSERT_TRUE(s);
  b->register_server(*s, now_ms());
  const std::string key = "srs-proxy-server:vid-1-svc-2-33";
  ASSERT_TRUE(drive(
      {b.get()},
      [&] {
        return cli_->run({"EXISTS", key}) == "1";
      },
      2000));
  auto ttl = std::stoi(*cli_->run({"TTL", key}));
  EXPECT_GT(ttl, 290);
  EXPECT_LE(ttl, 300);
  auto stored = server_from_json(*cli_->run({"GET", key}), nullptr);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->server_id, "vid-1");
  EXPECT_EQ(stored->service_id, "svc-2");
  EXPECT_EQ(stored->pid, "33");
  auto list = nlohmann::json::parse(*cli_->run({"GET", "srs-proxy-all-servers"}));
  EXPECT_EQ(list, nlohmann::json({key}));
  // A second heartbeat does not duplicate it; another origin is appended.
  b->register_server(*s, now_ms());
  const std::string other = go_register(*cli_, "zz", "198.18.1.8", "10080");
  s->pid = "34";
  b->register_server(*s, now_ms());
  ASSERT_TRUE(drive(
      {b.get()},
      [&] {
        return cli_->run({"EXISTS", "srs-proxy-server:vid-1-svc-2-34"}) == "1";
      },
      2000));
  drive(
      {b.get()}, [] { return false; }, 50);
  list = nlohmann::json::parse(*cli_->run({"GET", "srs-proxy-all-servers"}));
  EXPECT_EQ(list, nlohmann::json({key, other, "srs-proxy-server:vid-1-svc-2-34"}));
  // And it is pickable at once.
  auto p = pick(*b, "v/live/r", Mode::Publish);
  ASSERT_TRUE(p && p->ok);
}

// PROXY_REDIS_KEY_PREFIX: every key "{prefix}:{key}", the list's entries
// included, as the Go proxy's redisKey(); the unprefixed keys are not read.
TEST_F(RedisBalancerTest, KeyPrefixAppliesToEveryKey) {
  go_register(*cli_, "plain", "198.18.1.9", "10080");  // another tenant's, unprefixed
  BalancerOptions o = options();
  o.key_prefix = "tenant1";
  auto b = connected(o);
  auto none = pick(*b, "__defaultVhost__/live/p", Mode::Publish);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->reject_reason, 1404u) << none->why;
  auto s = server_from_register_body(
      R"({"ip":"198.18.1.7","server":"vid-1","service":"svc-2","pid":"33","rtmp":["1935"],"srt":["10080"]})",
      nullptr);
  ASSERT_TRUE(s);
  b->register_server(*s, now_ms());
  const std::string key = "tenant1:srs-proxy-server:vid-1-svc-2-33";
  ASSERT_TRUE(drive(
      {b.get()},
      [&] {
        return cli_->run({"EXISTS", key}) == "1";
      },
      2000));
  EXPECT_EQ(nlohmann::json::parse(*cli_->run({"GET", "tenant1:srs-proxy-all-servers"})),
            nlohmann::json({key}));
  auto p = pick(*b, "__defaultVhost__/live/p", Mode::Publish);
  ASSERT_TRUE(p && p->ok) << (p ? p->why : "no answer");
  EXPECT_EQ(p->ip.to_string(), "198.18.1.7");
  EXPECT_EQ(cli_->run({"GET", "tenant1:srs-proxy-url:__defaultVhost__/live/p"}), key);
  EXPECT_FALSE(cli_->run({"GET", "srs-proxy-url:__defaultVhost__/live/p"}));
}

TEST_F(RedisBalancerTest, RedisDownIs1503AtOnceThenReconnects) {
  const std::string key = go_register(*cli_, "a", "198.18.1.2", "10080");
  auto b = connected();
  ASSERT_TRUE(pick(*b, "v/live/a", Mode::Publish)->ok);
  redis_->kill();
  // The loss is noticed at the next poll (the socket closes).
  ASSERT_TRUE(drive(
      {b.get()}, [&] { return !b->state().ends_with(" connected"); }, 1000))
      << b->state();
  std::optional<Pick> p;
  b->pick("v/live/a", Mode::Request, now_ms(), [&](const Pick& x) { p = x; });
  ASSERT_TRUE(p) << "answered before pick() returns";
  EXPECT_FALSE(p->ok);
  EXPECT_EQ(p->reject_reason, srt::kRejXDown);
  EXPECT_EQ(p->why.rfind("redis unavailable: ", 0), 0u) << p->why;
  EXPECT_EQ(b->in_flight(), 0u);
  EXPECT_NE(b->state().find("down"), std::string::npos) << b->state();
  // Stay down a while (several back-off rounds), then come back.
  drive(
      {b.get()}, [] { return false; }, 800);
  redis_ = std::make_unique<RedisServer>(port_);
  cli_ = std::make_unique<Cli>(port_);
  go_register(*cli_, "a", "198.18.1.2", "10080");
  ASSERT_TRUE(drive(
      {b.get()}, [&] { return b->state().ends_with(" connected"); }, 7000))
      << b->state();
  auto again = pick(*b, "v/live/a", Mode::Publish);
  ASSERT_TRUE(again && again->ok) << (again ? again->why : "");
  EXPECT_EQ(again->server_key, key);
}

TEST_F(RedisBalancerTest, PicksInFlightWhenRedisDiesGet1503) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  auto b = connected();
  std::vector<Pick> answers;
  for (int i = 0; i < 5; ++i)
    b->pick("v/live/" + std::to_string(i), Mode::Publish, now_ms(),
            [&](const Pick& p) { answers.push_back(p); });
  EXPECT_EQ(b->in_flight(), 5u);
  redis_->kill();
  ASSERT_TRUE(drive(
      {b.get()}, [&] { return answers.size() == 5; }, 600));
  for (const auto& p : answers) {
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.reject_reason, srt::kRejXDown);
  }
  EXPECT_EQ(b->in_flight(), 0u);
}

TEST_F(RedisBalancerTest, StuckRedisAnswers1503Within500ms) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  auto b = connected();
  redis_->pause();
  const uint64_t t0 = now_ms();
  auto p = pick(*b, "v/live/a", Mode::Publish, 2000);
  const uint64_t took = now_ms() - t0;
  redis_->resume();
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->ok);
  EXPECT_EQ(p->reject_reason, srt::kRejXDown);
  EXPECT_GE(took, 450u);
  EXPECT_LT(took, 800u);
  EXPECT_EQ(b->in_flight(), 0u);
  // The late reply is ignored; the next pick works.
  auto q = pick(*b, "v/live/a", Mode::Publish);
  ASSERT_TRUE(q && q->ok) << (q ? q->why : "");
}

TEST_F(RedisBalancerTest, NothingListeningIs1503) {
  BalancerOptions o = options();
  o.redis_port = free_port();
  auto b = make_redis_balancer(o);
  drive(
      {b.get()}, [] { return false; }, 300);
  EXPECT_NE(b->state().find("down"), std::string::npos) << b->state();
  std::optional<Pick> p;
  b->pick("v/live/a", Mode::Publish, now_ms(), [&](const Pick& x) { p = x; });
  ASSERT_TRUE(p);
  EXPECT_EQ(p->reject_reason, srt::kRejXDown);
}

class RedisAuthTest : public RedisBalancerTest {
 protected:
  void SetUp() override {
    if (std::string(SRTFWD_REDIS_SERVER).empty()) {
      // Under CI a test that cannot run fails; elsewhere it is reported as skipped.
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
        FAIL() << "redis-server not installed";
      GTEST_SKIP() << "redis-server not installed";
    }
    port_ = free_port();
    redis_ =
        std::make_unique<RedisServer>(port_, std::vector<std::string>{"--requirepass", "s3cret"});
    cli_ = std::make_unique<Cli>(port_, "s3cret");
  }
};

TEST_F(RedisAuthTest, PasswordAndDatabase) {
  cli_->run({"SELECT", "3"});
  const std::string key = go_register(*cli_, "a", "198.18.1.2", "10080");
  BalancerOptions o = options();
  o.redis_password = "s3cret";
  o.redis_db = 3;
  auto b = connected(o);
  auto p = pick(*b, "v/live/a", Mode::Publish);
  ASSERT_TRUE(p && p->ok) << (p ? p->why : "");
  EXPECT_EQ(p->server_key, key);
  EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:v/live/a"}), key);  // in db 3

  o.redis_password = "wrong";
  auto bad = make_redis_balancer(o);
  drive(
      {bad.get()}, [] { return false; }, 300);
  EXPECT_NE(bad->state().find("down"), std::string::npos) << bad->state();
  EXPECT_NE(bad->state().find("AUTH"), std::string::npos) << bad->state();
}

// ---- writes resumed on a new store, claims in flight ----

// Everything this host wrote (heartbeats, claims its callers went on with)
// is written again on the next connection: a store that lost it (a
// failover's unreplicated tail, here a Redis restarted empty) gets it back.
TEST_F(RedisBalancerTest, HeartbeatsAndClaimsAreWrittenAgainOnAFreshStore) {
  auto b = connected();
  auto s = server_from_register_body(
      R"({"ip":"198.18.1.7","server":"vid-1","service":"svc-2","pid":"33","rtmp":["1935"],"srt":["10080"]})",
      nullptr);
  ASSERT_TRUE(s);
  b->register_server(*s, now_ms());
  const std::string key = "srs-proxy-server:vid-1-svc-2-33";
  ASSERT_TRUE(drive(
      {b.get()},
      [&] {
        return cli_->run({"EXISTS", key}) == "1";
      },
      2000));
  auto p = pick(*b, "v/live/kept", Mode::Publish);
  ASSERT_TRUE(p && p->ok) << (p ? p->why : "");
  EXPECT_NE(p->claim, 0u);
  // A claim undone (its leg failed) is not written again.
  auto undone = pick(*b, "v/live/undone", Mode::Publish);
  ASSERT_TRUE(undone && undone->ok);
  b->unclaim("v/live/undone", undone->server_key, undone->claim);
  ASSERT_TRUE(drive(
      {b.get()},
      [&] {
        return !cli_->run({"GET", "srs-proxy-url:v/live/undone"});
      },
      2000));

  redis_->kill();
  redis_ = std::make_unique<RedisServer>(port_);
  cli_ = std::make_unique<Cli>(port_);
  ASSERT_TRUE(drive(
      {b.get()},
      [&] {
        return cli_->run({"GET", "srs-proxy-url:v/live/kept"}) == key &&
               cli_->run({"EXISTS", key}) == "1";
      },
      7000))
      << b->state();
  drive(
      {b.get()}, [] { return false; }, 100);
  EXPECT_EQ(nlohmann::json::parse(*cli_->run({"GET", "srs-proxy-all-servers"})),
            nlohmann::json({key}));
  // With what was left of its TTL, not a new one.
  const int ttl = std::stoi(*cli_->run({"TTL", key}));
  EXPECT_GT(ttl, 280);
  EXPECT_LE(ttl, 300);
  EXPECT_FALSE(cli_->run({"GET", "srs-proxy-url:v/live/undone"}));
}

// A claim whose reply is lost with the connection: its caller gets 1503,
// once, and the claim is not sent again to the next store (it may or may
// not have been applied; the caller did not go to that origin).
TEST_F(RedisBalancerTest, AClaimInFlightWhenTheStoreGoesIs1503OnceAndNotResent) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  auto b = connected();
  // Reads pass, writes (the claim script) wait: the claim is in flight.
  EXPECT_EQ(cli_->run({"CLIENT", "PAUSE", "3000", "WRITE"}), "OK");
  std::vector<Pick> answers;
  b->pick("v/live/inflight", Mode::Publish, now_ms(), [&](const Pick& p) { answers.push_back(p); });
  drive(
      {b.get()}, [] { return false; }, 100);
  ASSERT_TRUE(answers.empty()) << answers[0].why;
  EXPECT_EQ(b->in_flight(), 1u);
  redis_->kill();
  ASSERT_TRUE(drive(
      {b.get()}, [&] { return !answers.empty(); }, 600));
  EXPECT_FALSE(answers[0].ok);
  EXPECT_EQ(answers[0].reject_reason, srt::kRejXDown);
  EXPECT_EQ(answers[0].claim, 0u);

  redis_ = std::make_unique<RedisServer>(port_);
  cli_ = std::make_unique<Cli>(port_);
  ASSERT_TRUE(drive(
      {b.get()}, [&] { return b->state().ends_with(" connected"); }, 7000))
      << b->state();
  drive(
      {b.get()}, [] { return false; }, 300);
  EXPECT_EQ(answers.size(), 1u);
  EXPECT_FALSE(cli_->run({"GET", "srs-proxy-url:v/live/inflight"}));
}

// ---- Redis Sentinel ----

// A master, its replica and one Sentinel (quorum 1), all on loopback.
class SentinelTest : public RedisBalancerTest {
 protected:
  void SetUp() override {
    RedisBalancerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // The replica writes the RDB it syncs, the Sentinel its config: here.
    char dir[] = "/tmp/srtfwd-sentinel-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    // The master too: demoted by a failover, it syncs from the new one.
    redis_.reset();
    redis_ = std::make_unique<RedisServer>(port_, std::vector<std::string>{"--dir", dir_});
    cli_ = std::make_unique<Cli>(port_);
    replica_port_ = free_port();
    replica_ = std::make_unique<RedisServer>(
        replica_port_,
        std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(port_), "--dir", dir_});
    replica_cli_ = std::make_unique<Cli>(replica_port_);
    ASSERT_TRUE(wait(
        [&] {
          auto info = replica_cli_->run({"INFO", "replication"});
          return info && info->find("master_link_status:up") != std::string::npos;
        },
        15000))
        << "the replica did not sync";
    const std::string conf = dir_ + "/sentinel.conf";
    FILE* f = std::fopen(conf.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(
        f,
        "dir %s\nsentinel monitor srs 127.0.0.1 %u 1\n"
        "sentinel down-after-milliseconds srs 1000\n"
        "sentinel failover-timeout srs 3000\n%s",
        dir_.c_str(), port_,
        sentinel_password_.empty() ? "" : ("requirepass " + sentinel_password_ + "\n").c_str());
    std::fclose(f);
    sentinel_port_ = free_port();
    sentinel_ = std::make_unique<RedisServer>(sentinel_port_, std::vector<std::string>{}, conf);
    sentinel_cli_ = std::make_unique<Cli>(sentinel_port_, sentinel_password_);
    // A failover needs a replica the Sentinel knows (from the master's INFO).
    ASSERT_TRUE(wait(
        [&] {
          auto info = sentinel_cli_->run({"INFO", "sentinel"});
          return info && info->find("slaves=1") != std::string::npos;
        },
        15000))
        << "the Sentinel did not find the replica";
  }

  void TearDown() override {
    sentinel_.reset();
    replica_.reset();
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }

  static bool wait(const std::function<bool()>& cond, uint64_t timeout_ms = 5000) {
    return drive({}, cond, timeout_ms);
  }

  BalancerOptions sentinel_options() const {
    BalancerOptions o = options();
    o.redis_port = 1;  // not used in Sentinel mode
    o.master_name = "srs";
    // The first Sentinel is not there: the next one is asked.
    o.sentinels = {{"127.0.0.1", free_port()}, {"127.0.0.1", sentinel_port_}};
    return o;
  }

  std::string at(uint16_t port) const {
    return "redis master \"srs\" at 127.0.0.1:" + std::to_string(port);
  }

  std::string sentinel_password_;  // the Sentinel's requirepass, if any
  uint16_t replica_port_ = 0, sentinel_port_ = 0;
  std::unique_ptr<RedisServer> replica_, sentinel_;
  std::unique_ptr<Cli> replica_cli_, sentinel_cli_;
  std::string dir_;
};

TEST_F(SentinelTest, AsksTheSentinelsThenFollowsAFailover) {
  const std::string key = go_register(*cli_, "a", "198.18.1.2", "10080");
  auto b = connected(sentinel_options());
  EXPECT_EQ(b->state(), at(port_) + " connected");
  EXPECT_GE(b->stats().sentinel_errors, 1u) << "the absent Sentinel";
  EXPECT_EQ(b->stats().master_switches, 0u);
  auto p = pick(*b, "v/live/before", Mode::Publish);
  ASSERT_TRUE(p && p->ok) << (p ? p->why : "");
  EXPECT_EQ(cli_->run({"GET", "srs-proxy-url:v/live/before"}), key);

  // A failover without the master going down: only +switch-master (and
  // the demotion, READONLY) tell the balancer.
  // Refused (NOGOODSLAVE) until the Sentinel has the replica's own INFO.
  ASSERT_TRUE(wait(
      [&] {
        return sentinel_cli_->run({"SENTINEL", "FAILOVER", "srs"}) == "OK";
      },
      15000));
  ASSERT_TRUE(drive(
      {b.get()}, [&] { return b->state() == at(replica_port_) + " connected"; }, 15000))
      << b->state();
  EXPECT_EQ(b->stats().master_switches, 1u);
  // The promotion closed the replica's clients (Sentinel's CLIENT KILL).
  replica_cli_ = std::make_unique<Cli>(replica_port_);
  // Claims go to the new master, and the old mapping is there.
  auto q = pick(*b, "v/live/after", Mode::Publish);
  ASSERT_TRUE(q && q->ok) << (q ? q->why : "");
  EXPECT_EQ(replica_cli_->run({"GET", "srs-proxy-url:v/live/after"}), key);
  EXPECT_EQ(replica_cli_->run({"GET", "srs-proxy-url:v/live/before"}), key);
}

TEST_F(SentinelTest, NoMasterIs1503AndTheMasterAfterThePromotionIsFound) {
  go_register(*cli_, "a", "198.18.1.2", "10080");
  auto b = connected(sentinel_options());
  redis_->kill();
  ASSERT_TRUE(drive(
      {b.get()}, [&] { return !b->state().ends_with(" connected"); }, 1000));
  // Until the Sentinel promotes the replica (down-after 1 s), callers get 1503.
  auto p = pick(*b, "v/live/x", Mode::Publish);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->ok);
  EXPECT_EQ(p->reject_reason, srt::kRejXDown);
  ASSERT_TRUE(drive(
      {b.get()}, [&] { return b->state() == at(replica_port_) + " connected"; }, 15000))
      << b->state();
  EXPECT_EQ(b->stats().master_switches, 1u);
  auto q = pick(*b, "v/live/x", Mode::Publish);
  ASSERT_TRUE(q && q->ok) << (q ? q->why : "");
}

TEST_F(SentinelTest, AnUnknownMasterNameIsDown) {
  BalancerOptions o = sentinel_options();
  o.master_name = "other";
  auto b = make_redis_balancer(o);
  drive(
      {b.get()}, [] { return false; }, 300);
  EXPECT_NE(b->state().find("down"), std::string::npos) << b->state();
  EXPECT_NE(b->state().find("does not know a master \"other\""), std::string::npos) << b->state();
  EXPECT_GE(b->stats().sentinel_errors, 2u);
  auto p = pick(*b, "v/live/x", Mode::Publish);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->reject_reason, srt::kRejXDown);
}

// A Sentinel with requirepass: sentinel_password is its AUTH, not the master's.
class SentinelAuthTest : public SentinelTest {
 protected:
  SentinelAuthTest() { sentinel_password_ = "sentinel-s3cret"; }
};

TEST_F(SentinelAuthTest, SentinelPasswordIsSent) {
  BalancerOptions o = sentinel_options();
  o.sentinels.erase(o.sentinels.begin());
  o.sentinel_password = "wrong";
  auto bad = make_redis_balancer(o);
  drive(
      {bad.get()}, [] { return false; }, 300);
  EXPECT_NE(bad->state().find("AUTH"), std::string::npos) << bad->state();
  EXPECT_GE(bad->stats().sentinel_errors, 1u);

  o.sentinel_password = sentinel_password_;
  auto b = connected(o);
  EXPECT_EQ(b->state(), at(port_) + " connected");
  drive(
      {b.get()}, [] { return false; }, 300);  // the subscription's answer
  EXPECT_EQ(b->stats().sentinel_errors, 0u) << "the subscription authenticates too";
}

}  // namespace
}  // namespace srtfwd::control

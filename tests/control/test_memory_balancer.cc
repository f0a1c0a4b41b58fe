// The in-process balancer's rules.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "srtfwd/control/balancer.h"
#include "srtfwd/srt/reject.h"

namespace srtfwd::control {
namespace {

using srt::Mode;

Pick pick_now(Balancer& b, const std::string& url, Mode mode, uint64_t now_ms) {
  std::optional<Pick> out;
  b.pick(url, mode, now_ms, [&](const Pick& p) { out = p; });
  EXPECT_TRUE(out) << "the memory balancer answers before pick() returns";
  return out.value_or(Pick{});
}

BalancerOptions two_static() {
  BalancerOptions o;
  o.backends.push_back({*net::IpAddr::parse("198.18.1.2"), 10080});
  o.backends.push_back({*net::IpAddr::parse("198.18.1.3"), 10081});
  return o;
}

ServerInfo origin(const std::string& id, const std::string& ip, std::vector<std::string> srt) {
  ServerInfo s;
  s.ip = ip;
  s.server_id = id;
  s.service_id = "svc";
  s.pid = "1";
  s.rtmp = {"1935"};
  s.srt = std::move(srt);
  return s;
}

TEST(MemoryBalancer, NoOriginIs1404) {
  auto b = make_memory_balancer({});
  EXPECT_EQ(b->state(), "memory");
  for (Mode m : {Mode::Publish, Mode::Request, Mode::Bidirectional}) {
    Pick p = pick_now(*b, "__defaultVhost__/live/a", m, 1000);
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.reject_reason, srt::kRejXNotFound);
    EXPECT_EQ(p.why, "no origin registered");
  }
}

TEST(MemoryBalancer, StaticBackendsNeverExpire) {
  auto b = make_memory_balancer(two_static());
  const uint64_t much_later = 1000ull * 3600 * 24 * 365;
  auto servers = b->servers(much_later);
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].server_id, "static-0");
  EXPECT_EQ(servers[1].server_id, "static-1");
  Pick p = pick_now(*b, "__defaultVhost__/live/a", Mode::Publish, much_later);
  ASSERT_TRUE(p.ok) << p.why;
  EXPECT_EQ(p.ip.to_string(), "198.18.1.2");
  EXPECT_EQ(p.port, 10080);
  EXPECT_EQ(p.server_key.rfind("srs-proxy-server:static-0-", 0), 0u) << p.server_key;
}

TEST(MemoryBalancer, PublisherClaimsTheLeastLoadedAndPlayersFollow) {
  auto b = make_memory_balancer(two_static());
  std::map<std::string, int> load;
  std::map<std::string, std::string> where;
  for (int i = 0; i < 10; ++i) {
    const std::string url = "__defaultVhost__/live/s" + std::to_string(i);
    Pick p = pick_now(*b, url, i % 2 ? Mode::Bidirectional : Mode::Publish, 1000);
    ASSERT_TRUE(p.ok);
    ++load[p.server_key];
    where[url] = p.server_key;
  }
  ASSERT_EQ(load.size(), 2u);
  for (const auto& [k, n] : load) EXPECT_EQ(n, 5) << k;
  for (const auto& [url, key] : where) {
    EXPECT_EQ(pick_now(*b, url, Mode::Request, 2000).server_key, key);  // player goes there
    EXPECT_EQ(pick_now(*b, url, Mode::Publish, 2000).server_key, key);  // sticky
  }
}

// As the Go proxy: a player of a stream nobody hosts claims an origin like
// a publisher (SRS holds it there until the stream starts), and the
// publisher that comes later follows it.
TEST(MemoryBalancer, PlayerOfUnknownStreamClaimsAndThePublisherFollows) {
  auto b = make_memory_balancer(two_static());
  const std::string a = "__defaultVhost__/live/a", c = "__defaultVhost__/live/c";
  const Pick play = pick_now(*b, a, Mode::Request, 1000);
  ASSERT_TRUE(play.ok) << play.why;
  EXPECT_NE(play.claim, 0u);
  EXPECT_EQ(play.ip.to_string(), "198.18.1.2");  // least loaded, ties in key order
  const Pick pub = pick_now(*b, a, Mode::Publish, 1000);
  ASSERT_TRUE(pub.ok);
  EXPECT_EQ(pub.server_key, play.server_key);
  EXPECT_EQ(pub.claim, 0u) << "the publisher found the mapping: no claim of its own";
  // The player's claim counts as load: the next stream goes to the other origin.
  EXPECT_EQ(pick_now(*b, c, Mode::Publish, 1000).ip.to_string(), "198.18.1.3");
}

TEST(MemoryBalancer, PlayerOfUnknownStreamIs1404WhenRejecting) {
  BalancerOptions o = two_static();
  o.route_unknown_players = false;
  auto b = make_memory_balancer(o);
  Pick p = pick_now(*b, "__defaultVhost__/live/nobody", Mode::Request, 1000);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.reject_reason, srt::kRejXNotFound);
  EXPECT_NE(p.why.find("not published"), std::string::npos) << p.why;
  // A player does not create a mapping.
  EXPECT_FALSE(pick_now(*b, "__defaultVhost__/live/nobody", Mode::Request, 1000).ok);
  // A publisher still claims, and players follow it.
  const Pick pub = pick_now(*b, "__defaultVhost__/live/nobody", Mode::Publish, 1000);
  ASSERT_TRUE(pub.ok);
  EXPECT_NE(pub.claim, 0u);
  EXPECT_EQ(pick_now(*b, "__defaultVhost__/live/nobody", Mode::Request, 1000).server_key,
            pub.server_key);
}

// A mapping lasts as long as its origin, not as long as a publisher's
// session: an encoder that reconnects (whatever loads changed meanwhile)
// returns to the origin its players wait on.
TEST(MemoryBalancer, MappingOutlivesItsPublisher) {
  BalancerOptions o = two_static();
  o.route_unknown_players = false;
  auto b = make_memory_balancer(o);
  const std::string a = "__defaultVhost__/live/a";
  const Pick first = pick_now(*b, a, Mode::Publish, 1000);
  ASSERT_TRUE(first.ok);
  // More streams on the first origin than on the other one.
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(pick_now(*b, "v/other" + std::to_string(i), Mode::Publish, 1000).ok);
  const uint64_t much_later = 1000ull * 3600;
  const Pick player = pick_now(*b, a, Mode::Request, much_later);
  ASSERT_TRUE(player.ok) << player.why;
  EXPECT_EQ(player.server_key, first.server_key);
  b->poll(much_later);
  const Pick again = pick_now(*b, a, Mode::Publish, much_later);
  ASSERT_TRUE(again.ok);
  EXPECT_EQ(again.server_key, first.server_key);
  EXPECT_EQ(again.claim, 0u);
}

// A claim whose leg failed is undone: the mapping goes, and so does the load
// it added to its origin.
TEST(MemoryBalancer, UnclaimRestoresMappingAndLoad) {
  BalancerOptions o = two_static();
  o.route_unknown_players = false;
  auto b = make_memory_balancer(o);
  const std::string a = "__defaultVhost__/live/a", c = "__defaultVhost__/live/c";
  const Pick pa = pick_now(*b, a, Mode::Publish, 1000);
  ASSERT_TRUE(pa.ok);
  ASSERT_NE(pa.claim, 0u);
  EXPECT_EQ(pa.ip.to_string(), "198.18.1.2");
  b->unclaim(a, pa.server_key, pa.claim);
  const Pick player = pick_now(*b, a, Mode::Request, 1000);
  EXPECT_FALSE(player.ok);
  EXPECT_EQ(player.reject_reason, srt::kRejXNotFound);
  // The first origin's load is 0 again: it takes the next stream (ties in key order).
  const Pick pc = pick_now(*b, c, Mode::Publish, 1000);
  ASSERT_TRUE(pc.ok);
  EXPECT_EQ(pc.ip.to_string(), "198.18.1.2");
  b->unclaim("__defaultVhost__/live/never-claimed", pc.server_key, pc.claim);  // harmless
  EXPECT_EQ(pick_now(*b, c, Mode::Request, 1000).server_key, pc.server_key);
}

// Undoing never removes a claim the failed pick did not make: one made by
// another caller since, nor one the pick only followed.
TEST(MemoryBalancer, UnclaimLeavesSomeoneElsesClaim) {
  auto b = make_memory_balancer(two_static());
  const std::string a = "__defaultVhost__/live/a", c = "__defaultVhost__/live/c";
  const Pick old = pick_now(*b, a, Mode::Publish, 1000);
  ASSERT_TRUE(old.ok);
  b->unclaim(a, old.server_key, old.claim);
  const Pick newer = pick_now(*b, a, Mode::Request, 1000);  // claims again, same origin
  ASSERT_TRUE(newer.ok);
  ASSERT_EQ(newer.server_key, old.server_key);
  ASSERT_NE(newer.claim, old.claim);
  b->unclaim(a, old.server_key, old.claim);  // late, repeated: the newer claim stays
  const Pick follower = pick_now(*b, a, Mode::Publish, 1000);
  ASSERT_TRUE(follower.ok);
  EXPECT_EQ(follower.server_key, newer.server_key);
  EXPECT_EQ(follower.claim, 0u);
  b->unclaim(a, follower.server_key, follower.claim);  // a follower has nothing to undo
  b->unclaim(a, "srs-proxy-server:someone-else", newer.claim);
  EXPECT_EQ(pick_now(*b, a, Mode::Request, 1000).claim, 0u) << "the mapping is still there";
  // Its load is still counted: the next stream goes to the other origin.
  EXPECT_NE(pick_now(*b, c, Mode::Publish, 1000).server_key, newer.server_key);
}

TEST(MemoryBalancer, RegisteredOriginsExpireWithoutHeartbeat) {
  BalancerOptions o;
  o.server_ttl_s = 10;
  auto b = make_memory_balancer(o);
  b->register_server(origin("a", "198.18.1.2", {"10080"}), 1000);
  Pick p = pick_now(*b, "v/live/a", Mode::Publish, 2000);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.server_key, "srs-proxy-server:a-svc-1");
  EXPECT_EQ(b->servers(10999).size(), 1u);
  EXPECT_EQ(b->servers(11000).size(), 0u);
  // Gone: the player gets 1404, the publisher too (nobody left).
  EXPECT_EQ(pick_now(*b, "v/live/a", Mode::Request, 11000).reject_reason, srt::kRejXNotFound);
  EXPECT_EQ(pick_now(*b, "v/live/a", Mode::Publish, 11000).why, "no origin registered");
  // A heartbeat renews it.
  b->register_server(origin("a", "198.18.1.2", {"10080"}), 12000);
  EXPECT_TRUE(pick_now(*b, "v/live/a", Mode::Publish, 21000).ok);
  b->poll(30000);  // the sweep forgets expired origins and their streams
  EXPECT_TRUE(b->servers(30000).empty());
}

TEST(MemoryBalancer, StreamOfADeadOriginMovesOnPublish) {
  BalancerOptions o;
  o.server_ttl_s = 10;
  o.route_unknown_players = false;
  auto b = make_memory_balancer(o);
  b->register_server(origin("a", "198.18.1.2", {"10080"}), 1000);
  ASSERT_EQ(pick_now(*b, "v/live/x", Mode::Publish, 1000).server_key, "srs-proxy-server:a-svc-1");
  b->register_server(origin("b", "198.18.1.3", {"10080"}), 9000);
  // a expires at 11000; b lives until 19000.
  Pick player = pick_now(*b, "v/live/x", Mode::Request, 12000);
  EXPECT_FALSE(player.ok);
  EXPECT_EQ(player.reject_reason, srt::kRejXNotFound);
  Pick pub = pick_now(*b, "v/live/x", Mode::Publish, 12000);
  ASSERT_TRUE(pub.ok);
  EXPECT_EQ(pub.server_key, "srs-proxy-server:b-svc-1");
  EXPECT_EQ(pub.ip.to_string(), "198.18.1.3");
  EXPECT_EQ(pick_now(*b, "v/live/x", Mode::Request, 12000).server_key, "srs-proxy-server:b-svc-1");
}

TEST(MemoryBalancer, StreamOfADeadOriginMovesOnPlay) {
  BalancerOptions o;
  o.server_ttl_s = 10;
  auto b = make_memory_balancer(o);
  b->register_server(origin("a", "198.18.1.2", {"10080"}), 1000);
  ASSERT_EQ(pick_now(*b, "v/live/x", Mode::Publish, 1000).server_key, "srs-proxy-server:a-svc-1");
  b->register_server(origin("b", "198.18.1.3", {"10080"}), 9000);
  Pick player = pick_now(*b, "v/live/x", Mode::Request, 12000);
  ASSERT_TRUE(player.ok) << player.why;
  EXPECT_EQ(player.server_key, "srs-proxy-server:b-svc-1");
  EXPECT_NE(player.claim, 0u);
  EXPECT_EQ(pick_now(*b, "v/live/x", Mode::Publish, 12000).server_key, "srs-proxy-server:b-svc-1");
}

TEST(MemoryBalancer, OriginWithoutSrtEndpointIsNeverPicked) {
  auto b = make_memory_balancer({});
  b->register_server(origin("nosrt", "198.18.1.2", {}), 1000);
  b->register_server(origin("junk", "198.18.1.3", {"udp://nonsense"}), 1000);
  Pick p = pick_now(*b, "v/live/x", Mode::Publish, 1000);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.reject_reason, srt::kRejXNotFound);
  b->register_server(origin("good", "198.18.1.4", {"udp://:10090"}), 1000);
  for (int i = 0; i < 5; ++i) {
    Pick q = pick_now(*b, "v/live/y" + std::to_string(i), Mode::Publish, 1000);
    ASSERT_TRUE(q.ok);
    EXPECT_EQ(q.ip.to_string(), "198.18.1.4");
    EXPECT_EQ(q.port, 10090);
  }
}

TEST(MemoryBalancer, HeartbeatUpdatesTheRecord) {
  auto b = make_memory_balancer({});
  b->register_server(origin("a", "198.18.1.2", {"10080"}), 1000);
  b->register_server(origin("a", "198.18.1.2", {"10099"}), 2000);
  auto servers = b->servers(2000);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].srt, std::vector<std::string>{"10099"});
  EXPECT_EQ(servers[0].seen_ms, 2000u);
  EXPECT_EQ(pick_now(*b, "v/live/z", Mode::Publish, 2000).port, 10099);
}

}  // namespace
}  // namespace srtfwd::control

namespace srtfwd::control {
namespace {

// A config reload replaces the static origins. Streams on an origin that
// stays where it was keep it; a stream whose static origin went away (or
// whose place now holds another endpoint) is claimed again; registered
// origins are not touched.
TEST(MemoryBalancer, StaticBackendsReplacedByAReload) {
  BalancerOptions o = two_static();
  o.route_unknown_players = false;
  auto b = make_memory_balancer(o);
  b->register_server(origin("reg", "198.18.2.9", {"10080"}), 1000);
  // Three streams, one per origin (fewest streams wins, ties in key order).
  std::map<std::string, std::string> on;
  for (const char* url : {"live/a", "live/b", "live/c"}) {
    const Pick p = pick_now(*b, url, Mode::Publish, 1000);
    ASSERT_TRUE(p.ok) << url;
    on[url] = p.ip.to_string() + ":" + std::to_string(p.port);
  }
  const std::string first = "198.18.1.2:10080", second = "198.18.1.3:10081";
  ASSERT_EQ(std::set<std::string>({on["live/a"], on["live/b"], on["live/c"]}),
            std::set<std::string>({first, second, "198.18.2.9:10080"}));

  // static-0 stays, static-1 goes away, a new static-1 at another endpoint.
  std::vector<StaticBackend> next;
  next.push_back({*net::IpAddr::parse("198.18.1.2"), 10080});
  next.push_back({*net::IpAddr::parse("198.18.1.7"), 10080});
  b->set_static_backends(next);

  std::set<std::string> listed;
  for (const auto& s : b->servers(2000)) listed.insert(s.ip + ":" + s.srt.at(0));
  EXPECT_EQ(listed, std::set<std::string>({first, "198.18.1.7:10080", "198.18.2.9:10080"}));
  for (const auto& [url, where] : on) {
    const Pick p = pick_now(*b, url, Mode::Request, 2000);
    const std::string now_on = p.ip.to_string() + ":" + std::to_string(p.port);
    if (where == second) {
      // Its origin is gone: a player is refused until a publisher claims it again...
      EXPECT_FALSE(p.ok) << url;
      EXPECT_EQ(p.reject_reason, srt::kRejXNotFound);
      const Pick again = pick_now(*b, url, Mode::Publish, 2000);
      ASSERT_TRUE(again.ok);
      // ...on the origin with the fewest streams: the new static one.
      EXPECT_EQ(again.ip.to_string() + ":" + std::to_string(again.port), "198.18.1.7:10080");
    } else {
      ASSERT_TRUE(p.ok) << url;
      EXPECT_EQ(now_on, where) << url;
    }
  }
  // No static origin left: only the registered one takes new streams.
  b->set_static_backends({});
  const Pick p = pick_now(*b, "live/d", Mode::Publish, 3000);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.ip.to_string(), "198.18.2.9");
  EXPECT_EQ(b->servers(3000).size(), 1u);
}

}  // namespace
}  // namespace srtfwd::control

// The session directory's keys and values (control/directory.h): what other
// hosts read must parse back to what the owner wrote, and nothing else may
// name an owner.
#include <gtest/gtest.h>

#include "srtfwd/control/balancer.h"
#include "srtfwd/control/directory.h"

namespace srtfwd::control {
namespace {

net::IpAddr ip(const char* s) { return *net::IpAddr::parse(s); }

TEST(Directory, KeyNamesTheCallerFourTuple) {
  EXPECT_EQ(directory_key(ip("198.18.100.2"), 40000, ip("198.18.200.1"), 10080),
            "srtfwd:session:198.18.100.2:40000-198.18.200.1:10080");
  EXPECT_EQ(directory_key(ip("2001:2::5"), 4000, ip("2001:2::200"), 10080),
            "srtfwd:session:[2001:2::5]:4000-[2001:2::200]:10080");
}

TEST(Directory, ValueRoundTrips) {
  DirectoryEntry e;
  e.owner = ip("198.18.2.1");
  e.hop_port = 19523;
  e.caller_socket_id = 0x12345678;
  e.backend_socket_id = 0xfedcba98;
  const auto back = parse_directory_value(directory_value(e));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->owner, e.owner);
  EXPECT_EQ(back->hop_port, 19523);
  EXPECT_EQ(back->caller_socket_id, 0x12345678u);
  EXPECT_EQ(back->backend_socket_id, 0xfedcba98u);
}

TEST(Directory, GarbledValuesNameNoOwner) {
  for (const char* v :
       {"", "198.18.2.1", "{}", "[1]", R"({"owner":"198.18.2.1"})",
        R"({"owner":"2001:2::1","hop_port":19523})", R"({"owner":"nope","hop_port":19523})",
        R"({"owner":"198.18.2.1","hop_port":0})", R"({"owner":"198.18.2.1","hop_port":70000})",
        R"({"owner":"198.18.2.1","hop_port":"19523"})"})
    EXPECT_FALSE(parse_directory_value(v).has_value()) << v;
}

TEST(Directory, OnlyTheRedisBalancerLendsItsConnection) {
  BalancerOptions o;
  auto memory = make_memory_balancer(o);
  bool called = false;
  EXPECT_FALSE(memory->redis_command({"PING"}, [&](const redisReply*) { called = true; }));
  // Not connected yet: refused, and the callback never runs.
  o.type = "redis";
  auto redis = make_redis_balancer(o);
  EXPECT_FALSE(redis->redis_command({"PING"}, [&](const redisReply*) { called = true; }));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace srtfwd::control

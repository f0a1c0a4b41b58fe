// GET /api/v1/streams and /api/v1/origins as rendered from a balancer's
// mappings and origins and this host's sessions.
#include "srtfwd/admin/streams.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace srtfwd::admin {
namespace {

using nlohmann::json;

control::ServerInfo origin(const std::string& id, const std::string& ip, const std::string& srt,
                           uint64_t seen_ms = 1) {
  control::ServerInfo s;
  s.ip = ip;
  s.server_id = id;
  s.service_id = "svc";
  s.pid = "42";
  s.srt = {srt};
  s.update_at = "2026-12-06T07:00:00.000000000Z";
  s.seen_ms = seen_ms;
  return s;
}

control::StreamSession session(uint32_t id, const std::string& url, srt::Mode m,
                               const std::string& key, uint64_t since) {
  return {id, url, m, key, "198.18.0.10:" + std::to_string(5000 + id), since};
}

class StreamsView : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = origin("a", "198.18.1.2", "10080");
    b_ = origin("b", "198.18.1.3", "udp://198.18.1.30:10090", 0);
    state_.servers = {a_, b_};
    state_.mappings = {{"__defaultVhost__/live/two", b_.redis_key()},
                       {"__defaultVhost__/live/one", a_.redis_key()},
                       {"__defaultVhost__/live/orphan", "srs-proxy-server:gone-svc-1"}};
    state_.sessions = {
        session(7, "__defaultVhost__/live/one", srt::Mode::Request, a_.redis_key(), 1765000002000),
        session(3, "__defaultVhost__/live/one", srt::Mode::Publish, a_.redis_key(), 1765000001000),
        session(9, "__defaultVhost__/live/one", srt::Mode::Request, a_.redis_key(), 1765000003500),
        // Its mapping went with its origin: the stream still shows.
        session(4, "__defaultVhost__/live/left", srt::Mode::Publish, "srs-proxy-server:old-svc-2",
                1765000000000),
    };
  }
  control::ServerInfo a_, b_;
  control::StreamsState state_;
};

TEST_F(StreamsView, EveryStreamWithItsOriginPublisherAndPlayers) {
  const auto src = memory_source(state_);
  const json j = json::parse(streams_json(src, state_.sessions));
  EXPECT_EQ(j["source"], "memory");
  EXPECT_EQ(j["sessions"], "this host's");
  ASSERT_EQ(j["count"], 4u);
  const auto& s = j["streams"];
  // In URL order.
  EXPECT_EQ(s[0]["url"], "__defaultVhost__/live/left");
  EXPECT_EQ(s[1]["url"], "__defaultVhost__/live/one");
  EXPECT_EQ(s[2]["url"], "__defaultVhost__/live/orphan");
  EXPECT_EQ(s[3]["url"], "__defaultVhost__/live/two");

  const auto& one = s[1];
  EXPECT_EQ(one["origin"]["key"], a_.redis_key());
  EXPECT_EQ(one["origin"]["address"], "198.18.1.2:10080");
  EXPECT_EQ(one["origin"]["alive"], true);
  EXPECT_EQ(one["publisher"]["id"], 3);
  EXPECT_EQ(one["publisher"]["mode"], "publish");
  EXPECT_EQ(one["publisher"]["caller"], "198.18.0.10:5003");
  EXPECT_EQ(one["publisher"]["since"], "2025-12-06T05:46:41.000Z");
  ASSERT_EQ(one["players"].size(), 2u);
  EXPECT_EQ(one["players"][0]["id"], 7);
  EXPECT_EQ(one["players"][0]["mode"], "play");
  EXPECT_EQ(one["players"][1]["id"], 9);
  EXPECT_EQ(one["players"][1]["since_unix_ms"], 1765000003500u);
  // Since the earliest of its sessions here.
  EXPECT_EQ(one["since"], "2025-12-06T05:46:41.000Z");

  // An explicit SRT address wins over ip.
  EXPECT_EQ(s[3]["origin"]["address"], "198.18.1.30:10090");
  EXPECT_TRUE(s[3]["publisher"].is_null());
  EXPECT_TRUE(s[3]["players"].empty());
  EXPECT_TRUE(s[3]["since"].is_null());

  EXPECT_EQ(s[2]["origin"]["alive"], false);
  EXPECT_EQ(s[2]["origin"]["address"], "");
  EXPECT_EQ(s[0]["origin"]["key"], "srs-proxy-server:old-svc-2");
  EXPECT_EQ(s[0]["publisher"]["id"], 4);
}

TEST_F(StreamsView, EveryOriginWithItsStreamCount) {
  auto src = memory_source(state_);
  const json j = json::parse(origins_json(src));
  EXPECT_EQ(j["source"], "memory");
  ASSERT_EQ(j["count"], 2u);
  const auto& o = j["origins"];
  EXPECT_EQ(o[0]["key"], a_.redis_key());
  EXPECT_EQ(o[0]["alive"], true);
  EXPECT_EQ(o[0]["streams"], 1u);
  EXPECT_EQ(o[0]["update_at"], "2026-12-06T07:00:00.000000000Z");
  EXPECT_EQ(o[0]["address"], "198.18.1.2:10080");
  EXPECT_EQ(o[0]["static"], false);
  EXPECT_EQ(o[1]["key"], b_.redis_key());
  EXPECT_EQ(o[1]["streams"], 1u);
  EXPECT_EQ(o[1]["static"], true);

  // As Redis shows a listed origin whose record expired.
  OriginState gone;
  gone.key = "srs-proxy-server:gone-svc-1";
  src.origins.push_back(gone);
  src.origins[0].ttl_s = 287;
  const json k = json::parse(origins_json(src));
  ASSERT_EQ(k["count"], 3u);
  EXPECT_EQ(k["origins"][0]["ttl_s"], 287);
  EXPECT_TRUE(k["origins"][1]["ttl_s"].is_null());
  const auto& g = k["origins"][2];
  EXPECT_EQ(g["key"], "srs-proxy-server:gone-svc-1");
  EXPECT_EQ(g["alive"], false);
  EXPECT_EQ(g["streams"], 1u);
  EXPECT_TRUE(g["update_at"].is_null());
}

TEST(StreamsViewEmpty, NoStreamsNoOrigins) {
  const json j = json::parse(streams_json(StreamsSource{"memory", {}, {}, false}, {}));
  EXPECT_EQ(j["count"], 0u);
  EXPECT_TRUE(j["streams"].is_array());
  const json k = json::parse(origins_json(StreamsSource{"memory", {}, {}, false}));
  EXPECT_TRUE(k["origins"].is_array());
  EXPECT_EQ(k["count"], 0u);
}

// Whatever a shared store holds (another proxy's bytes), the JSON is valid.
TEST(StreamsViewEmpty, BadBytesStayValidJson) {
  StreamsSource src{
      "redis 127.0.0.1:6379", {{"live/\xff\xfe", "srs-proxy-server:\xc0"}}, {}, false};
  OriginState o;
  o.key = "srs-proxy-server:\xc0";
  src.origins.push_back(o);
  EXPECT_NO_THROW(json::parse(streams_json(src, {})));
  EXPECT_NO_THROW(json::parse(origins_json(src)));
}

}  // namespace
}  // namespace srtfwd::admin

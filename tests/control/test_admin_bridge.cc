#include "srtfwd/control/admin_bridge.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

namespace srtfwd::control {
namespace {

TEST(AdminBridge, RegistrationsCrossThreadsInOrder) {
  AdminBridge bridge;
  std::thread admin([&] {
    for (int i = 0; i < 100; ++i) {
      ServerInfo s;
      s.server_id = std::to_string(i);
      EXPECT_TRUE(bridge.post_register(std::move(s)));
    }
  });
  std::vector<ServerInfo> got;
  while (got.size() < 100) {
    auto batch = bridge.take_registrations();
    got.insert(got.end(), batch.begin(), batch.end());
  }
  admin.join();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i].server_id, std::to_string(i));
  EXPECT_TRUE(bridge.take_registrations().empty());
}

TEST(AdminBridge, QueueIsBounded) {
  AdminBridge bridge;
  for (size_t i = 0; i < AdminBridge::kMaxQueuedRegistrations; ++i)
    ASSERT_TRUE(bridge.post_register({}));
  EXPECT_FALSE(bridge.post_register({}));
  EXPECT_EQ(bridge.take_registrations().size(), AdminBridge::kMaxQueuedRegistrations);
  EXPECT_TRUE(bridge.post_register({}));
}

TEST(AdminBridge, Snapshots) {
  AdminBridge bridge;
  EXPECT_EQ(bridge.sessions_json(), "[]");
  EXPECT_EQ(bridge.backends_json(), "[]");
  EXPECT_EQ(bridge.snapshot().published, 0u);
  bridge.publish(R"([{"id":1}])", "[]", "memory", bridge.requests());
  auto snap = bridge.snapshot();
  EXPECT_EQ(snap.sessions_json, R"([{"id":1}])");
  EXPECT_EQ(snap.balancer_state, "memory");
  EXPECT_EQ(snap.published, 1u);
}

// A GET must not be answered with a snapshot older than itself: the one
// published before the request is not enough, nor one the control lcore
// began building before the request (as_of < the request's number).
TEST(AdminBridge, FreshSnapshotWaitsForAPublishBegunAfterTheRequest) {
  AdminBridge bridge;
  bridge.publish("old", "[]", "memory", bridge.requests());
  EXPECT_FALSE(bridge.wanted());
  std::atomic<bool> done{false};
  AdminBridge::Snapshot got;
  std::thread admin([&] {
    got = bridge.fresh_snapshot(std::chrono::seconds(10));
    done = true;
  });
  while (!bridge.wanted()) std::this_thread::yield();
  const uint64_t before_request = bridge.requests() - 1;  // built before the GET
  bridge.publish("stale", "[]", "memory", before_request);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load()) << "answered with a snapshot begun before the request";
  EXPECT_TRUE(bridge.wanted());
  bridge.publish("new", "[]", "memory", bridge.requests());
  admin.join();
  EXPECT_TRUE(got.fresh);
  EXPECT_EQ(got.sessions_json, "new");
  EXPECT_FALSE(bridge.wanted());
}

TEST(AdminBridge, FreshSnapshotGivesTheLatestWhenControlDoesNotPublish) {
  AdminBridge bridge;
  bridge.publish("latest", "[]", "memory", bridge.requests());
  auto snap = bridge.fresh_snapshot(std::chrono::milliseconds(20));
  EXPECT_FALSE(snap.fresh);
  EXPECT_EQ(snap.sessions_json, "latest");
  EXPECT_TRUE(bridge.wanted());
}

// The streams state is built on request only, travels with the next
// publish, and stays until a newer one replaces it.
TEST(AdminBridge, StreamsStateOnRequest) {
  AdminBridge b;
  EXPECT_FALSE(b.take_streams_request());
  EXPECT_TRUE(b.snapshot().streams->sessions.empty());
  b.request_streams();
  b.request_streams();  // two requests before the control lcore looks: one build
  EXPECT_TRUE(b.take_streams_request());
  EXPECT_FALSE(b.take_streams_request());

  StreamsState st;
  st.sessions.push_back({7, "__defaultVhost__/live/a", srt::Mode::Publish, "srs-proxy-server:o",
                         "198.18.0.2:5000", 1});
  st.mappings.push_back({"__defaultVhost__/live/a", "srs-proxy-server:o"});
  b.set_streams(std::move(st));
  EXPECT_TRUE(b.snapshot().streams->sessions.empty());  // not before the publish
  b.publish("[]", "[]", "memory", b.requests());
  auto snap = b.snapshot();
  ASSERT_EQ(snap.streams->sessions.size(), 1u);
  EXPECT_EQ(snap.streams->sessions[0].session, 7u);
  ASSERT_EQ(snap.streams->mappings.size(), 1u);
  // A publish without a new streams state keeps the last one.
  b.publish("[]", "[]", "memory", b.requests());
  EXPECT_EQ(b.snapshot().streams->sessions.size(), 1u);
  EXPECT_EQ(b.snapshot().streams, snap.streams);
}

TEST(AdminBridge, ServersToJson) {
  EXPECT_EQ(servers_to_json({}), "[]");
  ServerInfo a, b;
  a.server_id = "a";
  b.server_id = "b";
  auto j = nlohmann::json::parse(servers_to_json({a, b}));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["server_id"], "b");
}

}  // namespace
}  // namespace srtfwd::control

// HookClient against a real HTTP server on loopback (cpp-httplib): a 0
// body allows, another answer denies, a closed port and a hook slower than
// timeout_ms are errors, and no more than max_in_flight calls are out.
#include "srtfwd/control/hook_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace srtfwd::control {
namespace {

using namespace std::chrono_literals;

class HookClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Post("/ok", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("0", "text/plain");
    });
    server_.Post("/json", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(
          req.body.find("\"allow\"") != std::string::npos ? R"({"code":0})" : R"({"code":403})",
          "application/json");
    });
    server_.Post("/forbidden",
                 [](const httplib::Request&, httplib::Response& res) { res.status = 403; });
    server_.Post("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(400ms);
      res.set_content("0", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url(const char* path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Polls until n results arrived (or 3 s).
  static std::vector<HookClient::Result> wait(HookClient& c, size_t n) {
    std::vector<HookClient::Result> out;
    for (int i = 0; i < 300 && out.size() < n; ++i) {
      c.poll(out);
      if (out.size() < n) std::this_thread::sleep_for(10ms);
    }
    return out;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(HookClientTest, AnswersAreReadAsSrsReadsThem) {
  HookOptions o;
  HookClient c(o);
  ASSERT_TRUE(c.post(1, {url("/ok"), "{}"}));
  ASSERT_TRUE(c.post(2, {url("/forbidden"), "{}"}));
  ASSERT_TRUE(c.post(3, {url("/json"), R"({"x":"allow"})"}));
  ASSERT_TRUE(c.post(4, {url("/json"), R"({"x":"no"})"}));
  auto r = wait(c, 4);
  ASSERT_EQ(r.size(), 4u);
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.ticket < b.ticket; });
  EXPECT_EQ(r[0].verdict, HookVerdict::kAllowed);
  EXPECT_EQ(r[1].verdict, HookVerdict::kDenied);
  EXPECT_EQ(r[1].detail, "HTTP 403");
  EXPECT_EQ(r[2].verdict, HookVerdict::kAllowed);
  EXPECT_EQ(r[3].verdict, HookVerdict::kDenied);
}

TEST_F(HookClientTest, DownOrSlowHookIsAnError) {
  HookOptions o;
  o.timeout_ms = 100;
  HookClient c(o);
  const int closed = port_;
  server_.stop();
  thread_.join();
  ASSERT_TRUE(c.post(1, {"http://127.0.0.1:" + std::to_string(closed) + "/ok", "{}"}));
  auto r = wait(c, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].verdict, HookVerdict::kError);
}

TEST_F(HookClientTest, SlowerThanTheTimeoutIsAnError) {
  HookOptions o;
  o.timeout_ms = 100;
  HookClient c(o);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.post(1, {url("/slow"), "{}"}));
  auto r = wait(c, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].verdict, HookVerdict::kError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 390ms);  // timeout_ms and a 200 ms grace
}

TEST_F(HookClientTest, NoMoreThanMaxInFlight) {
  HookOptions o;
  o.max_in_flight = 2;
  HookClient c(o);
  EXPECT_TRUE(c.post(1, {url("/slow"), "{}"}));
  EXPECT_TRUE(c.post(2, {url("/slow"), "{}"}));
  EXPECT_FALSE(c.post(3, {url("/ok"), "{}"}));
  EXPECT_EQ(wait(c, 2).size(), 2u);
  EXPECT_TRUE(c.post(4, {url("/ok"), "{}"}));  // room again
  EXPECT_EQ(wait(c, 1).size(), 1u);
}

TEST(HookClientUrl, OnlyHttpUrlsWithAHost) {
  std::string o, p;
  EXPECT_TRUE(HookClient::split_url("http://127.0.0.1:8085/api/v1/publish?x=1", &o, &p));
  EXPECT_EQ(o, "http://127.0.0.1:8085");
  EXPECT_EQ(p, "/api/v1/publish?x=1");
  EXPECT_TRUE(HookClient::split_url("http://hooks.example", &o, &p));
  EXPECT_EQ(p, "/");
  EXPECT_FALSE(HookClient::split_url("https://hooks.example/x", &o, &p));
  EXPECT_FALSE(HookClient::split_url("http:///x", &o, &p));
  EXPECT_FALSE(HookClient::split_url("hooks.example/x", &o, &p));
}

}  // namespace
}  // namespace srtfwd::control

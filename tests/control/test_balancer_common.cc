// The server record, the SRS heartbeat body and listen endpoints, against
// what the SRS Go proxy writes and what SRS sends.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "srtfwd/control/balancer.h"

namespace srtfwd::control {
namespace {

// A server as the Go proxy stores it under srs-proxy-server:{id}
// (json.Marshal of SRSServer in proxy/srs.go: struct order, omitempty on
// strings and lists, update_at a time.Time in RFC 3339 with nanoseconds),
// for the origin of the register example in the proxy's README.
constexpr const char* kGoServerJson =
    R"({"ip":"10.78.122.184","device_id":"origin2","server_id":"vid-46p14mm",)"
    R"("service_id":"z2s3w865","pid":"42583","rtmp":["19352"],"http":["8082"],)"
    R"("api":["19853"],"srt":["10082"],"rtc":["udp://0.0.0.0:8001"],)"
    R"("update_at":"2024-09-05T10:43:01.681187+08:00"})";

// The register example of the Go proxy's README, which SRS 5+ sends as its
// heartbeat (trunk/src/app/srs_app_heartbeat.cpp), with the extra fields
// SRS adds (summaries, rtsp) that the proxy ignores.
constexpr const char* kHeartbeat = R"({
  "device_id": "origin2",
  "ip": "10.78.122.184",
  "server": "vid-46p14mm",
  "service": "z2s3w865",
  "pid": "42583",
  "rtmp": ["19352"],
  "http": ["8082"],
  "api": ["19853"],
  "srt": ["10082"],
  "rtsp": ["554"],
  "rtc": ["udp://0.0.0.0:8001"],
  "summaries": {"ok": true, "data": {"pid": 42583}}
})";

TEST(ServerJson, ReadsWhatTheGoProxyWrites) {
  std::string error;
  auto s = server_from_json(kGoServerJson, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->ip, "10.78.122.184");
  EXPECT_EQ(s->device_id, "origin2");
  EXPECT_EQ(s->server_id, "vid-46p14mm");
  EXPECT_EQ(s->service_id, "z2s3w865");
  EXPECT_EQ(s->pid, "42583");
  EXPECT_EQ(s->rtmp, std::vector<std::string>{"19352"});
  EXPECT_EQ(s->srt, std::vector<std::string>{"10082"});
  EXPECT_EQ(s->rtc, std::vector<std::string>{"udp://0.0.0.0:8001"});
  EXPECT_EQ(s->update_at, "2024-09-05T10:43:01.681187+08:00");
  EXPECT_EQ(s->redis_key(), "srs-proxy-server:vid-46p14mm-z2s3w865-42583");
  auto ep = s->srt_endpoint();
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->first.to_string(), "10.78.122.184");
  EXPECT_EQ(ep->second, 10082);
}

TEST(ServerJson, WritesByteForByteWhatTheGoProxyWrites) {
  auto s = server_from_json(kGoServerJson, nullptr);
  ASSERT_TRUE(s);
  EXPECT_EQ(to_json(*s), kGoServerJson);
}

TEST(ServerJson, OmitsEmptyFieldsAsGoOmitempty) {
  ServerInfo s;
  s.ip = "198.18.1.2";
  s.server_id = "a";
  s.service_id = "b";
  s.pid = "7";
  s.srt = {"10080"};
  // Go writes a zero time.Time, never nothing: it must unmarshal it back.
  EXPECT_EQ(to_json(s),
            R"({"ip":"198.18.1.2","server_id":"a","service_id":"b","pid":"7","srt":["10080"],)"
            R"("update_at":"0001-01-01T00:00:00Z"})");
}

TEST(ServerJson, RoundTripsEveryField) {
  ServerInfo s;
  s.ip = "2001:db8::2";
  s.device_id = "d";
  s.server_id = "srv";
  s.service_id = "svc";
  s.pid = "1";
  s.rtmp = {"1935", "tcp://:1936"};
  s.http = {"8080"};
  s.api = {"1985"};
  s.srt = {"udp://[2001:db8::3]:10080"};
  s.rtc = {"udp://:8000"};
  s.update_at = "2025-01-01T00:00:00Z";
  auto back = server_from_json(to_json(s), nullptr);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ip, s.ip);
  EXPECT_EQ(back->rtmp, s.rtmp);
  EXPECT_EQ(back->srt, s.srt);
  EXPECT_EQ(back->update_at, s.update_at);
  EXPECT_EQ(back->redis_key(), s.redis_key());
  auto ep = back->srt_endpoint();
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->first.to_string(), "2001:db8::3");  // an explicit address wins over ip
}

TEST(ServerJson, RefusesHostileInputWithoutThrowing) {
  const char* bad[] = {
      "",
      "not json",
      "[]",
      "42",
      R"({"ip": 1})",
      R"({"pid": 42583})",  // Go's PID is a string: a number fails there too
      R"({"srt": "10080"})",
      R"({"srt": [10080]})",
      R"({"srt": [["x"]]})",
      R"({"server_id": "a\nb"})",
      "{\"ip\":\"\xff\xfe\"}",  // invalid UTF-8
      R"({"ip": "1.2.3.4")",
  };
  for (const char* text : bad) {
    std::string error;
    EXPECT_FALSE(server_from_json(text, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
  std::string huge = R"({"srt":[)";
  for (int i = 0; i < 1000; ++i) huge += std::string(i ? "," : "") + "\"1\"";
  huge += "]}";
  EXPECT_FALSE(server_from_json(huge, nullptr));
  std::string deep(100000, '[');
  EXPECT_FALSE(server_from_json(deep, nullptr));
}

TEST(ServerJson, NullFieldsAreAbsent) {
  auto s = server_from_json(R"({"ip":null,"srt":null,"server_id":"x"})", nullptr);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ip.empty());
  EXPECT_TRUE(s->srt.empty());
  EXPECT_FALSE(s->srt_endpoint());
}

TEST(RegisterBody, ParsesTheSrsHeartbeat) {
  std::string error;
  auto s = server_from_register_body(kHeartbeat, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->server_id, "vid-46p14mm");
  EXPECT_EQ(s->service_id, "z2s3w865");
  EXPECT_EQ(s->pid, "42583");
  EXPECT_EQ(s->device_id, "origin2");
  EXPECT_EQ(s->api, std::vector<std::string>{"19853"});
  EXPECT_EQ(s->redis_key(), "srs-proxy-server:vid-46p14mm-z2s3w865-42583");
  // Stamped now, in a form Go's time.Time reads (RFC 3339, UTC).
  ASSERT_EQ(s->update_at.size(), 30u) << s->update_at;
  EXPECT_EQ(s->update_at[10], 'T');
  EXPECT_EQ(s->update_at.back(), 'Z');
  // The record we store is the Go proxy's, with server_id / service_id.
  auto j = nlohmann::json::parse(to_json(*s));
  EXPECT_EQ(j["server_id"], "vid-46p14mm");
  EXPECT_EQ(j["service_id"], "z2s3w865");
  EXPECT_FALSE(j.contains("server"));
  EXPECT_FALSE(j.contains("summaries"));
}

TEST(RegisterBody, MandatoryFieldsAsTheGoProxy) {
  struct Case {
    const char* body;
    const char* error;
  } cases[] = {
      {"", "empty ip"},
      {"{}", "empty ip"},
      {R"({"ip":"1.2.3.4"})", "empty server"},
      {R"({"ip":"1.2.3.4","server":"s"})", "empty service"},
      {R"({"ip":"1.2.3.4","server":"s","service":"v"})", "empty pid"},
      {R"({"ip":"1.2.3.4","server":"s","service":"v","pid":"1"})", "empty rtmp"},
      {R"({"ip":"1.2.3.4","server":"s","service":"v","pid":"1","rtmp":[]})", "empty rtmp"},
      // The stored record's names are not the heartbeat's.
      {R"({"ip":"1.2.3.4","server_id":"s","service_id":"v","pid":"1","rtmp":["1935"]})",
       "empty server"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(server_from_register_body(c.body, &error)) << c.body;
    EXPECT_EQ(error, c.error) << c.body;
  }
  EXPECT_TRUE(server_from_register_body(
      R"({"ip":"1.2.3.4","server":"s","service":"v","pid":"1","rtmp":["1935"]})", nullptr));
}

TEST(RegisterBody, RefusesWrongTypes) {
  const char* bad[] = {
      R"({"ip":"1.2.3.4","server":"s","service":"v","pid":1,"rtmp":["1935"]})",
      R"({"ip":"1.2.3.4","server":"s","service":"v","pid":"1","rtmp":"1935"})",
      R"({"ip":"1.2.3.4","server":"s","service":"v","pid":"1","rtmp":["1935"],"srt":{}})",
      R"(["ip"])",
      "{",
  };
  for (const char* b : bad) {
    std::string error;
    EXPECT_FALSE(server_from_register_body(b, &error)) << b;
    EXPECT_FALSE(error.empty());
  }
}

TEST(ListenEndpoint, Forms) {
  using R = std::optional<std::pair<std::string, uint16_t>>;
  struct Case {
    const char* text;
    R want;
  } cases[] = {
      {"10080", R{{"", 10080}}},
      {"udp://:10080", R{{"", 10080}}},
      {"udp://10080", R{{"", 10080}}},
      {"udp://1.2.3.4:10080", R{{"1.2.3.4", 10080}}},
      {"udp://0.0.0.0:8001", R{{"0.0.0.0", 8001}}},
      {"udp://[2001:db8::1]:10080", R{{"2001:db8::1", 10080}}},
      {"[::]:10080", R{{"::", 10080}}},
      {"1.2.3.4:10080", R{{"1.2.3.4", 10080}}},
      {"udp:1.2.3.4:10080", R{{"1.2.3.4", 10080}}},  // the Go proxy's legacy form
      {"tcp://:1935", R{{"", 1935}}},
      {"65535", R{{"", 65535}}},
      {"", std::nullopt},
      {"0", std::nullopt},
      {"65536", std::nullopt},
      {"100000", std::nullopt},
      {"-1", std::nullopt},
      {"+80", std::nullopt},
      {"udp://", std::nullopt},
      {"udp://:", std::nullopt},
      {"udp://1.2.3.4", std::nullopt},
      {"udp://1.2.3.4:x", std::nullopt},
      {"udp://2001:db8::1:10080", std::nullopt},  // unbracketed IPv6
      {"udp://[2001:db8::1]", std::nullopt},
      {"udp://[2001:db8::1:10080", std::nullopt},
      {"u dp://:1", std::nullopt},
      {"://:1", std::nullopt},
      {"10080 ", std::nullopt},
      {"a:b:c:d", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_listen_endpoint(c.text), c.want) << c.text;
}

TEST(SrtEndpoint, AddressChoice) {
  ServerInfo s;
  s.ip = "198.18.1.2";
  EXPECT_FALSE(s.srt_endpoint());  // no SRT listener
  s.srt = {"10080"};
  EXPECT_EQ(s.srt_endpoint()->first.to_string(), "198.18.1.2");
  s.srt = {"udp://0.0.0.0:10081"};  // every address: reached on ip
  EXPECT_EQ(s.srt_endpoint()->first.to_string(), "198.18.1.2");
  EXPECT_EQ(s.srt_endpoint()->second, 10081);
  s.srt = {"udp://198.18.1.9:10082"};
  EXPECT_EQ(s.srt_endpoint()->first.to_string(), "198.18.1.9");
  s.srt = {"junk"};
  EXPECT_FALSE(s.srt_endpoint());
  s.srt = {"10080"};
  s.ip = "origin.example.com";  // a name: we have no resolver on the control lcore
  EXPECT_FALSE(s.srt_endpoint());
  s.ip = "0.0.0.0";
  EXPECT_FALSE(s.srt_endpoint());
}

}  // namespace
}  // namespace srtfwd::control

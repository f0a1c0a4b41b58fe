// parse_endpoint(): every form, and each way an endpoint can be wrong with
// the error that names it.
#include <gtest/gtest.h>

#include "srtfwd/net/endpoint.h"

namespace srtfwd::net {
namespace {

constexpr EndpointForms kStrict{};
constexpr EndpointForms kAll{.empty_host = true, .port_only = true};

TEST(Endpoint, Accepted) {
  struct Case {
    const char* text;
    EndpointForms forms;
    Endpoint want;
  } cases[] = {
      {"127.0.0.1:6379", kStrict, {"127.0.0.1", 6379}},
      {"redis.example:6379", kStrict, {"redis.example", 6379}},
      {"[::1]:6380", kStrict, {"::1", 6380}},
      {"[2001:2::1]:1", kStrict, {"2001:2::1", 1}},
      {"0.0.0.0:65535", kStrict, {"0.0.0.0", 65535}},
      {":10080", kAll, {"", 10080}},
      {"10080", kAll, {"", 10080}},
      {"[::]:10080", kAll, {"::", 10080}},
      {"h:00080", kStrict, {"h", 80}},
  };
  for (const auto& c : cases) {
    std::string error;
    const auto got = parse_endpoint(c.text, c.forms, &error);
    ASSERT_TRUE(got) << c.text << ": " << error;
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(Endpoint, Refused) {
  struct Case {
    const char* text;
    EndpointForms forms;
    const char* error;  // a part of the message
  } cases[] = {
      {"", kAll, "is empty"},
      {"127.0.0.1", kStrict, "no port"},
      {"10080", kStrict, "no port"},
      {":10080", kStrict, "no host"},
      {"127.0.0.1:", kAll, "port 1-65535"},
      {"127.0.0.1:0", kAll, "port 1-65535"},
      {"127.0.0.1:65536", kAll, "port 1-65535"},
      {"127.0.0.1:100000", kAll, "port 1-65535"},
      {"127.0.0.1:-1", kAll, "port 1-65535"},
      {"127.0.0.1:+80", kAll, "port 1-65535"},
      {"127.0.0.1:80x", kAll, "port 1-65535"},
      {"127.0.0.1:80 ", kAll, "port 1-65535"},
      {"x", kAll, "port 1-65535"},
      {"0", kAll, "port 1-65535"},
      {"::1:6379", kAll, "without brackets"},
      {"2001:2::1", kAll, "without brackets"},
      {"[::1]", kAll, "no :PORT"},
      {"[::1]6379", kAll, "no :PORT"},
      {"[::1:6379", kAll, "no ']'"},
      {"[]:6379", kAll, "empty host"},
      {"[[::1]:6379", kAll, "stray"},
      {"a]:6379", kAll, "stray"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(parse_endpoint(c.text, c.forms, &error)) << c.text;
    EXPECT_NE(error.find(c.error), std::string::npos) << c.text << ": " << error;
  }
  // No error string asked for: still refused, nothing written.
  EXPECT_FALSE(parse_endpoint("nope", kStrict));
}

TEST(Endpoint, Port) {
  EXPECT_EQ(parse_port("1"), 1);
  EXPECT_EQ(parse_port("65535"), 65535);
  EXPECT_FALSE(parse_port(""));
  EXPECT_FALSE(parse_port("0"));
  EXPECT_FALSE(parse_port("65536"));
  EXPECT_FALSE(parse_port("000080"));  // six digits
  EXPECT_FALSE(parse_port(" 80"));
}

}  // namespace
}  // namespace srtfwd::net

// The /register token check: who may register an origin.
#include "srtfwd/admin/register_auth.h"

#include <gtest/gtest.h>

#include <string>

namespace srtfwd::admin {
namespace {

TEST(ConstantTimeEqual, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("s3cret", "s3cret"));
  EXPECT_FALSE(constant_time_equal("s3cret", "s3cre"));
  EXPECT_FALSE(constant_time_equal("s3cre", "s3cret"));
  EXPECT_FALSE(constant_time_equal("s3cret", "S3cret"));
  EXPECT_FALSE(constant_time_equal("s3cret", ""));
  // A NUL inside is a byte like any other, not an end.
  EXPECT_FALSE(constant_time_equal(std::string("ab\0c", 4), std::string("ab\0d", 4)));
  EXPECT_FALSE(constant_time_equal(std::string("ab\0", 3), "ab"));
}

TEST(BearerToken, TakesTheSchemeInAnyCase) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER \t abc  "), "abc");
  EXPECT_EQ(bearer_token("Basic YWJjOmRlZg=="), "");
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token("Bearer "), "");
  EXPECT_EQ(bearer_token("Bearerabc"), "");
  EXPECT_EQ(bearer_token("abc"), "");
  EXPECT_EQ(bearer_token(""), "");
}

TEST(RegisterAuthorized, OpenWithoutAToken) {
  const std::string q = "anything", h = "Bearer x";
  EXPECT_TRUE(register_authorized("", nullptr, nullptr));
  EXPECT_TRUE(register_authorized("", &q, &h));
}

TEST(RegisterAuthorized, TheTokenInTheQueryOrTheHeader) {
  const std::string want = "tok-123";
  const std::string good = "tok-123", bad = "tok-124", empty;
  const std::string bearer = "Bearer tok-123", wrong_bearer = "Bearer tok-12",
                    basic = "Basic tok-123";
  EXPECT_FALSE(register_authorized(want, nullptr, nullptr));
  EXPECT_TRUE(register_authorized(want, &good, nullptr));
  EXPECT_FALSE(register_authorized(want, &bad, nullptr));
  EXPECT_FALSE(register_authorized(want, &empty, nullptr));
  EXPECT_TRUE(register_authorized(want, nullptr, &bearer));
  EXPECT_FALSE(register_authorized(want, nullptr, &wrong_bearer));
  EXPECT_FALSE(register_authorized(want, nullptr, &basic));
  // Either one that carries it is enough.
  EXPECT_TRUE(register_authorized(want, &bad, &bearer));
  EXPECT_TRUE(register_authorized(want, &good, &wrong_bearer));
  EXPECT_FALSE(register_authorized(want, &bad, &wrong_bearer));
  // The path form (an SRS heartbeat's url).
  EXPECT_TRUE(register_authorized(want, nullptr, nullptr, &good));
  EXPECT_FALSE(register_authorized(want, nullptr, nullptr, &bad));
  EXPECT_FALSE(register_authorized(want, nullptr, nullptr, &empty));
  EXPECT_TRUE(register_authorized(want, &bad, &wrong_bearer, &good));
}

}  // namespace
}  // namespace srtfwd::admin

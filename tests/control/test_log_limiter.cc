#include "srtfwd/control/log_limiter.h"

#include <gtest/gtest.h>

using srtfwd::control::LogLimiter;

TEST(LogLimiter, AllowsTheLimitPerSecondThenReportsWhatItLeftOut) {
  LogLimiter l(3);
  uint64_t sup = 99;
  const uint64_t t0 = 5000;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(l.allow(t0 + i, &sup));
    EXPECT_EQ(sup, 0u);
  }
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(l.allow(t0 + 10 + i, &sup));
  EXPECT_FALSE(l.allow(t0 + 999, &sup));  // still the same second
  ASSERT_TRUE(l.allow(t0 + 1000, &sup));  // a new second
  EXPECT_EQ(sup, 8u);
  ASSERT_TRUE(l.allow(t0 + 1001, &sup));
  EXPECT_EQ(sup, 0u);  // reported once
}

TEST(LogLimiter, QuietPeriodsAllowAgain) {
  LogLimiter l(1);
  uint64_t sup = 0;
  EXPECT_TRUE(l.allow(uint64_t{1} << 40, &sup));
  EXPECT_FALSE(l.allow((uint64_t{1} << 40) + 1, &sup));
  EXPECT_TRUE(l.allow((uint64_t{1} << 40) + 60000, &sup));
  EXPECT_EQ(sup, 1u);
}

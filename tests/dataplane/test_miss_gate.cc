// The workers' miss gate (dataplane/miss_gate.h): closed unless a budget is
// set; then a burst and a steady rate, over the TSC.
#include <gtest/gtest.h>

#include "srtfwd/dataplane/miss_gate.h"

namespace srtfwd::dataplane {
namespace {

constexpr uint64_t kHz = 1'000'000'000;  // 1 GHz: one cycle is 1 ns

TEST(MissGate, ClosedWithoutBudget) {
  MissGate g;
  EXPECT_FALSE(g.open());
  g.set(0, kHz);
  EXPECT_FALSE(g.open());
}

TEST(MissGate, BurstThenRate) {
  MissGate g;
  g.set(100, kHz);  // one token per 10 ms, a burst of 32
  ASSERT_TRUE(g.open());
  const uint64_t t0 = 5 * kHz;
  unsigned passed = 0;
  for (int i = 0; i < 1000; ++i) passed += g.take(t0);
  EXPECT_EQ(passed, MissGate::kMaxBurst);
  // Nothing more until a token's time has passed, then one.
  EXPECT_FALSE(g.take(t0 + kHz / 1000));
  EXPECT_TRUE(g.take(t0 + kHz / 100));
  EXPECT_FALSE(g.take(t0 + kHz / 100));
  // Over ten seconds of a flood, the rate: 100 a second (and the burst).
  passed = 0;
  const uint64_t t1 = t0 + kHz;
  for (uint64_t t = t1; t < t1 + 10 * kHz; t += kHz / 10000) passed += g.take(t);
  EXPECT_GE(passed, 1000u);
  EXPECT_LE(passed, 1000u + MissGate::kMaxBurst);
}

TEST(MissGate, SmallBudgetSmallBurst) {
  MissGate g;
  g.set(2, kHz);
  unsigned passed = 0;
  for (int i = 0; i < 10; ++i) passed += g.take(kHz);
  EXPECT_EQ(passed, 2u);
}

}  // namespace
}  // namespace srtfwd::dataplane

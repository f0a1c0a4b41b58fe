// Caller NAT rebinding's decisions (control/rebinding.h): which packets of an
// unknown 4-tuple may move the session their socket ID names, by rule and by
// rate.
#include "srtfwd/control/rebinding.h"

#include <gtest/gtest.h>

namespace srtfwd::control {
namespace {

constexpr uint64_t kHz = 1'000'000'000;  // TSC of 1 GHz
const net::IpAddr kCaller = *net::IpAddr::parse("198.18.0.2");
const net::IpAddr kOther = *net::IpAddr::parse("198.18.0.3");
const net::IpAddr kVip = *net::IpAddr::parse("198.18.0.1");
constexpr uint32_t kSocket = 0x1234abcd;

TEST(Rebinding, OffDecidesNothing) {
  Rebinding r(FollowRebinding::kOff, 100, kHz);
  EXPECT_FALSE(r.enabled());
  r.add(kSocket, 3, kCaller, kVip, 10080);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_FALSE(r.decide(kSocket, kCaller, kVip, 10080, kHz).move);
}

TEST(Rebinding, SameIpMovesOnlyFromTheCallersAddress) {
  Rebinding r(FollowRebinding::kSameIp, 100, kHz);
  r.add(kSocket, 3, kCaller, kVip, 10080);
  // Another address: the rule.
  auto d = r.decide(kSocket, kOther, kVip, 10080, kHz);
  EXPECT_FALSE(d.move);
  EXPECT_EQ(d.refusal, RebindRefusal::kRule);
  // An ID no session has, or a session's ID to another listener port or address.
  EXPECT_EQ(r.decide(kSocket + 1, kCaller, kVip, 10080, kHz).refusal,
            RebindRefusal::kUnknownSocket);
  EXPECT_EQ(r.decide(kSocket, kCaller, kVip, 10081, kHz).refusal, RebindRefusal::kUnknownSocket);
  EXPECT_EQ(r.decide(kSocket, kCaller, kOther, 10080, kHz).refusal, RebindRefusal::kUnknownSocket);
  // The caller's address (a new port): moves.
  d = r.decide(kSocket, kCaller, kVip, 10080, kHz);
  EXPECT_TRUE(d.move);
  EXPECT_EQ(d.session, 3u);
}

TEST(Rebinding, AnyIpMovesFromAnyAddressAndFollowsTheMove) {
  Rebinding r(FollowRebinding::kAnyIp, 100, kHz);
  r.add(kSocket, 3, kCaller, kVip, 10080);
  auto d = r.decide(kSocket, kOther, kVip, 10080, kHz);
  ASSERT_TRUE(d.move);
  r.moved(kSocket, 3, kOther);
  // Under same_ip rules the recorded caller is now the new address.
  Rebinding s(FollowRebinding::kSameIp, 100, kHz);
  s.add(kSocket, 3, kCaller, kVip, 10080);
  ASSERT_TRUE(s.decide(kSocket, kCaller, kVip, 10080, kHz).move);
  s.moved(kSocket, 3, kCaller);
  EXPECT_EQ(s.decide(kSocket, kOther, kVip, 10080, 3 * kHz).refusal, RebindRefusal::kRule);
}

TEST(Rebinding, OneMovePerSessionPerInterval) {
  Rebinding r(FollowRebinding::kSameIp, 100, kHz);
  r.add(kSocket, 3, kCaller, kVip, 10080);
  const uint64_t t0 = 10 * kHz;
  ASSERT_TRUE(r.decide(kSocket, kCaller, kVip, 10080, t0).move);
  // Flip-flopping back within the interval: rate.
  auto d = r.decide(kSocket, kCaller, kVip, 10080, t0 + kHz / 2);
  EXPECT_FALSE(d.move);
  EXPECT_EQ(d.refusal, RebindRefusal::kRate);
  EXPECT_TRUE(r.decide(kSocket, kCaller, kVip, 10080, t0 + kHz).move);
}

TEST(Rebinding, GlobalBudgetAcrossSessions) {
  Rebinding r(FollowRebinding::kAnyIp, 2, kHz);  // 2 a second, a burst of 2
  for (uint32_t i = 0; i < 10; ++i) r.add(kSocket + i, i, kCaller, kVip, 10080);
  const uint64_t t0 = 10 * kHz;
  unsigned moved = 0, rate = 0;
  for (uint32_t i = 0; i < 10; ++i) {
    const auto d = r.decide(kSocket + i, kOther, kVip, 10080, t0);
    moved += d.move;
    rate += !d.move && d.refusal == RebindRefusal::kRate;
  }
  EXPECT_EQ(moved, 2u);
  EXPECT_EQ(rate, 8u);
  EXPECT_TRUE(r.decide(kSocket + 5, kOther, kVip, 10080, t0 + kHz).move);
}

TEST(Rebinding, CollidingIdsOfTwoOriginsAndRemoval) {
  Rebinding r(FollowRebinding::kSameIp, 100, kHz);
  r.add(kSocket, 3, kOther, kVip, 10080);  // another caller's session, same origin ID
  r.add(kSocket, 4, kCaller, kVip, 10080);
  auto d = r.decide(kSocket, kCaller, kVip, 10080, kHz);
  ASSERT_TRUE(d.move);
  EXPECT_EQ(d.session, 4u);
  r.remove(kSocket, 4);
  r.remove(kSocket, 3);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.decide(kSocket, kCaller, kVip, 10080, 5 * kHz).refusal,
            RebindRefusal::kUnknownSocket);
}

}  // namespace
}  // namespace srtfwd::control

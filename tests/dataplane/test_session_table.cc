// The session table's record bookkeeping (session_table.h): the dense list
// of live records that the control lcore's sweep and the admin snapshot walk
// must always hold exactly the records in use, through any churn. Runs on a
// real EAL (--no-huge): the table's memory comes from rte_malloc.
#include "srtfwd/dataplane/session_table.h"

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_memory.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace srtfwd::dataplane {
namespace {

SessionSpec spec_of(uint32_t i) {
  SessionSpec s;
  s.caller_ip = net::IpAddr::from_v4_host(0xC6120002u + (i >> 16));  // 198.18.0.2 + ...
  s.vip = *net::IpAddr::parse("198.18.0.1");
  s.caller_udp = static_cast<uint16_t>(i);
  s.vip_udp = 10080;
  s.backend_ip = *net::IpAddr::parse("198.18.1.2");
  s.leg_ip = *net::IpAddr::parse("198.18.1.1");
  s.backend_udp = 10080;
  s.leg_udp = static_cast<uint16_t>(i);
  s.backend_port_id = 1;
  return s;
}

std::set<uint32_t> live_set(const SessionTable& t) {
  std::set<uint32_t> s;
  for (uint32_t i = 0; i < t.live_count(); ++i) s.insert(t.live_index(i));
  return s;
}

std::set<uint32_t> in_use_by_scan(SessionTable& t) {
  std::set<uint32_t> s;
  for (uint32_t i = 0; i < t.capacity(); ++i)
    if (t.at(i)->in_use) s.insert(i);
  return s;
}

TEST(SessionTable, LiveListIsExactlyTheRecordsInUseThroughChurn) {
  constexpr uint32_t kCap = 512;
  SessionTable t("st_churn", kCap, SOCKET_ID_ANY, nullptr);
  std::mt19937 rng(3);
  std::vector<Session*> live;
  uint32_t next = 1, installs = 0, removals = 0;
  for (int op = 0; op < 20000; ++op) {
    const bool install = live.empty() || (live.size() < kCap && rng() % 100 < 55);
    if (install) {
      InstallError err;
      Session* s = t.install(spec_of(next++), 0, &err);
      ASSERT_NE(s, nullptr) << to_string(err);
      live.push_back(s);
      ++installs;
    } else {
      const size_t k = rng() % live.size();
      t.remove(live[k]);
      t.remove(live[k]);  // a second remove changes nothing
      live[k] = live.back();
      live.pop_back();
      ++removals;
    }
    t.reclaim();
    ASSERT_EQ(t.live_count(), live.size());
    ASSERT_EQ(t.active(), live.size());
    if (op % 97 == 0) {
      ASSERT_EQ(live_set(t), in_use_by_scan(t)) << "after op " << op;
      std::set<uint32_t> want;
      for (Session* s : live) want.insert(s->index);
      ASSERT_EQ(live_set(t), want) << "after op " << op;
    }
  }
  EXPECT_GT(installs, 5000u);
  EXPECT_GT(removals, 5000u);
  for (Session* s : live) t.remove(s);
  t.reclaim();
  EXPECT_EQ(t.live_count(), 0u);
  EXPECT_EQ(t.flows().live(), 0u);
}

TEST(SessionTable, FullTableFailsAndLiveListStaysExact) {
  SessionTable t("st_full", 8, SOCKET_ID_ANY, nullptr);
  std::vector<Session*> s;
  for (uint32_t i = 0; i < 8; ++i) s.push_back(t.install(spec_of(100 + i), 0, nullptr));
  InstallError err;
  EXPECT_EQ(t.install(spec_of(200), 0, &err), nullptr);
  EXPECT_EQ(err, InstallError::kFull);
  EXPECT_EQ(t.live_count(), 8u);
  t.remove(s[3]);
  EXPECT_EQ(live_set(t), in_use_by_scan(t));
  EXPECT_EQ(t.live_count(), 7u);
}

// A caller of one family and an origin of the other: both directions are
// installed as translated (net/xlat.h), found by either key, and a leg whose
// own two addresses differ in family is refused.
TEST(SessionTable, MixedFamilySessionsTranslateBothDirections) {
  SessionTable t("st_xlat", 8, SOCKET_ID_ANY, nullptr);
  for (bool v6_caller : {true, false}) {
    SessionSpec sp = spec_of(7 + v6_caller);
    if (v6_caller) {
      sp.caller_ip = *net::IpAddr::parse("2001:2::10");
      sp.vip = *net::IpAddr::parse("2001:2::1");
    } else {
      sp.backend_ip = *net::IpAddr::parse("2001:2:0:1::5");
      sp.leg_ip = *net::IpAddr::parse("2001:2:0:1::1");
    }
    InstallError err;
    Session* s = t.install(sp, 0, &err);
    ASSERT_NE(s, nullptr) << to_string(err);
    for (int d = 0; d < 2; ++d) {
      EXPECT_TRUE(s->dir[d]->translates()) << d;
      Direction dir;
      EXPECT_EQ(t.lookup(s->key[d], &dir), s);
      EXPECT_EQ(dir, static_cast<Direction>(d));
    }
    // Toward the origin in its family, toward the caller in the caller's.
    EXPECT_EQ(s->dir[kFromCaller]->rewrite().dst, sp.backend_ip);
    EXPECT_EQ(s->dir[kFromCaller]->rewrite().src, sp.leg_ip);
    EXPECT_EQ(s->dir[kFromBackend]->rewrite().dst, sp.caller_ip);
    EXPECT_EQ(s->dir[kFromBackend]->rewrite().src, sp.vip);
  }
  SessionSpec bad = spec_of(20);
  bad.leg_ip = *net::IpAddr::parse("2001:2:0:1::1");
  InstallError err;
  EXPECT_EQ(t.install(bad, 0, &err), nullptr);
  EXPECT_EQ(err, InstallError::kFamilyMismatch);
}

// A caller NAT rebinding (rekey_caller): the session answers to the new
// caller 4-tuple only, its backend key now sends to the new caller address,
// the counters of both directions carry over, and the old slots retire and
// go back to the table after reclaim. A new 4-tuple that is a session's
// already, or of the other family, leaves the session as it was.
TEST(SessionTable, RekeyCallerMovesTheCallerSide) {
  SessionTable t("st_rekey", 8, SOCKET_ID_ANY, nullptr);
  SessionSpec sp = spec_of(5000);
  sp.caller_next_hop = *net::MacAddr::parse("02:00:00:00:00:02");
  Session* s = t.install(sp, 0, nullptr);
  ASSERT_NE(s, nullptr);
  Session* other = t.install(spec_of(7000), 0, nullptr);
  ASSERT_NE(other, nullptr);
  s->dir[kFromCaller]->counters().packets.add(11);
  s->dir[kFromBackend]->counters().packets.add(22);
  s->dir[kFromBackend]->counters().bytes.add(2200);
  const SessionKey old_caller = s->key[kFromCaller], backend = s->key[kFromBackend];
  const uint32_t live_before = t.flows().live();

  const net::IpAddr new_ip = *net::IpAddr::parse("198.18.0.9");
  const net::MacAddr new_mac = *net::MacAddr::parse("02:00:00:00:00:09");
  InstallError err;
  ASSERT_TRUE(t.rekey_caller(s, new_ip, 6000, 0, new_mac, &err)) << to_string(err);
  EXPECT_EQ(s->spec.caller_ip, new_ip);
  EXPECT_EQ(s->spec.caller_udp, 6000);
  EXPECT_EQ(s->spec.backend_socket_id, sp.backend_socket_id);
  Direction d;
  EXPECT_EQ(t.lookup(old_caller, &d), nullptr);
  SessionSpec moved = sp;
  moved.caller_ip = new_ip;
  moved.caller_udp = 6000;
  EXPECT_EQ(t.lookup(SessionTable::caller_key(moved), &d), s);
  EXPECT_EQ(d, kFromCaller);
  EXPECT_EQ(s->key[kFromCaller], SessionTable::caller_key(moved));
  EXPECT_EQ(t.lookup(backend, &d), s);
  EXPECT_EQ(d, kFromBackend);
  // Toward the new caller address and port, through its next hop; toward the
  // origin as before.
  const net::Rewrite back = s->dir[kFromBackend]->rewrite();
  EXPECT_EQ(back.dst, new_ip);
  EXPECT_EQ(back.dport_be, net::to_be16(6000));
  EXPECT_EQ(back.src, sp.vip);
  EXPECT_EQ(back.dst_mac, new_mac);
  EXPECT_EQ(s->dir[kFromCaller]->rewrite().dst, sp.backend_ip);
  EXPECT_EQ(s->dir[kFromCaller]->counters().packets.get(), 11u);
  EXPECT_EQ(s->dir[kFromBackend]->counters().packets.get(), 22u);
  EXPECT_EQ(s->dir[kFromBackend]->counters().bytes.get(), 2200u);
  // Two new slots live, the two old ones retired until reclaim.
  EXPECT_EQ(t.flows().live(), live_before);
  EXPECT_EQ(t.flows().retired(), 2u);
  t.reclaim();
  EXPECT_EQ(t.flows().retired(), 0u);
  EXPECT_EQ(t.lookup(backend, &d), s);

  // Onto another session's caller 4-tuple, or the other family: refused,
  // the session unchanged.
  const SessionKey before = s->key[kFromCaller];
  EXPECT_FALSE(t.rekey_caller(s, other->spec.caller_ip, other->spec.caller_udp, 0, new_mac, &err));
  EXPECT_EQ(err, InstallError::kKeyExists);
  EXPECT_FALSE(t.rekey_caller(s, *net::IpAddr::parse("2001:2::9"), 6001, 0, new_mac, &err));
  EXPECT_EQ(err, InstallError::kFamilyMismatch);
  EXPECT_EQ(s->key[kFromCaller], before);
  EXPECT_EQ(t.lookup(before, &d), s);
  EXPECT_EQ(t.flows().retired(), 0u);

  // Removed after a move: every slot goes back.
  t.remove(s);
  t.remove(other);
  t.reclaim();
  EXPECT_EQ(t.flows().live(), 0u);
  EXPECT_EQ(t.flows().retired(), 0u);
  EXPECT_EQ(t.live_count(), 0u);
}

}  // namespace
}  // namespace srtfwd::dataplane

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string prefix = "--file-prefix=srtfwd-st-" + std::to_string(getpid());
  const char* eal[] = {"test_session_table", "--no-huge",      "-m",          "64", "--no-pci",
                       "--log-level=error",  "--no-telemetry", prefix.c_str()};
  if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) {
    std::fprintf(stderr, "test_session_table: EAL init failed (run as root)\n");
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}

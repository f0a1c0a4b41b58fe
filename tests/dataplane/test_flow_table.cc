// The workers' flow table (flow_table.h): linear probing with retire /
// release for RCU, and the cluster shrink that keeps misses short.
#include "srtfwd/dataplane/flow_table.h"

#include <gtest/gtest.h>
#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

namespace srtfwd::dataplane {
namespace {

struct Mem {
  // A fixed seed by default: the tests' keys land where they did in every run.
  explicit Mem(uint32_t slots, HashSeed seed = HashSeed{})
      : p(std::aligned_alloc(64, sizeof(FlowSlot) * size_t{slots})), t(p, slots, seed) {}
  ~Mem() { std::free(p); }
  void* p;
  FlowTable t;
};

SessionKey key_of(uint32_t i) {
  SessionKey k{};
  k.src = *net::IpAddr::parse("198.18.0.2");
  k.dst = *net::IpAddr::parse("198.18.0.1");
  k.src.b[15] = static_cast<uint8_t>(i >> 16);  // vary the address too
  k.sport_be = static_cast<uint16_t>(i);
  k.dport_be = 0x6027;
  return k;
}

// An IPv4 rewrite: an IPv4 key's slot is one line only when its packets
// stay IPv4 (a translated direction's takes two).
net::Rewrite rewrite_of(uint32_t i) {
  net::Rewrite rw{};
  rw.src = *net::IpAddr::parse("198.18.1.1");
  rw.dst = *net::IpAddr::parse("198.18.1.2");
  rw.sport_be = static_cast<uint16_t>(i * 7);
  rw.dport_be = static_cast<uint16_t>(i);
  return rw;
}

// Half the slots at most are taken when every key is IPv6 (two each).
TEST(FlowTable, SizedForLoadAtMostHalf) {
  EXPECT_EQ(FlowTable::slots_for(1), 64u);
  EXPECT_EQ(FlowTable::slots_for(16), 64u);
  EXPECT_EQ(FlowTable::slots_for(17), 128u);
  EXPECT_EQ(FlowTable::slots_for(2'000'000), 8u << 20);
  // The configured maximum of 2^26 sessions (two keys each) still fits.
  EXPECT_EQ(FlowTable::slots_for(2u << 26), 1u << 29);
}

// The worker's IPv4 fast path loads a key as two words from the headers
// and hashes them in registers; they must be the words, and the hash, of
// the key control installs from addresses.
TEST(FlowTable, V4KeyWordsAreTheKeyControlBuilds) {
  SessionKey k{};
  k.src = *net::IpAddr::parse("198.18.7.9");
  k.dst = *net::IpAddr::parse("198.18.0.1");
  k.sport_be = rte_cpu_to_be_16(40001);
  k.dport_be = rte_cpu_to_be_16(10080);
  // IPv4 header bytes 12-19 and UDP header bytes 0-3 as on the wire.
  const uint8_t wire_addrs[8] = {198, 18, 7, 9, 198, 18, 0, 1};
  const uint8_t wire_ports[4] = {0x9c, 0x41, 0x27, 0x60};  // 40001, 10080
  uint64_t addrs;
  uint32_t ports;
  std::memcpy(&addrs, wire_addrs, 8);
  std::memcpy(&ports, wire_ports, 4);
  EXPECT_EQ(v4_addrs_of(k), addrs);
  EXPECT_EQ(v4_ports_of(k), ports);
  const HashSeed seed{0x01234567u, 0x89abcdefu};
  EXPECT_EQ(hash_v4(seed, addrs, ports), hash_key(seed, k));
  // Each word, and each seed half, moves the hash.
  EXPECT_NE(hash_v4(seed, addrs ^ 1, ports), hash_v4(seed, addrs, ports));
  EXPECT_NE(hash_v4(seed, addrs, ports ^ 1), hash_v4(seed, addrs, ports));
  EXPECT_NE(hash_v4(HashSeed{seed.a ^ 1, seed.b}, addrs, ports), hash_v4(seed, addrs, ports));
  EXPECT_NE(hash_v4(HashSeed{seed.a, seed.b ^ 1}, addrs, ports), hash_v4(seed, addrs, ports));
}

// The hash's CRC step is the crc32 instruction itself; it must be the
// CRC32-C that DPDK's rte_hash_crc_8byte() computes.
TEST(FlowTable, CrcStepIsDpdksCrc32c) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t w = rng();
    const uint32_t init = static_cast<uint32_t>(rng());
    ASSERT_EQ(crc32c_u64(w, init), rte_hash_crc_8byte(w, init)) << i;
  }
  // CRC-32C of "123456789" is 0xe3069283 (RFC 3720 check value).
  uint32_t c = 0xffffffffu;
  const char* digits = "123456789";
  uint64_t first8;
  std::memcpy(&first8, digits, 8);
  c = crc32c_u64(first8, c);
  c = rte_hash_crc_1byte(static_cast<uint8_t>(digits[8]), c);
  EXPECT_EQ(c ^ 0xffffffffu, 0xe3069283u);
}

TEST(FlowTable, InsertFindsKeyWithItsDirection) {
  Mem m(64);
  const SessionKey k = key_of(1);
  const uint32_t h = m.t.hash(k);
  EXPECT_EQ(m.t.find(k, h), nullptr);
  const int64_t at = m.t.insert(k, h, 42, kFromBackend, rewrite_of(1), 3);
  ASSERT_GE(at, 0);
  EXPECT_EQ(static_cast<uint32_t>(at), h & 63);
  const FlowSlot* f = m.t.find(k, h);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->session(), 42u);
  EXPECT_EQ(f->dir, kFromBackend);
  EXPECT_EQ(f->out_port, 3);
  EXPECT_EQ(f->rewrite().sport_be, 7);
  EXPECT_EQ(f->counters().packets.get(), 0u);
  // Same hash, different key: a miss, not a false hit.
  EXPECT_EQ(m.t.find(key_of(2), h), nullptr);
  m.t.retire(static_cast<uint32_t>(at));
  EXPECT_EQ(m.t.find(k, h), nullptr);
}

// src:sport -> dst:10080.
SessionKey key_between(const char* src, const char* dst, uint16_t sport) {
  SessionKey k{};
  k.src = *net::IpAddr::parse(src);
  k.dst = *net::IpAddr::parse(dst);
  k.sport_be = rte_cpu_to_be_16(sport);
  k.dport_be = rte_cpu_to_be_16(10080);
  return k;
}
SessionKey v4_key(uint16_t sport) { return key_between("198.18.0.2", "198.18.0.1", sport); }
SessionKey v6_key(uint16_t sport) { return key_between("2001:2::5", "2001:2::1", sport); }

// An IPv4 key's slot, one line, holds the fast path's rewrite: the patch
// built from it must be the one V4Patch::make() builds from the full
// Rewrite, and the Rewrite and the key must come back whole from it.
TEST(FlowTable, V4SlotHoldsThePatchAndTheKeyInItsFirstLine) {
  Mem m(64);
  const SessionKey k = v4_key(40001);
  const net::MacAddr next_hop{{0x02, 0x00, 0x00, 0x00, 0x01, 0x02}};
  const net::MacAddr ours{{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}};
  const auto rw = net::make_rewrite(k.src, k.dst, 40001, 10080, *net::IpAddr::parse("198.18.1.1"),
                                    *net::IpAddr::parse("198.18.1.2"), 20000, 10080, next_hop);
  ASSERT_TRUE(rw.has_value());
  const uint32_t h = m.t.hash(k);
  ASSERT_GE(m.t.insert(k, h, 5, kFromCaller, *rw, 1), 0);
  FlowSlot* f = m.t.find(k, h);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->v4, 1);
  EXPECT_TRUE(f->key() == k);
  EXPECT_EQ(f->session(), 5u);
  EXPECT_EQ(f->out_port, 1);
  const net::Rewrite back = f->rewrite();
  EXPECT_EQ(std::memcmp(&back, &*rw, sizeof back), 0);
  const net::V4Patch a = v4_patch(f->h4, ours), b = net::V4Patch::make(*rw, ours);
  EXPECT_EQ(a.macs_lo, b.macs_lo);
  EXPECT_EQ(a.macs_hi, b.macs_hi);
  EXPECT_EQ(a.ports, b.ports);
  EXPECT_EQ(a.addrs, b.addrs);
  EXPECT_EQ(a.ip_delta_raw, b.ip_delta_raw);
  EXPECT_EQ(a.udp_ndelta_raw, b.udp_ndelta_raw);
  // The counters a v4 hit writes are in its line, and they are the ones
  // the control lcore reads.
  EXPECT_EQ(&f->counters(), &f->h4.c);
  EXPECT_LT(reinterpret_cast<const char*>(&f->h4.c) - reinterpret_cast<const char*>(f), 64);
  // The neighbouring slots are untouched.
  EXPECT_EQ(m.t.count(kSlotEmpty), 63u);
  f->h4.c.packets.add(3);
  EXPECT_EQ(f->counters().packets.get(), 3u);
}

// An IPv6 key whose address words 1 and 3 and ports word equal an IPv4
// key's (2001:2::ffff:c612:2 ends like ::ffff:198.18.0.2) is never taken
// for it, nor the other way round, even on one home slot.
TEST(FlowTable, V4AndV6SlotsNeverMatchEachOther) {
  Mem m(64);
  const SessionKey v4 = v4_key(10000);
  SessionKey v6 = v4;
  v6.src = *net::IpAddr::parse("2001:2::ffff:c612:2");
  v6.dst = *net::IpAddr::parse("2001:2::ffff:c612:1");
  const uint32_t h = m.t.hash(v4);
  ASSERT_GE(m.t.insert(v6, h, 1, kFromCaller, rewrite_of(1), 0), 0);
  EXPECT_EQ(m.t.find(v4, h), nullptr);
  EXPECT_EQ(m.t.find_v4(v4_addrs_of(v4), v4_ports_of(v4), h), nullptr);
  ASSERT_GE(m.t.insert(v4, h, 2, kFromCaller, rewrite_of(2), 0), 0);
  ASSERT_NE(m.t.find(v6, h), nullptr);
  EXPECT_EQ(m.t.find(v6, h)->session(), 1u);
  EXPECT_EQ(m.t.find(v6, h)->v4, 0);
  EXPECT_TRUE(m.t.find(v6, h)->key() == v6);
  ASSERT_NE(m.t.find(v4, h), nullptr);
  EXPECT_EQ(m.t.find(v4, h)->session(), 2u);
  EXPECT_EQ(m.t.find_v4(v4_addrs_of(v4), v4_ports_of(v4), h), m.t.find(v4, h));
}

// A translated direction (IPv4 <-> IPv6, net/xlat.h) takes a head and tail
// whatever its key's family: the IPv4 fast path's find_v4() does not see an
// IPv4 key there (the worker looks with find_long() after it missed), find()
// does, and the slot's rewrite comes back whole, the 6->4 IPv4 header sum
// included.
TEST(FlowTable, TranslatedDirectionsTakeAHeadAndTail) {
  Mem m(64);
  const net::MacAddr nh{{0x02, 0x00, 0x00, 0x00, 0x01, 0x02}};
  const SessionKey k4 = v4_key(40001);
  const auto rw46 =
      net::make_xlat_rewrite(k4.src, k4.dst, 40001, 10080, *net::IpAddr::parse("2001:2::1"),
                             *net::IpAddr::parse("2001:2::7"), 20000, 10080, nh);
  ASSERT_TRUE(rw46.has_value());
  const uint32_t h4 = m.t.hash(k4);
  const int64_t a = m.t.insert(k4, h4, 1, kFromCaller, *rw46, 1);
  ASSERT_GE(a, 0);
  EXPECT_EQ(m.t.slot(static_cast<uint32_t>(a) + 1).state.load(), kSlotTail);
  EXPECT_EQ(m.t.find_v4(v4_addrs_of(k4), v4_ports_of(k4), h4), nullptr);
  const FlowSlot* f = m.t.find_long(k4, h4);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f, m.t.find(k4, h4));
  EXPECT_EQ(f, &m.t.slot(static_cast<uint32_t>(a)));
  EXPECT_EQ(f->v4, 0);
  EXPECT_TRUE(f->translates());
  EXPECT_TRUE(f->key() == k4);
  EXPECT_EQ(f->session(), 1u);
  net::Rewrite back = f->rewrite();
  EXPECT_EQ(std::memcmp(&back, &*rw46, sizeof back), 0);

  const SessionKey k6 = v6_key(40002);
  const auto rw64 =
      net::make_xlat_rewrite(k6.src, k6.dst, 40002, 10080, *net::IpAddr::parse("198.18.1.1"),
                             *net::IpAddr::parse("198.18.1.2"), 20001, 10080, nh);
  ASSERT_TRUE(rw64.has_value());
  ASSERT_NE(rw64->ip_csum_delta, 0);
  const uint32_t h6 = m.t.hash(k6);
  ASSERT_GE(m.t.insert(k6, h6, 2, kFromBackend, *rw64, 0), 0);
  const FlowSlot* g = m.t.find(k6, h6);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->translates());
  EXPECT_EQ(g->dir, kFromBackend);
  back = g->rewrite();
  EXPECT_EQ(std::memcmp(&back, &*rw64, sizeof back), 0);

  // Same-family directions do not translate.
  const SessionKey s4 = v4_key(1);
  ASSERT_GE(m.t.insert(s4, m.t.hash(s4), 3, kFromCaller, rewrite_of(3), 0), 0);
  EXPECT_FALSE(m.t.find(s4, m.t.hash(s4))->translates());
  EXPECT_EQ(m.t.find_long(s4, m.t.hash(s4)), nullptr);
  net::Rewrite rw6 = rewrite_of(4);
  rw6.src = *net::IpAddr::parse("2001:2::1");
  rw6.dst = *net::IpAddr::parse("2001:2::7");
  const SessionKey s6 = v6_key(2);
  ASSERT_GE(m.t.insert(s6, m.t.hash(s6), 4, kFromCaller, rw6, 0), 0);
  EXPECT_FALSE(m.t.find(s6, m.t.hash(s6))->translates());

  // Retired and released, both lines of the IPv4 key are free again.
  const uint32_t tails = m.t.count(kSlotTail);
  m.t.retire(static_cast<uint32_t>(a));
  EXPECT_EQ(m.t.find(k4, h4), nullptr);
  m.t.release(static_cast<uint32_t>(a));
  EXPECT_EQ(m.t.count(kSlotTail), tails - 1);
  EXPECT_EQ(m.t.live(), 3u);
}

// A slot's bytes at an offset, as a T.
template <typename T>
T bytes_at(const FlowSlot& s, size_t off) {
  T v;
  std::memcpy(&v, reinterpret_cast<const unsigned char*>(&s) + off, sizeof v);
  return v;
}

// The two kinds of slot, and an IPv6 key's tail, share the same bytes of
// a line, so the kind flag and the tail's state are what keep a lookup of
// one family off the other's slots: here each lookup is built from the
// other kind's very bytes (what a caller who could choose them would send)
// and must still miss.
TEST(FlowTable, KindFlagKeepsLookupsOffTheOtherKindsBytes) {
  Mem m(64);
  constexpr size_t kAddrsOff = offsetof(FlowSlot, h4) + offsetof(V4Hot, addrs_key);
  constexpr size_t kPortsOff = offsetof(FlowSlot, h4) + offsetof(V4Hot, ports_key);
  constexpr size_t kKeyOff = offsetof(FlowSlot, h6) + offsetof(V6Head, key);
  net::Rewrite rw6 = rewrite_of(1);
  rw6.src = *net::IpAddr::parse("2001:2::1");
  rw6.dst = *net::IpAddr::parse("2001:2::7");
  const SessionKey v6 = v6_key(10000);
  const int64_t at6 = m.t.insert(v6, 10, 0x0212c6u, kFromCaller, rw6, 0);
  ASSERT_EQ(at6, 10);
  const FlowSlot& head = m.t.slot(10);
  const FlowSlot& tail = m.t.slot(11);
  ASSERT_EQ(tail.state.load(), kSlotTail);
  // The IPv6 head and tail read as IPv4 slots, each probed from its index.
  for (const FlowSlot* s : {&head, &tail}) {
    const auto at = static_cast<uint32_t>(s - &head) + 10;
    EXPECT_EQ(m.t.find_v4(bytes_at<uint64_t>(*s, kAddrsOff), bytes_at<uint32_t>(*s, kPortsOff), at),
              nullptr)
        << at;
  }

  // An IPv4 slot, and the IPv6 tail, read as IPv6 heads.
  const SessionKey v4 = v4_key(10000);
  ASSERT_EQ(m.t.insert(v4, 20, 2, kFromCaller, rewrite_of(2), 0), 20);
  for (uint32_t at : {20u, 11u}) {
    const auto forged = bytes_at<SessionKey>(m.t.slot(at), kKeyOff);
    ASSERT_FALSE(key_is_v4(forged)) << at;
    EXPECT_EQ(m.t.find(forged, at), nullptr) << at;
  }
  EXPECT_EQ(m.t.find(v4, 20), &m.t.slot(20));
  EXPECT_EQ(m.t.find(v6, 10), &head);
}

// An IPv6 key takes two slots: its head, where lookups find it, and the
// next, its tail, which holds its counters and the rest of its rewrite.
TEST(FlowTable, V6KeyTakesAHeadAndATail) {
  Mem m(64);
  const SessionKey k = v6_key(40001);
  const net::MacAddr next_hop{{0x02, 0x00, 0x00, 0x00, 0x01, 0x02}};
  const auto rw =
      net::make_rewrite(k.src, k.dst, 40001, 10080, *net::IpAddr::parse("2001:2:0:1::1"),
                        *net::IpAddr::parse("2001:2:0:1::2"), 20000, 10080, next_hop);
  ASSERT_TRUE(rw.has_value());
  ASSERT_EQ(m.t.insert(k, 30, 9, kFromBackend, *rw, 2), 30);
  EXPECT_EQ(m.t.slot(30).state.load(), kSlotLive);
  EXPECT_EQ(m.t.slot(31).state.load(), kSlotTail);
  EXPECT_EQ(m.t.live(), 1u);
  FlowSlot* f = m.t.find(k, 30);
  ASSERT_EQ(f, &m.t.slot(30));
  EXPECT_EQ(f->v4, 0);
  EXPECT_TRUE(f->key() == k);
  EXPECT_EQ(f->session(), 9u);
  EXPECT_EQ(f->dir, kFromBackend);
  EXPECT_EQ(f->out_port, 2);
  const net::Rewrite back = f->rewrite();
  EXPECT_EQ(std::memcmp(&back, &*rw, sizeof back), 0);
  EXPECT_EQ(&f->counters(), &m.t.slot(31).t6.c);
  f->counters().bytes.add(5);
  EXPECT_EQ(m.t.slot(31).t6.c.bytes.get(), 5u);
  // Probes pass through the tail: a key homed on it lands after it.
  const SessionKey other = v4_key(7);
  EXPECT_EQ(m.t.insert(other, 31, 3, kFromCaller, rewrite_of(3), 0), 32);
  EXPECT_EQ(m.t.find(other, 31), &m.t.slot(32));
  // Removing the IPv6 key frees both of its slots.
  m.t.retire(30);
  EXPECT_EQ(m.t.find(k, 30), nullptr);
  EXPECT_EQ(m.t.slot(31).state.load(), kSlotTail);  // readers may still hold the head
  m.t.release(30);
  EXPECT_EQ(m.t.slot(30).state.load(), kSlotFree);
  EXPECT_EQ(m.t.slot(31).state.load(), kSlotFree);
  EXPECT_EQ(m.t.free(), 2u);
  EXPECT_EQ(m.t.find(other, 31), &m.t.slot(32));
  m.t.retire(32);
  m.t.release(32);  // 33 is empty: 32, 31 and 30 turn empty
  EXPECT_EQ(m.t.count(kSlotEmpty), 64u);
  EXPECT_EQ(m.t.live() + m.t.retired() + m.t.free(), 0u);
}

// An IPv6 key needs two usable slots in a row. An empty slot it passes over
// (its successor taken) turns free: left empty, it would end the key's
// lookups before they reach the key.
TEST(FlowTable, V6KeyPassingOverAnEmptySlotLeavesItFree) {
  Mem m(64);
  ASSERT_EQ(m.t.insert(v4_key(1), 41, 1, kFromCaller, rewrite_of(1), 0), 41);
  const SessionKey k = v6_key(2);
  ASSERT_EQ(m.t.insert(k, 40, 2, kFromCaller, rewrite_of(2), 0), 42);
  EXPECT_EQ(m.t.slot(40).state.load(), kSlotFree);
  EXPECT_EQ(m.t.slot(43).state.load(), kSlotTail);
  ASSERT_NE(m.t.find(k, 40), nullptr);
  EXPECT_EQ(m.t.find(k, 40)->session(), 2u);
  EXPECT_EQ(m.t.free(), 1u);
  // The free slot takes the next IPv4 key homed there.
  EXPECT_EQ(m.t.insert(v4_key(3), 40, 3, kFromCaller, rewrite_of(3), 0), 40);
  EXPECT_EQ(m.t.free(), 0u);
}

// A head never sits in the last slot (its tail would not follow it in
// memory): a key homed there goes round to the first slots.
TEST(FlowTable, V6HeadNeverInTheLastSlot) {
  Mem m(64);
  const SessionKey k = v6_key(3);
  ASSERT_EQ(m.t.insert(k, 63, 1, kFromCaller, rewrite_of(1), 0), 0);
  EXPECT_EQ(m.t.slot(63).state.load(), kSlotFree);
  EXPECT_EQ(m.t.slot(1).state.load(), kSlotTail);
  ASSERT_EQ(m.t.find(k, 63), &m.t.slot(0));
  m.t.retire(0);
  m.t.release(0);  // 2 is empty: 1, 0 and then 63 turn empty
  EXPECT_EQ(m.t.count(kSlotEmpty), 64u);
  EXPECT_EQ(m.t.free(), 0u);
}

// Keys forced onto one home slot fill consecutive slots; removing one in
// the middle must not hide the ones behind it.
TEST(FlowTable, CollisionsProbeThroughRetiredAndFreeSlots) {
  Mem m(64);
  const uint32_t h = 10;
  int64_t at[3];
  for (uint32_t i = 0; i < 3; ++i) {
    at[i] = m.t.insert(key_of(i), h, i, kFromCaller, rewrite_of(i), 0);
    ASSERT_EQ(at[i], 10 + i);
  }
  m.t.retire(11);
  EXPECT_EQ(m.t.find(key_of(1), h), nullptr);
  ASSERT_NE(m.t.find(key_of(2), h), nullptr);
  EXPECT_EQ(m.t.find(key_of(2), h)->session(), 2u);
  m.t.release(11);  // slot 12 is live: 11 stays free, probed through
  EXPECT_EQ(m.t.slot(11).state.load(), kSlotFree);
  ASSERT_NE(m.t.find(key_of(2), h), nullptr);
  // A new key with that home reuses the free slot.
  EXPECT_EQ(m.t.insert(key_of(7), h, 7, kFromCaller, rewrite_of(7), 0), 11);
  EXPECT_EQ(m.t.find(key_of(7), h)->session(), 7u);
}

TEST(FlowTable, ReleasingTheEndOfAClusterEmptiesItsFreeTail) {
  Mem m(64);
  const uint32_t h = 20;
  for (uint32_t i = 0; i < 4; ++i)
    ASSERT_EQ(m.t.insert(key_of(i), h, i, kFromCaller, rewrite_of(0), 0), 20 + i);
  // Middle ones first: they stay free while slot 23 lives.
  for (uint32_t s : {21u, 22u}) {
    m.t.retire(s);
    m.t.release(s);
  }
  EXPECT_EQ(m.t.count(kSlotFree), 2u);
  EXPECT_EQ(m.t.free(), 2u);
  EXPECT_EQ(m.t.live(), 2u);
  m.t.retire(23);
  EXPECT_EQ(m.t.retired(), 1u);
  m.t.retire(23);  // repeated: no change
  EXPECT_EQ(m.t.retired(), 1u);
  m.t.release(23);  // 24 is empty: 23, 22 and 21 turn empty, 20 (live) stops it
  EXPECT_EQ(m.t.count(kSlotFree), 0u);
  EXPECT_EQ(m.t.count(kSlotEmpty), 63u);
  EXPECT_EQ(m.t.free(), 0u);
  EXPECT_EQ(m.t.retired(), 0u);
  m.t.release(23);  // repeated: no change
  EXPECT_EQ(m.t.free(), 0u);
  ASSERT_NE(m.t.find(key_of(0), h), nullptr);
  m.t.retire(20);
  m.t.release(20);
  EXPECT_EQ(m.t.count(kSlotEmpty), 64u);
}

TEST(FlowTable, ClustersWrapAroundTheEnd) {
  Mem m(64);
  const uint32_t h = 62;
  for (uint32_t i = 0; i < 4; ++i)
    ASSERT_EQ(m.t.insert(key_of(i), h, i, kFromCaller, rewrite_of(0), 0), (62 + i) & 63);
  for (uint32_t i = 0; i < 4; ++i) ASSERT_NE(m.t.find(key_of(i), h), nullptr) << i;
  for (uint32_t s : {62u, 63u, 0u, 1u}) {
    m.t.retire(s);
    m.t.release(s);
  }
  EXPECT_EQ(m.t.count(kSlotEmpty), 64u);
}

TEST(FlowTable, ProbeWindowIsBoundedForInsertsAndMisses) {
  Mem m(256);
  const uint32_t h = 5;
  for (uint32_t i = 0; i < FlowTable::kMaxProbe; ++i)
    ASSERT_GE(m.t.insert(key_of(i), h, i, kFromCaller, rewrite_of(0), 0), 0) << i;
  EXPECT_EQ(m.t.insert(key_of(1000), h, 1000, kFromCaller, rewrite_of(0), 0), -1);
  EXPECT_EQ(m.t.find(key_of(1000), h), nullptr);  // ends after kMaxProbe slots
  ASSERT_NE(m.t.find(key_of(FlowTable::kMaxProbe - 1), h), nullptr);
}

// The hash is keyed. Source ports picked offline to share one home slot
// under a known seed (what a caller who knew a fixed function could do)
// fill that slot's probe window, and the next key homed there cannot be
// installed. Under a seed drawn by random_hash_seed() the same keys spread
// over the table and all of them install.
TEST(FlowTable, PortsCraftedForAKnownSeedDoNotCollideUnderARandomOne) {
  constexpr uint32_t kSlots = 256;
  const HashSeed known{};
  std::vector<SessionKey> crafted;
  for (uint32_t port = 1; port < 65536 && crafted.size() <= FlowTable::kMaxProbe; ++port) {
    SessionKey k = key_of(0);
    k.sport_be = rte_cpu_to_be_16(static_cast<uint16_t>(port));
    if ((hash_key(known, k) & (kSlots - 1)) == 0) crafted.push_back(k);
  }
  ASSERT_EQ(crafted.size(), FlowTable::kMaxProbe + 1);
  {
    Mem m(kSlots, known);
    for (uint32_t i = 0; i < FlowTable::kMaxProbe; ++i)
      ASSERT_EQ(m.t.insert(crafted[i], m.t.hash(crafted[i]), i, kFromCaller, rewrite_of(0), 0),
                int64_t{i});
    EXPECT_EQ(
        m.t.insert(crafted.back(), m.t.hash(crafted.back()), 99, kFromCaller, rewrite_of(0), 0),
        -1);
  }
  const HashSeed s1 = random_hash_seed(), s2 = random_hash_seed();
  EXPECT_FALSE(s1.a == s2.a && s1.b == s2.b);
  EXPECT_FALSE(s1.a == known.a && s1.b == known.b);
  Mem m(kSlots, s1);
  uint32_t home_zero = 0;
  for (uint32_t i = 0; i < crafted.size(); ++i) {
    const uint32_t h = m.t.hash(crafted[i]);
    home_zero += (h & (kSlots - 1)) == 0 ? 1 : 0;
    ASSERT_GE(m.t.insert(crafted[i], h, i, kFromCaller, rewrite_of(0), 0), 0) << "key " << i;
  }
  // 65 keys over 256 slots: a handful at most share any one home.
  EXPECT_LE(home_zero, 8u);
  for (const SessionKey& k : crafted) EXPECT_NE(m.t.find(k, m.t.hash(k)), nullptr);
}

// Keys as real traffic makes them, sequential ports from a few addresses,
// must spread like random keys: with linear probing every key that does not
// sit on its home slot costs a reader a dependent cache miss. At this load
// (0.38, twice what a table for these sessions has with IPv4 keys) random
// hashing leaves about one key in five off its home slot; a hash that keeps
// the structure of its input (CRC alone is linear) piles sequential ports
// into neighbouring slots and left half of them off home.
TEST(FlowTable, SequentialPortsSpreadLikeRandomKeys) {
  constexpr uint32_t kSessions = 100000;
  const uint32_t slots = FlowTable::slots_for(kSessions);
  ASSERT_EQ(slots, 1u << 19);
  Mem m(slots);
  const net::IpAddr vip = *net::IpAddr::parse("198.18.0.1");
  const net::IpAddr caller0 = *net::IpAddr::parse("198.18.0.2");
  const net::IpAddr origin0 = *net::IpAddr::parse("198.18.1.2");
  uint32_t off_home = 0, longest = 0;
  auto put = [&](const SessionKey& k, uint32_t session, Direction dir) {
    const uint32_t h = m.t.hash(k);
    const int64_t at = m.t.insert(k, h, session, dir, rewrite_of(0), 0);
    ASSERT_GE(at, 0);
    const uint32_t dist = (static_cast<uint32_t>(at) - h) & (slots - 1);
    off_home += dist != 0 ? 1 : 0;
    longest = std::max(longest, dist);
  };
  for (uint32_t i = 0; i < kSessions; ++i) {
    SessionKey c{};  // the caller: as scripts/bench-pcap.py sends
    c.src = caller0;
    c.src.b[15] = static_cast<uint8_t>(c.src.b[15] + i / 50000);
    c.dst = vip;
    c.sport_be = rte_cpu_to_be_16(static_cast<uint16_t>(10000 + i % 50000));
    c.dport_be = rte_cpu_to_be_16(10080);
    put(c, i, kFromCaller);
    SessionKey b{};  // the origin, to the leg port the forwarder gave it
    b.src = origin0;
    b.src.b[15] = static_cast<uint8_t>(b.src.b[15] + i % 4);
    b.dst = vip;
    b.sport_be = rte_cpu_to_be_16(10080);
    b.dport_be = rte_cpu_to_be_16(static_cast<uint16_t>(20000 + i / 4));
    put(b, i, kFromBackend);
  }
  const double frac = static_cast<double>(off_home) / (2.0 * kSessions);
  RecordProperty("off_home_permille", static_cast<int>(frac * 1000));
  EXPECT_LT(frac, 0.27) << off_home << " of " << 2 * kSessions << " keys off their home slot";
  EXPECT_LT(longest, FlowTable::kMaxProbe / 2);
}

// A third of the keys IPv6 (two slots each), the rest IPv4.
SessionKey mixed_key(uint32_t id) {
  if (id % 3 != 0) return key_of(id);
  SessionKey k = v6_key(static_cast<uint16_t>(id));
  k.src.b[13] = static_cast<uint8_t>(id >> 16);
  return k;
}

// Random installs and removals against a model, with real hashes, at the
// load the session table runs at (as many keys as slots_for() was given):
// every live key is found with its own data, every removed one is not,
// and when all are gone no slot is left behind.
TEST(FlowTable, MatchesAModelUnderChurn) {
  constexpr uint32_t kKeys = 20000;
  Mem m(FlowTable::slots_for(kKeys));
  std::unordered_map<uint32_t, uint32_t> live;  // key id -> slot
  std::mt19937 rng(7);
  uint32_t next = 0;
  for (int op = 0; op < 300000; ++op) {
    const bool add = live.size() < kKeys && (live.empty() || rng() % 100 < 55);
    if (add) {
      const uint32_t id = next++;
      const SessionKey k = mixed_key(id);
      const int64_t at = m.t.insert(k, m.t.hash(k), id, kFromCaller, rewrite_of(id), 1);
      ASSERT_GE(at, 0) << "insert failed at op " << op << " with " << live.size() << " keys";
      live[id] = static_cast<uint32_t>(at);
    } else {
      auto it = live.begin();
      std::advance(it, rng() % std::min<size_t>(live.size(), 64));
      m.t.retire(it->second);
      m.t.release(it->second);
      const SessionKey k = mixed_key(it->first);
      ASSERT_EQ(m.t.find(k, m.t.hash(k)), nullptr);
      live.erase(it);
    }
    if (op % 30000 == 0) {
      ASSERT_EQ(m.t.live(), live.size());
      ASSERT_EQ(m.t.count(kSlotFree), m.t.free());
      ASSERT_EQ(m.t.retired(), 0u);
      for (const auto& [id, slot] : live) {
        const SessionKey k = mixed_key(id);
        const FlowSlot* f = m.t.find(k, m.t.hash(k));
        ASSERT_NE(f, nullptr) << id;
        EXPECT_EQ(f->session(), id);
        EXPECT_EQ(f->rewrite().sport_be, static_cast<uint16_t>(id * 7));
      }
    }
  }
  for (const auto& [id, slot] : live) {
    m.t.retire(slot);
    m.t.release(slot);
  }
  EXPECT_EQ(m.t.count(kSlotEmpty), m.t.size());
  EXPECT_EQ(m.t.live() + m.t.retired() + m.t.free(), 0u);
}

// One writer, one lock-free reader: keys that stay installed are always
// found with their own data while neighbours on the same home slots come
// and go; a removed slot is released only after the reader has finished a
// pass that began after the removal (the grace period RCU gives the real
// table).
TEST(FlowTable, ReaderNeverMissesAStableKeyWhileTheWriterChurns) {
  Mem m(256);
  constexpr uint32_t kStable = 8;
  std::vector<SessionKey> stable;
  for (uint32_t i = 0; i < kStable; ++i) {
    stable.push_back(mixed_key(i));
    // Homes 0, 8, 16, ...: churned keys share them.
    ASSERT_GE(m.t.insert(stable[i], i * 8, i, kFromCaller, rewrite_of(i), 0), 0);
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> wrong{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint32_t i = 0; i < kStable; ++i) {
        const FlowSlot* f = m.t.find(stable[i], i * 8);
        if (f == nullptr || f->session() != i || !(f->key() == stable[i]) ||
            f->rewrite().sport_be != static_cast<uint16_t>(i * 7))
          wrong.fetch_add(1, std::memory_order_relaxed);
      }
      passes.fetch_add(1, std::memory_order_release);
    }
  });
  std::mt19937 rng(3);
  for (uint32_t round = 0; round < 20000; ++round) {
    const uint32_t home = (rng() % kStable) * 8;
    const uint32_t id = 1000 + round;
    const int64_t at = m.t.insert(mixed_key(id), home, id, kFromCaller, rewrite_of(id), 0);
    ASSERT_GE(at, 0);
    m.t.retire(static_cast<uint32_t>(at));
    // Grace: wait until the reader has completed a pass begun after retire.
    const uint64_t seen = passes.load(std::memory_order_acquire);
    while (passes.load(std::memory_order_acquire) < seen + 2) std::this_thread::yield();
    m.t.release(static_cast<uint32_t>(at));
  }
  stop = true;
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(passes.load(), 20000u);
}

// Keys that come and go under a reader that looks them up: a slot the
// reader finds live holds that key's own data. The reader reads a slot's
// key and data only after it loads the slot's state as live, so the
// insert's publication (its release store) is all that orders those reads
// after the writer's stores; under ThreadSanitizer (scripts/test.sh) a
// publication that does not order them is a reported race.
TEST(FlowTable, ReaderSeesChurnedKeysWholeOrNotAtAll) {
  Mem m(256);
  constexpr uint32_t kIds = 16;
  auto home = [](uint32_t id) { return (id % 4) * 8; };  // four keys share each home
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> wrong{0}, hits{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint32_t id = 0; id < kIds; ++id) {
        const FlowSlot* f = m.t.find(mixed_key(id), home(id));
        if (f == nullptr) continue;
        hits.fetch_add(1, std::memory_order_relaxed);
        if (f->session() != id || !(f->key() == mixed_key(id)) ||
            f->rewrite().sport_be != static_cast<uint16_t>(id * 7))
          wrong.fetch_add(1, std::memory_order_relaxed);
      }
      passes.fetch_add(1, std::memory_order_release);
    }
  });
  std::array<int64_t, kIds> at;
  at.fill(-1);
  std::mt19937 rng(5);
  for (uint32_t round = 0; round < 4000; ++round) {
    const uint32_t id = rng() % kIds;
    if (at[id] < 0) {
      at[id] = m.t.insert(mixed_key(id), home(id), id, kFromCaller, rewrite_of(id), 0);
      ASSERT_GE(at[id], 0);
      continue;
    }
    const auto slot = static_cast<uint32_t>(at[id]);
    m.t.retire(slot);
    const uint64_t seen = passes.load(std::memory_order_acquire);
    while (passes.load(std::memory_order_acquire) < seen + 2) std::this_thread::yield();
    m.t.release(slot);
    at[id] = -1;
  }
  stop = true;
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
}

}  // namespace
}  // namespace srtfwd::dataplane

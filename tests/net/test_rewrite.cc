// apply_rewrite(): after the incremental patch, a full recomputation of the
// IPv4 header and UDP checksums must give exactly what is in the frame.
#include <gtest/gtest.h>

#include <random>

#include "frames.h"
#include "srtfwd/net/rewrite.h"

namespace srtfwd::net {
namespace {

using fixtures::FrameSpec;

const MacAddr kBackendPortMac{{0x02, 0, 0, 0, 0, 0x02}};
const MacAddr kBackendMac{{0x02, 0, 0, 0, 0x0b, 0x01}};

struct Tuple {
  IpAddr src, dst;
  uint16_t sport, dport;
};

IpAddr random_addr(std::mt19937& rng, bool v4) {
  if (v4) return IpAddr::from_v4_host(static_cast<uint32_t>(rng()));
  std::array<uint8_t, 16> b;
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  b[0] = 0x20;  // never v4-mapped
  return IpAddr::from_v6(b);
}

Tuple random_tuple(std::mt19937& rng, bool v4) {
  return {random_addr(rng, v4), random_addr(rng, v4), static_cast<uint16_t>(rng()),
          static_cast<uint16_t>(rng())};
}

Rewrite rewrite_for(const Tuple& from, const Tuple& to) {
  auto rw = make_rewrite(from.src, from.dst, from.sport, from.dport, to.src, to.dst, to.sport,
                         to.dport, kBackendMac);
  EXPECT_TRUE(rw.has_value());
  return *rw;
}

FrameSpec spec_for(const Tuple& t) {
  FrameSpec s = t.src.is_v4() ? FrameSpec{} : fixtures::udp6_spec();
  s.src = t.src;
  s.dst = t.dst;
  s.sport = t.sport;
  s.dport = t.dport;
  return s;
}

// Checks the frame after a rewrite from `before` to `to` against a full
// recomputation.
void expect_rewritten(const std::vector<uint8_t>& before, const std::vector<uint8_t>& f,
                      const Tuple& to, bool had_udp_csum) {
  FrameInfo fi, old;
  ASSERT_EQ(parse_frame(before.data(), static_cast<uint32_t>(before.size()), old), Verdict::Udp);
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
  EXPECT_EQ(fi.src, to.src);
  EXPECT_EQ(fi.dst, to.dst);
  EXPECT_EQ(fi.sport, to.sport);
  EXPECT_EQ(fi.dport, to.dport);
  EXPECT_EQ(fi.ttl, old.ttl - 1);
  EXPECT_EQ(MacAddr::from_bytes(f.data()), kBackendMac);
  EXPECT_EQ(MacAddr::from_bytes(f.data() + 6), kBackendPortMac);
  // Lengths, VLAN tag and payload as received.
  EXPECT_EQ(fi.vlan, old.vlan);
  EXPECT_EQ(fi.vlan_tci, old.vlan_tci);
  EXPECT_EQ(fi.ip_total_len, old.ip_total_len);
  EXPECT_EQ(fi.payload_len, old.payload_len);
  EXPECT_EQ(0, std::memcmp(f.data() + fi.payload_off, before.data() + old.payload_off,
                           f.size() - fi.payload_off));
  if (fi.ip_version == 4) {
    std::vector<uint8_t> ip(f.begin() + fi.l3_off, f.begin() + fi.l4_off);
    ip[10] = ip[11] = 0;
    EXPECT_EQ(load_be16(f.data() + fi.l3_off + kIpv4CsumOff), fixtures::ref_checksum(ip));
  }
  const uint16_t got = load_be16(f.data() + fi.l4_off + kUdpCsumOff);
  if (!had_udp_csum) {
    EXPECT_EQ(got, 0);
  } else {
    std::vector<uint8_t> seg(f.begin() + fi.l4_off, f.begin() + fi.l4_off + fi.udp_len);
    uint16_t want = fixtures::ref_l4_checksum(fi.src, fi.dst, IP_PROTO_UDP, seg, kUdpCsumOff);
    if (want == 0) want = 0xffff;
    EXPECT_EQ(got, want);
    EXPECT_TRUE(udp_checksum_valid(f.data(), fi));
  }
}

TEST(Rewrite, RandomTuplesPayloadsBothFamilies) {
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    const bool v4 = i % 2 == 0;
    const Tuple from = random_tuple(rng, v4), to = random_tuple(rng, v4);
    FrameSpec s = spec_for(from);
    s.payload = fixtures::random_bytes(rng, rng() % 1400);
    s.ttl = static_cast<uint8_t>(2 + rng() % 254);
    s.ip_id = static_cast<uint16_t>(rng());
    if (i % 7 == 0) s.vlan_tci = static_cast<uint16_t>(rng());
    if (i % 11 == 0) s.trailer = rng() % 20;
    const bool csum = !(v4 && i % 5 == 0);
    s.udp_csum = csum;
    const auto before = fixtures::build_frame(s);
    auto f = before;
    FrameInfo fi;
    ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
    ASSERT_TRUE(apply_rewrite(f.data(), fi, rewrite_for(from, to), kBackendPortMac));
    expect_rewritten(before, f, to, csum);
    if (::testing::Test::HasFailure()) FAIL() << "iteration " << i;
  }
}

// Chooses two payload bytes so that the UDP checksum of the frame with tuple
// t computes to 0 (sent as 0xFFFF).
void make_udp_sum_zero(FrameSpec& s, const Tuple& t) {
  FrameSpec probe = spec_for(t);
  probe.payload = s.payload;
  probe.payload[0] = probe.payload[1] = 0;
  auto f = fixtures::build_frame(probe);
  const size_t l4 = t.src.is_v4() ? 34 : 54;
  std::vector<uint8_t> seg(f.begin() + static_cast<std::ptrdiff_t>(l4), f.end());
  seg[6] = seg[7] = 0;
  const uint16_t sum = fixtures::ref_sum(
      seg, fixtures::ref_sum(fixtures::ref_pseudo_header(t.src, t.dst, 17, uint32_t(seg.size()))));
  s.payload[0] = static_cast<uint8_t>(~sum >> 8);
  s.payload[1] = static_cast<uint8_t>(~sum);
}

// The worker's IPv4 variant writes the very bytes apply_rewrite() does,
// tagged or not, with or without a UDP checksum, including the TTL edge
// (1: refused, frame untouched; 2: forwarded with 1) and checksums that
// land on 0 / 0xFFFF.
TEST(Rewrite, V4FastVariantWritesTheSameBytes) {
  std::mt19937 rng(9);
  for (int i = 0; i < 4000; ++i) {
    const Tuple from = random_tuple(rng, true), to = random_tuple(rng, true);
    FrameSpec s = spec_for(from);
    s.payload = fixtures::random_bytes(rng, rng() % 300);
    s.ttl = static_cast<uint8_t>(i % 13 == 0 ? 1 + i % 2 : rng() % 256);
    s.ip_id = static_cast<uint16_t>(rng());
    if (i % 3 == 0) s.vlan_tci = static_cast<uint16_t>(rng());
    s.udp_csum = i % 5 != 0;
    if (i % 17 == 0 && s.payload.size() >= 2) make_udp_sum_zero(s, from);
    const auto frame = fixtures::build_frame(s);
    auto a = frame, b = frame;
    FrameInfo fi;
    ASSERT_EQ(parse_frame(a.data(), static_cast<uint32_t>(a.size()), fi), Verdict::Udp);
    FastV4 fv;
    ASSERT_TRUE(parse_ipv4_udp_fast(b.data(), static_cast<uint32_t>(b.size()), fv));
    const Rewrite rw = rewrite_for(from, to);
    const bool ra = apply_rewrite(a.data(), fi, rw, kBackendPortMac);
    const bool rb = V4Patch::make(rw, kBackendPortMac).apply(b.data(), fv.l3_off);
    ASSERT_EQ(ra, rb) << "iteration " << i;
    ASSERT_EQ(a, b) << "iteration " << i;
    if (!rb) { ASSERT_EQ(b, frame) << "iteration " << i; }
  }
}

TEST(Rewrite, UdpChecksumFfffBeforeOrAfter) {
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    const bool v4 = i % 2 == 0;
    const Tuple from = random_tuple(rng, v4), to = random_tuple(rng, v4);
    FrameSpec s = spec_for(from);
    s.payload = fixtures::random_bytes(rng, 10 + rng() % 50);
    // Even i: the received checksum is 0xFFFF (computed 0); odd: the result is.
    make_udp_sum_zero(s, (i / 2) % 2 ? to : from);
    const auto before = fixtures::build_frame(s);
    auto f = before;
    FrameInfo fi;
    ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
    if ((i / 2) % 2 == 0) { EXPECT_EQ(load_be16(f.data() + fi.l4_off + 6), 0xffff); }
    ASSERT_TRUE(apply_rewrite(f.data(), fi, rewrite_for(from, to), kBackendPortMac));
    expect_rewritten(before, f, to, true);
    if ((i / 2) % 2) { EXPECT_EQ(load_be16(f.data() + fi.l4_off + 6), 0xffff); }
    if (::testing::Test::HasFailure()) FAIL() << "iteration " << i;
  }
}

TEST(Rewrite, Ipv4HeaderChecksumCornerCases) {
  // Pick the IP identification so that the header checksum is 0x0000 before
  // the rewrite, or after it.
  std::mt19937 rng(9);
  for (int i = 0; i < 400; ++i) {
    const Tuple from = random_tuple(rng, true), to = random_tuple(rng, true);
    FrameSpec s = spec_for(from);
    s.ttl = static_cast<uint8_t>(2 + rng() % 254);
    const bool after = i % 2;
    FrameSpec probe = s;
    if (after) {
      probe = spec_for(to);
      probe.ttl = static_cast<uint8_t>(s.ttl - 1);
    }
    probe.ip_id = 0;
    auto pf = fixtures::build_frame(probe);
    std::vector<uint8_t> ip(pf.begin() + 14, pf.begin() + 34);
    ip[10] = ip[11] = 0;
    // Header sum without id is S; id = ~S makes the sum 0xFFFF, checksum 0.
    s.ip_id = static_cast<uint16_t>(~fixtures::ref_sum(ip));
    const auto before = fixtures::build_frame(s);
    if (!after) { ASSERT_EQ(load_be16(before.data() + 24), 0x0000); }
    auto f = before;
    FrameInfo fi;
    ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
    ASSERT_TRUE(apply_rewrite(f.data(), fi, rewrite_for(from, to), kBackendPortMac));
    expect_rewritten(before, f, to, true);
    if (after) { EXPECT_EQ(load_be16(f.data() + 24), 0x0000); }
    if (::testing::Test::HasFailure()) FAIL() << "iteration " << i;
  }
}

TEST(Rewrite, IdentityRewriteOnlyDecrementsTtl) {
  const Tuple t{fixtures::kCallerV4, fixtures::kOurV4, 1000, 2000};
  auto before = fixtures::build_frame(spec_for(t));
  auto f = before;
  FrameInfo fi;
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
  ASSERT_TRUE(apply_rewrite(f.data(), fi, rewrite_for(t, t), kBackendPortMac));
  expect_rewritten(before, f, t, true);
  EXPECT_EQ(load_be16(f.data() + 34 + 6), load_be16(before.data() + 34 + 6));
}

TEST(Rewrite, TtlExpiredLeavesFrameUntouched) {
  for (bool v4 : {true, false}) {
    for (uint8_t ttl : {0, 1}) {
      FrameSpec s = v4 ? FrameSpec{} : fixtures::udp6_spec();
      s.ttl = ttl;
      const auto before = fixtures::build_frame(s);
      auto f = before;
      FrameInfo fi;
      ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
      EXPECT_TRUE(ttl_expired(fi));
      const Tuple to{s.dst, s.src, 1, 2};
      const Tuple from{s.src, s.dst, s.sport, s.dport};
      EXPECT_FALSE(apply_rewrite(f.data(), fi, rewrite_for(from, to), kBackendPortMac));
      EXPECT_FALSE(apply_rewrite_offload(f.data(), fi, rewrite_for(from, to), kBackendPortMac));
      EXPECT_EQ(f, before);
    }
  }
  FrameInfo fi;
  fi.ttl = 2;
  EXPECT_FALSE(ttl_expired(fi));
}

TEST(Rewrite, FamilyChangeIsRefused) {
  const IpAddr a4 = fixtures::kCallerV4, b4 = fixtures::kOurV4;
  const IpAddr a6 = fixtures::kCallerV6, b6 = fixtures::kOurV6;
  const MacAddr m;
  EXPECT_FALSE(make_rewrite(a4, b4, 1, 2, a6, b6, 1, 2, m));
  EXPECT_FALSE(make_rewrite(a4, b4, 1, 2, a4, b6, 1, 2, m));
  EXPECT_FALSE(make_rewrite(a4, b6, 1, 2, a4, b4, 1, 2, m));
  EXPECT_FALSE(make_rewrite(a6, b6, 1, 2, a6, b4, 1, 2, m));
  EXPECT_TRUE(make_rewrite(a6, b6, 1, 2, b6, a6, 3, 4, m));
}

TEST(Rewrite, OffloadPreparesWhatDpdkExpects) {
  std::mt19937 rng(11);
  for (int i = 0; i < 200; ++i) {
    const bool v4 = i % 2 == 0;
    const Tuple from = random_tuple(rng, v4), to = random_tuple(rng, v4);
    FrameSpec s = spec_for(from);
    s.payload = fixtures::random_bytes(rng, rng() % 300);
    s.udp_csum = !(v4 && i % 4 == 0);
    if (i % 3 == 0) s.vlan_tci = 3;
    auto f = fixtures::build_frame(s);
    FrameInfo fi;
    ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
    ASSERT_TRUE(apply_rewrite_offload(f.data(), fi, rewrite_for(from, to), kBackendPortMac));
    ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
    EXPECT_EQ(fi.src, to.src);
    EXPECT_EQ(fi.dport, to.dport);
    if (v4) { EXPECT_EQ(load_be16(f.data() + fi.l3_off + kIpv4CsumOff), 0); }
    const uint16_t phdr =
        fixtures::ref_sum(fixtures::ref_pseudo_header(to.src, to.dst, 17, fi.udp_len));
    EXPECT_EQ(load_be16(f.data() + fi.l4_off + kUdpCsumOff), phdr);
    // What the NIC does: complement of the sum of the segment over the
    // pseudo-header sum now in the field; the result must verify.
    uint8_t* udp = f.data() + fi.l4_off;
    std::vector<uint8_t> seg(udp, udp + fi.udp_len);
    store_be16(udp + kUdpCsumOff, fixtures::ref_checksum(seg));
    if (v4) {
      uint8_t* ip = f.data() + fi.l3_off;
      store_be16(ip + kIpv4CsumOff, ipv4_header_checksum(ip, 20));
      EXPECT_TRUE(ipv4_header_checksum_valid(f.data(), fi));
    }
    EXPECT_TRUE(udp_checksum_valid(f.data(), fi));
  }
}

TEST(Rewrite, RoundTripRestoresTheFrame) {
  // Caller -> backend, then the mirror rewrite back: same bytes except the
  // TTL (down by 2) and the MACs.
  const Tuple caller{fixtures::kCallerV4, fixtures::kOurV4, 40000, 10080};
  const Tuple leg{IpAddr::from_v4_host(0xC6120101), IpAddr::from_v4_host(0xC6120102), 20000, 10080};
  FrameSpec s = spec_for(caller);
  s.ttl = 10;
  const auto orig = fixtures::build_frame(s);
  auto f = orig;
  FrameInfo fi;
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
  ASSERT_TRUE(apply_rewrite(f.data(), fi, rewrite_for(caller, leg), kBackendPortMac));
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
  ASSERT_TRUE(apply_rewrite(f.data(), fi, rewrite_for(leg, caller), kBackendPortMac));
  f[14 + 8] = 10;  // restore TTL and the header checksum
  store_be16(f.data() + 24, load_be16(orig.data() + 24));
  EXPECT_TRUE(std::equal(f.begin() + 12, f.end(), orig.begin() + 12));
}

}  // namespace
}  // namespace srtfwd::net

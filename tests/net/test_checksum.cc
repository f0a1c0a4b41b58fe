// Checksums against published values and against the naive reference of
// frames.h, and RFC 1624 incremental updates against full recomputation.
#include <gtest/gtest.h>

#include <random>

#include "frames.h"
#include "srtfwd/net/checksum.h"

namespace srtfwd::net {
namespace {

std::vector<uint8_t> hex(std::string_view s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size();) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

TEST(Checksum, Ipv4HeaderKnownValue) {
  // The classic example header (Wikipedia "Internet checksum"): checksum b861.
  auto h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
  EXPECT_EQ(ipv4_header_checksum(h.data(), h.size()), 0xb861);
  h[10] = h[11] = 0xaa;  // the field itself is not summed
  EXPECT_EQ(ipv4_header_checksum(h.data(), h.size()), 0xb861);
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
  auto b = hex("0001 f203 f4f5 f6f7");
  EXPECT_EQ(csum_fold(csum_bytes(b.data(), b.size())), 0xddf2);
}

TEST(Checksum, BytesMatchReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(1);
  std::vector<uint8_t> buf(300);
  for (auto& x : buf) x = static_cast<uint8_t>(rng());
  for (size_t off = 0; off < 4; ++off)
    for (size_t n = 0; n + off <= buf.size(); ++n) {
      std::vector<uint8_t> part(buf.begin() + off, buf.begin() + off + n);
      ASSERT_EQ(csum_fold(csum_bytes(buf.data() + off, n)), fixtures::ref_sum(part))
          << "off " << off << " len " << n;
    }
  // All-ones data must not lose carries.
  std::vector<uint8_t> ones(4096, 0xff);
  EXPECT_EQ(csum_fold(csum_bytes(ones.data(), ones.size())), 0xffff);
  EXPECT_EQ(csum_fold(csum_bytes(ones.data(), ones.size(), 5)), fixtures::ref_sum(ones, 5));
}

TEST(Checksum, UdpMatchesReferenceBothFamilies) {
  std::mt19937 rng(2);
  for (int i = 0; i < 200; ++i) {
    fixtures::FrameSpec s = (i & 1) ? fixtures::udp6_spec() : fixtures::FrameSpec{};
    s.payload = fixtures::random_bytes(rng, rng() % 200);
    const auto f = fixtures::build_frame(s);
    const size_t l4 = 14 + ((i & 1) ? 40 : 20);
    std::vector<uint8_t> seg(f.begin() + static_cast<std::ptrdiff_t>(l4), f.end());
    EXPECT_EQ(udp_checksum(s.src, s.dst, seg.data(), seg.size()), load_be16(seg.data() + 6));
  }
}

TEST(Checksum, UdpZeroIsSentAsFfff) {
  // Choose two payload bytes so that the checksum computes to 0.
  fixtures::FrameSpec s;
  s.payload = {0, 0, 1, 2, 3, 4};
  auto f = fixtures::build_frame(s);
  const size_t l4 = 34;
  std::vector<uint8_t> seg(f.begin() + l4, f.end());
  seg[6] = seg[7] = 0;
  const uint16_t sum =
      fixtures::ref_sum(seg, fixtures::ref_sum(fixtures::ref_pseudo_header(
                                 s.src, s.dst, IP_PROTO_UDP, uint32_t(seg.size()))));
  const uint16_t fill = static_cast<uint16_t>(~sum);
  seg[8] = uint8_t(fill >> 8);
  seg[9] = uint8_t(fill);
  EXPECT_EQ(l4_checksum(s.src, s.dst, IP_PROTO_UDP, seg.data(), seg.size(), kUdpCsumOff), 0);
  EXPECT_EQ(udp_checksum(s.src, s.dst, seg.data(), seg.size()), 0xffff);
}

TEST(Checksum, PseudoHeaderMatchesReference) {
  for (auto [src, dst] : {std::pair{fixtures::kCallerV4, fixtures::kOurV4},
                          std::pair{fixtures::kCallerV6, fixtures::kOurV6}}) {
    for (uint32_t len : {8u, 9u, 1316u + 8u, 65535u}) {
      const uint16_t want = fixtures::ref_sum(fixtures::ref_pseudo_header(src, dst, 17, len));
      EXPECT_EQ(csum_fold(pseudo_header_sum(src, dst, 17, len)), want);
    }
  }
}

TEST(Checksum, Rfc1624Example) {
  // RFC 1624 section 4: HC 0xDD2F, m 0x5555 -> m' 0x3285 gives HC' 0x0000
  // (equation 3), where the older equation 2 gave the wrong 0xFFFF.
  EXPECT_EQ(csum_update(0xdd2f, csum_delta16(0x5555, 0x3285)), 0x0000);
  EXPECT_EQ(csum_update_folded(0xdd2f, csum_fold(csum_delta16(0x5555, 0x3285))), 0x0000);
}

TEST(Checksum, IncrementalEqualsRecomputeRandom) {
  std::mt19937 rng(3);
  for (int i = 0; i < 5000; ++i) {
    std::vector<uint8_t> d(40);
    for (auto& x : d) x = static_cast<uint8_t>(rng());
    // Bias toward carry corner cases: words of all ones and zeros.
    if (i % 4 == 0) std::fill(d.begin(), d.begin() + 8, 0xff);
    if (i % 4 == 1) std::fill(d.begin(), d.begin() + 8, 0x00);
    d[10] = d[11] = 0;
    const uint16_t hc = fixtures::ref_checksum(d);
    d[10] = uint8_t(hc >> 8);
    d[11] = uint8_t(hc);
    // Change a 16-bit word, a 32-bit word and 16 bytes, their deltas summed
    // and folded once and applied as the data path applies a session's.
    const uint16_t o2 = load_be16(d.data() + 0), n2 = static_cast<uint16_t>(i % 3 ? rng() : 0xffff);
    store_be16(d.data() + 0, n2);
    uint32_t delta = csum_delta16(o2, n2);
    uint8_t new4[4];
    for (auto& x : new4) x = static_cast<uint8_t>(rng());
    delta += csum_delta_bytes(d.data() + 12, new4, 4);
    std::memcpy(d.data() + 12, new4, 4);
    uint8_t new16[16];
    for (auto& x : new16) x = static_cast<uint8_t>(i % 5 ? rng() : 0);
    delta += csum_delta_bytes(d.data() + 20, new16, 16);
    std::memcpy(d.data() + 20, new16, 16);
    const uint16_t updated = csum_update_folded(hc, csum_fold(delta));
    ASSERT_EQ(updated, csum_update(hc, delta)) << "iteration " << i;
    std::vector<uint8_t> z = d;
    z[10] = z[11] = 0;
    ASSERT_EQ(updated, fixtures::ref_checksum(z)) << "iteration " << i;
  }
}

TEST(Checksum, UdpUpdateRules) {
  EXPECT_EQ(udp_csum_update(0, 0x1234, true), 0) << "IPv4 'no checksum' stays";
  EXPECT_NE(udp_csum_update(0, 0x1234, false), 0);
  // A word going from 0 to hc raises the data sum by hc, so the checksum hc
  // becomes 0, which UDP must send as 0xFFFF.
  const uint16_t hc = 0x1234;
  const uint32_t delta = csum_delta16(0x0000, hc);
  EXPECT_EQ(csum_update(hc, delta), 0x0000);
  EXPECT_EQ(udp_csum_update(hc, delta, true), 0xffff);
  EXPECT_EQ(udp_csum_update(hc, delta, false), 0xffff);
}

}  // namespace
// The worker's update for a delta folded to 16 bits is the general one.
TEST(Checksum, FoldedUpdateEqualsGeneralUpdate) {
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245u + 12345u;
    const auto hc = static_cast<uint16_t>(x >> 8);
    const auto delta = static_cast<uint16_t>(i < 65536 ? i : x >> 16);
    ASSERT_EQ(csum_update_folded(hc, delta), csum_update(hc, delta)) << hc << " " << delta;
    ASSERT_EQ(udp_csum_update_folded(hc, delta, true), udp_csum_update(hc, delta, true));
    ASSERT_EQ(udp_csum_update_folded(hc, delta, false), udp_csum_update(hc, delta, false));
  }
  EXPECT_EQ(csum_update_folded(0xffff, 0xffff), csum_update(0xffff, 0xffffu));
  EXPECT_EQ(udp_csum_update_folded(0, 0x1234, true), 0);
  // Every delta against a sample of checksums (every checksum for one delta
  // in 257), and every checksum against the delta equal to it (the borrow
  // form's zero: ~(~hc + hc) is 0, where one's complement hc + ~hc is 0xFFFF)
  // and its neighbours.
  for (uint32_t delta = 0; delta <= 0xffff; ++delta) {
    for (uint32_t hc = delta % 89; hc <= 0xffff; hc += (delta % 257 == 0 ? 1 : 89))
      ASSERT_EQ(csum_update_folded(static_cast<uint16_t>(hc), static_cast<uint16_t>(delta)),
                csum_update(static_cast<uint16_t>(hc), delta))
          << hc << " " << delta;
  }
  for (uint32_t hc = 0; hc <= 0xffff; ++hc) {
    for (const uint32_t delta : {hc, (hc + 1) & 0xffff, (hc - 1) & 0xffff, (~hc) & 0xffff}) {
      ASSERT_EQ(csum_update_folded(static_cast<uint16_t>(hc), static_cast<uint16_t>(delta)),
                csum_update(static_cast<uint16_t>(hc), delta))
          << hc << " " << delta;
    }
  }
  EXPECT_EQ(csum_update_folded(0x1234, 0x1234), 0x0000);
  // Every checksum with the deltas at the carry's edges.
  for (const uint16_t delta : {0x0000, 0x0001, 0x7fff, 0x8000, 0xfffe, 0xffff}) {
    for (uint32_t hc = 0; hc <= 0xffff; ++hc) {
      ASSERT_EQ(csum_update_folded(static_cast<uint16_t>(hc), delta),
                csum_update(static_cast<uint16_t>(hc), delta))
          << hc << " " << delta;
      ASSERT_EQ(udp_csum_update_folded(static_cast<uint16_t>(hc), delta, true),
                udp_csum_update(static_cast<uint16_t>(hc), delta, true))
          << hc << " " << delta;
    }
  }
}

// The worker's IPv4 UDP update from the delta's complement is the general
// one, for every delta and a sample of checksums.
TEST(Checksum, UdpUpdateFromComplementEqualsFoldedUpdate) {
  for (uint32_t delta = 0; delta <= 0xffff; ++delta) {
    const auto nd = static_cast<uint16_t>(~delta);
    for (uint32_t hc = 0; hc <= 0xffff; hc += (delta % 257 == 0 ? 1 : 97)) {
      ASSERT_EQ(udp4_csum_update_ndelta(static_cast<uint16_t>(hc), nd),
                udp_csum_update(static_cast<uint16_t>(hc), delta, true))
          << hc << " " << delta;
    }
    // And the edges: 0 (none), 1, 0xfffe, 0xffff.
    for (const uint16_t hc : {0x0000, 0x0001, 0xfffe, 0xffff})
      ASSERT_EQ(udp4_csum_update_ndelta(hc, nd), udp_csum_update(hc, delta, true))
          << hc << " " << delta;
  }
}

}  // namespace srtfwd::net

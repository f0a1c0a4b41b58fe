// xlat_4to6() / xlat_6to4(): the translated frame must be byte for byte the
// frame a reference builder makes for the new tuple in the other family
// (every header field, both checksums computed in full), for random tuples,
// payloads, TTLs and traffic classes, with and without a VLAN tag.
#include <gtest/gtest.h>

#include <random>

#include "frames.h"
#include "srtfwd/net/parse.h"
#include "srtfwd/net/xlat.h"

namespace srtfwd::net {
namespace {

using fixtures::FrameSpec;

const MacAddr kPortMac{{0x02, 0, 0, 0, 0, 0x02}};
const MacAddr kNextHop{{0x02, 0, 0, 0, 0x0b, 0x01}};

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

FrameSpec spec_for(const Tuple& t) {
  FrameSpec s = t.src.is_v4() ? FrameSpec{} : fixtures::udp6_spec();
  s.src = t.src;
  s.dst = t.dst;
  s.sport = t.sport;
  s.dport = t.dport;
  return s;
}

Rewrite xlat_for(const Tuple& from, const Tuple& to) {
  auto rw = make_xlat_rewrite(from.src, from.dst, from.sport, from.dport, to.src, to.dst, to.sport,
                              to.dport, kNextHop);
  EXPECT_TRUE(rw.has_value());
  return rw.value_or(Rewrite{});
}

// Translates `in` (built from `s_in`) into a buffer with kXlatGrowth bytes
// of room in front, as an mbuf's headroom; returns the translated frame.
std::vector<uint8_t> translate(const std::vector<uint8_t>& in, uint32_t l3_off, const Rewrite& rw,
                               XlatResult* res) {
  std::vector<uint8_t> buf(kXlatGrowth, 0xee);
  buf.insert(buf.end(), in.begin(), in.end());
  uint8_t* frame = buf.data() + kXlatGrowth;
  const auto len = static_cast<uint32_t>(in.size());
  if (in[l3_off] >> 4 == 4) {
    *res = xlat_4to6(frame, l3_off, len, rw, kPortMac);
    if (*res != XlatResult::kOk) return {buf.begin() + kXlatGrowth, buf.end()};
    return buf;
  }
  *res = xlat_6to4(frame, l3_off, len, rw, kPortMac);
  if (*res != XlatResult::kOk) return {buf.begin() + kXlatGrowth, buf.end()};
  return {buf.begin() + 2 * kXlatGrowth, buf.end()};
}

// The frame the translation must produce: the input's spec in the other
// family, new tuple, TTL - 1, our MACs, IPv4 ID 0 with DF.
std::vector<uint8_t> expected(FrameSpec s, const Tuple& to) {
  s.src = to.src;
  s.dst = to.dst;
  s.sport = to.sport;
  s.dport = to.dport;
  s.ttl = static_cast<uint8_t>(s.ttl - 1);
  s.src_mac = kPortMac;
  s.dst_mac = kNextHop;
  s.ip_id = 0;
  s.frag = kIpv4FlagDf;
  s.udp_csum = true;
  return fixtures::build_frame(s);
}

void check_random(bool from_v4, bool tagged, bool zero_csum) {
  std::mt19937 rng(from_v4 * 2 + tagged + 77);
  for (int i = 0; i < 2000; ++i) {
    const Tuple from = random_tuple(rng, from_v4), to = random_tuple(rng, !from_v4);
    FrameSpec s = spec_for(from);
    if (tagged) s.vlan_tci = static_cast<uint16_t>(rng() & 0xefff);
    s.ttl = static_cast<uint8_t>(2 + rng() % 254);
    s.tos = static_cast<uint8_t>(rng());
    s.payload = fixtures::random_bytes(rng, rng() % 1400);
    s.udp_csum = !zero_csum;
    s.trailer = rng() % 4 == 0 ? rng() % 30 : 0;  // Ethernet padding stays behind the packet
    const auto in = fixtures::build_frame(s);
    XlatResult res;
    const auto out = translate(in, tagged ? 18 : 14, xlat_for(from, to), &res);
    ASSERT_EQ(res, XlatResult::kOk);
    const auto want = expected(s, to);
    ASSERT_EQ(out, want) << "frame " << i;
    // And it parses as a UDP frame of the other family whose checksums verify.
    FrameInfo fi;
    ASSERT_EQ(parse_frame(out.data(), static_cast<uint32_t>(out.size()), fi), Verdict::Udp);
    EXPECT_EQ(fi.ip_version, from_v4 ? 6 : 4);
    EXPECT_TRUE(udp_checksum_valid(out.data(), fi));
    EXPECT_NE(load_be16(out.data() + fi.l4_off + kUdpCsumOff), 0);
    if (!from_v4) { EXPECT_TRUE(ipv4_header_checksum_valid(out.data(), fi)); }
  }
}

TEST(Xlat, FourToSixMatchesAReferenceFrame) { check_random(true, false, false); }
TEST(Xlat, FourToSixTagged) { check_random(true, true, false); }
// IPv6 requires a UDP checksum: one is computed for a datagram without.
TEST(Xlat, FourToSixWithoutUdpChecksumGetsOne) { check_random(true, false, true); }
TEST(Xlat, SixToFourMatchesAReferenceFrame) { check_random(false, false, false); }
TEST(Xlat, SixToFourTagged) { check_random(false, true, false); }

// A translated checksum that computes to 0 is sent as 0xFFFF (0 is "none"
// in IPv4, invalid in IPv6): a payload word chosen to make it so, each way,
// incremental and (IPv4 without checksum) computed in full.
TEST(Xlat, ZeroResultIsSentAsFfff) {
  std::mt19937 rng(11);
  for (int kind = 0; kind < 3; ++kind) {
    const bool from_v4 = kind != 1;
    const Tuple from = random_tuple(rng, from_v4), to = random_tuple(rng, !from_v4);
    FrameSpec s = spec_for(from);
    s.payload = fixtures::random_bytes(rng, 100);
    s.payload[40] = s.payload[41] = 0;
    s.udp_csum = kind != 2;
    XlatResult res;
    auto out = translate(fixtures::build_frame(s), 14, xlat_for(from, to), &res);
    ASSERT_EQ(res, XlatResult::kOk);
    const size_t csum_at = 14 + (from_v4 ? 40 : 20) + kUdpCsumOff;
    const uint16_t c = load_be16(out.data() + csum_at);
    // Adding ~sum to the sum makes it 0xFFFF: the checksum computes to 0.
    s.payload[40] = static_cast<uint8_t>(c >> 8);
    s.payload[41] = static_cast<uint8_t>(c);
    out = translate(fixtures::build_frame(s), 14, xlat_for(from, to), &res);
    ASSERT_EQ(res, XlatResult::kOk);
    EXPECT_EQ(load_be16(out.data() + csum_at), 0xffff) << kind;
    EXPECT_EQ(out, expected(s, to)) << kind;
  }
}

TEST(Xlat, FieldsByHand) {
  // One frame each way, fields read back by offset.
  const Tuple c6{*IpAddr::parse("2001:2::10"), *IpAddr::parse("2001:2::1"), 5000, 4000};
  const Tuple o4{IpAddr::from_v4_host(0xC6120001), IpAddr::from_v4_host(0xC6130005), 32000, 9000};
  FrameSpec s = spec_for(c6);
  s.ttl = 9;
  s.tos = 0xb9;  // DSCP 46 (EF), ECN 1
  const auto in = fixtures::build_frame(s);
  XlatResult res;
  const auto out = translate(in, 14, xlat_for(c6, o4), &res);
  ASSERT_EQ(res, XlatResult::kOk);
  ASSERT_EQ(out.size(), in.size() - 20);
  EXPECT_EQ(load_be16(out.data() + 12), ETHER_TYPE_IPV4);
  const uint8_t* ip = out.data() + 14;
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(ip[1], 0xb9);
  EXPECT_EQ(load_be16(ip + 2), 20 + 8 + s.payload.size());
  EXPECT_EQ(load_be16(ip + 4), 0);       // ID
  EXPECT_EQ(load_be16(ip + 6), 0x4000);  // DF, offset 0
  EXPECT_EQ(ip[8], 8);
  EXPECT_EQ(ip[9], IP_PROTO_UDP);
  EXPECT_EQ(load_be32(ip + 12), 0xC6120001u);
  EXPECT_EQ(load_be32(ip + 16), 0xC6130005u);
  EXPECT_EQ(load_be16(ip + 20), 32000);
  EXPECT_EQ(load_be16(ip + 22), 9000);

  // And back: the origin's answer to the caller.
  FrameSpec r = spec_for({o4.dst, o4.src, 9000, 32000});
  r.ttl = 64;
  r.tos = 0x2a;
  const auto in4 = fixtures::build_frame(r);
  const auto out6 = translate(
      in4, 14, xlat_for({o4.dst, o4.src, 9000, 32000}, {c6.dst, c6.src, 4000, 5000}), &res);
  ASSERT_EQ(res, XlatResult::kOk);
  ASSERT_EQ(out6.size(), in4.size() + 20);
  EXPECT_EQ(load_be16(out6.data() + 12), ETHER_TYPE_IPV6);
  const uint8_t* ip6 = out6.data() + 14;
  EXPECT_EQ(load_be32(ip6), 0x60000000u | 0x2au << 20);  // traffic class, flow label 0
  EXPECT_EQ(load_be16(ip6 + 4), 8 + r.payload.size());
  EXPECT_EQ(ip6[6], IP_PROTO_UDP);
  EXPECT_EQ(ip6[7], 63);
  EXPECT_EQ(IpAddr::from_v6(ip6 + 8), c6.dst);
  EXPECT_EQ(IpAddr::from_v6(ip6 + 24), c6.src);
  EXPECT_EQ(load_be16(ip6 + 40), 4000);
  EXPECT_EQ(load_be16(ip6 + 42), 5000);
}

TEST(Xlat, ExpiredTtlLeavesTheFrame) {
  std::mt19937 rng(5);
  for (bool v4 : {true, false}) {
    for (uint8_t ttl : {0, 1}) {
      const Tuple from = random_tuple(rng, v4), to = random_tuple(rng, !v4);
      FrameSpec s = spec_for(from);
      s.ttl = ttl;
      const auto in = fixtures::build_frame(s);
      XlatResult res;
      const auto out = translate(in, 14, xlat_for(from, to), &res);
      EXPECT_EQ(res, XlatResult::kTtlExpired);
      EXPECT_EQ(out, in);
    }
  }
}

TEST(Xlat, MalformedLeavesTheFrame) {
  std::mt19937 rng(6);
  for (bool v4 : {true, false}) {
    const Tuple from = random_tuple(rng, v4), to = random_tuple(rng, !v4);
    FrameSpec s = spec_for(from);
    s.udp_len = 200;  // beyond the frame
    const auto in = fixtures::build_frame(s);
    XlatResult res;
    EXPECT_EQ(translate(in, 14, xlat_for(from, to), &res), in);
    EXPECT_EQ(res, XlatResult::kMalformed);
    FrameSpec o = spec_for(from);
    if (v4)
      o.ihl = 6;  // options
    else
      o.proto = IP_PROTO_TCP;
    const auto in2 = fixtures::build_frame(o);
    EXPECT_EQ(translate(in2, 14, xlat_for(from, to), &res), in2);
    EXPECT_EQ(res, XlatResult::kMalformed);
  }
}

TEST(Xlat, RewriteNeedsTwoFamilies) {
  std::mt19937 rng(7);
  const Tuple a4 = random_tuple(rng, true), b4 = random_tuple(rng, true);
  const Tuple a6 = random_tuple(rng, false);
  EXPECT_FALSE(make_xlat_rewrite(a4.src, a4.dst, 1, 2, b4.src, b4.dst, 3, 4, kNextHop));
  EXPECT_FALSE(make_xlat_rewrite(a4.src, a6.dst, 1, 2, a6.src, a6.dst, 3, 4, kNextHop));
  EXPECT_FALSE(make_xlat_rewrite(a4.src, a4.dst, 1, 2, a6.src, a4.dst, 3, 4, kNextHop));
  const auto rw = make_xlat_rewrite(a6.src, a6.dst, 1, 2, a4.src, a4.dst, 3, 4, kNextHop);
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->ip_csum_delta, xlat_ipv4_header_base(a4.src, a4.dst));
  // The same-family rewrite refuses what this one takes.
  EXPECT_FALSE(make_rewrite(a6.src, a6.dst, 1, 2, a4.src, a4.dst, 3, 4, kNextHop));
}

}  // namespace
}  // namespace srtfwd::net

// parse_frame() over the fixture table, every truncation of the accepted
// frames, and the checksum validators.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "frames.h"
#include "srtfwd/net/parse.h"

namespace srtfwd::net {
namespace {

using fixtures::FrameSpec;
using fixtures::ParseFixture;

bool accepted(Verdict v) {
  return v == Verdict::Udp || v == Verdict::Icmp4 || v == Verdict::Icmp6 || v == Verdict::Arp;
}

std::vector<ParseFixture> accepted_fixtures() {
  std::vector<ParseFixture> v;
  for (auto& fx : fixtures::parse_fixtures())
    if (accepted(fx.verdict)) v.push_back(fx);
  return v;
}

auto fixture_name = [](const auto& param_info) { return param_info.param.name; };

class ParseFixtures : public ::testing::TestWithParam<ParseFixture> {};

TEST_P(ParseFixtures, Verdict) {
  const ParseFixture& fx = GetParam();
  const std::vector<uint8_t> f = fx.bytes();
  FrameInfo fi;
  EXPECT_EQ(to_string(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi)),
            to_string(fx.verdict));
}

// Every prefix, in a buffer of exactly that size so that ASan reports any
// read past the end.
TEST_P(ParseFixtures, NoReadBeyondAnyTruncation) {
  const std::vector<uint8_t> full = GetParam().bytes();
  for (size_t n = 0; n <= full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    FrameInfo fi;
    const Verdict v = parse_frame(n ? cut.data() : nullptr, static_cast<uint32_t>(n), fi);
    ASSERT_LT(static_cast<size_t>(v), static_cast<size_t>(Verdict::kCount));
    if (v == Verdict::Udp) { ASSERT_LE(size_t{fi.payload_off} + fi.payload_len, n); }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ParseFixtures, ::testing::ValuesIn(fixtures::parse_fixtures()),
                         fixture_name);

class AcceptedFixtures : public ::testing::TestWithParam<ParseFixture> {};

TEST_P(AcceptedFixtures, Fields) {
  const ParseFixture& fx = GetParam();
  const FrameSpec& s = fx.spec;
  const std::vector<uint8_t> f = fx.bytes();
  FrameInfo fi;
  const Verdict v = parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi);
  ASSERT_EQ(v, fx.verdict);
  const uint16_t l3 = s.vlan_tci ? 18 : 14;
  EXPECT_EQ(fi.vlan, s.vlan_tci.has_value());
  EXPECT_EQ(fi.vlan_tci, s.vlan_tci.value_or(0));
  EXPECT_EQ(fi.l3_off, l3);
  if (v == Verdict::Arp) {
    EXPECT_EQ(fi.ethertype, ETHER_TYPE_ARP);
    return;
  }
  const bool v4 = s.src.is_v4();
  EXPECT_EQ(fi.ethertype, v4 ? ETHER_TYPE_IPV4 : ETHER_TYPE_IPV6);
  EXPECT_EQ(fi.ip_version, v4 ? 4 : 6);
  EXPECT_EQ(fi.l4_off, l3 + (v4 ? 20 : 40));
  EXPECT_EQ(fi.src, s.src);
  EXPECT_EQ(fi.dst, s.dst);
  EXPECT_EQ(fi.ttl, s.ttl);
  EXPECT_EQ(fi.l4_proto, s.proto);
  EXPECT_LE(fi.ip_end(), f.size());
  if (v4) { EXPECT_TRUE(ipv4_header_checksum_valid(f.data(), fi)); }
  if (v == Verdict::Udp) {
    EXPECT_EQ(fi.sport, s.sport);
    EXPECT_EQ(fi.dport, s.dport);
    EXPECT_EQ(fi.sport_be(), to_be16(s.sport));
    EXPECT_EQ(fi.dport_be(), to_be16(s.dport));
    EXPECT_EQ(fi.payload_off, fi.l4_off + 8);
    EXPECT_EQ(fi.udp_len, s.udp_len.value_or(static_cast<uint16_t>(8 + s.payload.size())));
    EXPECT_EQ(fi.payload_len, fi.udp_len - 8);
    if (fi.payload_len > 0) {
      EXPECT_EQ(0, std::memcmp(f.data() + fi.payload_off, s.payload.data(), fi.payload_len));
    }
    EXPECT_TRUE(udp_checksum_valid(f.data(), fi));
  } else {
    EXPECT_EQ(fi.payload_off, fi.l4_off);
    EXPECT_EQ(fi.payload_len, 8 + s.payload.size());
    EXPECT_TRUE(icmp_checksum_valid(f.data(), fi));
  }
}

// Every prefix of an accepted frame gets the verdict its length implies.
TEST_P(AcceptedFixtures, EveryTruncation) {
  const ParseFixture& fx = GetParam();
  const std::vector<uint8_t> full = fx.bytes();
  FrameInfo fi;
  const Verdict v = parse_frame(full.data(), static_cast<uint32_t>(full.size()), fi);
  for (size_t n = 0; n <= full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    FrameInfo t;
    const Verdict got = parse_frame(n ? cut.data() : nullptr, static_cast<uint32_t>(n), t);
    Verdict want = v;
    if (n < fi.l3_off) {
      want = Verdict::TruncatedEth;
    } else if (v == Verdict::Arp) {
      if (n < size_t{fi.l3_off} + kArpLen) want = Verdict::TruncatedArp;
    } else if (n < size_t{fi.l3_off} + (fi.ip_version == 4 ? 20 : 40)) {
      want = Verdict::TruncatedIp;
    } else if (n < fi.ip_end()) {
      want = Verdict::BadIpLength;
    }
    EXPECT_EQ(to_string(got), to_string(want)) << "length " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, AcceptedFixtures, ::testing::ValuesIn(accepted_fixtures()),
                         fixture_name);

TEST(Parse, FixtureNamesAreUniqueAndEveryRejectionIsCovered) {
  std::set<std::string> names;
  std::set<Verdict> seen;
  for (const auto& fx : fixtures::parse_fixtures()) {
    EXPECT_TRUE(names.insert(fx.name).second) << fx.name;
    seen.insert(fx.verdict);
  }
  for (size_t i = 0; i < static_cast<size_t>(Verdict::kCount); ++i) {
    const auto v = static_cast<Verdict>(i);
    if (v == Verdict::TruncatedEth || v == Verdict::TruncatedIp) continue;  // by EveryTruncation
    EXPECT_TRUE(seen.count(v)) << "no fixture for " << to_string(v);
  }
}

TEST(Parse, VerdictNamesAreDistinct) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < static_cast<size_t>(Verdict::kCount); ++i) {
    const auto name = to_string(static_cast<Verdict>(i));
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(to_string(Verdict::kCount), "unknown");
}

TEST(Parse, ShortVlanHeaderIsTruncatedEth) {
  FrameSpec s;
  s.vlan_tci = 7;
  const auto f = fixtures::build_frame(s);
  for (uint32_t n = 14; n < 18; ++n) {
    FrameInfo fi;
    EXPECT_EQ(parse_frame(f.data(), n, fi), Verdict::TruncatedEth) << n;
  }
}

TEST(Parse, OptionsAndFragmentsStillReportAddresses) {
  // The slow path needs to know who sent them.
  FrameSpec s;
  s.ihl = 7;
  auto f = fixtures::build_frame(s);
  FrameInfo fi;
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::IpOptions);
  EXPECT_EQ(fi.src, s.src);
  EXPECT_EQ(fi.l4_off, 14 + 28);
  EXPECT_TRUE(ipv4_header_checksum_valid(f.data(), fi));
  s = FrameSpec{};
  s.frag = kIpv4FlagMf;
  f = fixtures::build_frame(s);
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Fragment);
  EXPECT_EQ(fi.dst, s.dst);
}

TEST(Parse, ChecksumValidators) {
  FrameSpec s;
  s.bad_l4_csum = true;
  auto f = fixtures::build_frame(s);
  FrameInfo fi;
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
  EXPECT_FALSE(udp_checksum_valid(f.data(), fi));
  EXPECT_TRUE(ipv4_header_checksum_valid(f.data(), fi));
  f[14 + 8] ^= 1;  // TTL
  EXPECT_FALSE(ipv4_header_checksum_valid(f.data(), fi));

  s = fixtures::udp6_spec();
  s.udp_csum = false;  // 0 is not "none" in IPv6
  f = fixtures::build_frame(s);
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
  EXPECT_FALSE(udp_checksum_valid(f.data(), fi));
  EXPECT_FALSE(ipv4_header_checksum_valid(f.data(), fi));

  s = FrameSpec{};
  s.proto = IP_PROTO_ICMP;
  s.bad_l4_csum = true;
  f = fixtures::build_frame(s);
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Icmp4);
  EXPECT_FALSE(icmp_checksum_valid(f.data(), fi));
}

TEST(Parse, OverwritesPreviousInfo) {
  auto f = fixtures::build_frame(FrameSpec{});
  FrameInfo fi;
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Udp);
  ASSERT_EQ(parse_frame(f.data(), 10, fi), Verdict::TruncatedEth);
  EXPECT_EQ(fi.sport, 0);
  EXPECT_EQ(fi.src, IpAddr{});
}

// The worker's fast classifier agrees with parse_frame on a frame: it accepts
// exactly the IPv4 frames parse_frame calls Udp, with the same fields, and
// fill_frame_info() gives the worker what parse_frame would have.
::testing::AssertionResult fast_agrees(const std::vector<uint8_t>& f) {
  const auto n = static_cast<uint32_t>(f.size());
  FrameInfo fi;
  const Verdict v = parse_frame(n ? f.data() : nullptr, n, fi);
  FastV4 fv;
  const bool fast = parse_ipv4_udp_fast(n ? f.data() : nullptr, n, fv);
  const bool want = v == Verdict::Udp && fi.ip_version == 4;
  if (fast != want)
    return ::testing::AssertionFailure()
           << "fast path says " << fast << ", parse_frame " << to_string(v) << " (IPv"
           << int{fi.ip_version} << "), " << n << " bytes";
  if (!fast) return ::testing::AssertionSuccess();
  FrameInfo ff{};
  fill_frame_info(fv, ff);
  uint32_t src = 0, dst = 0, ports = 0;
  std::memcpy(&src, fi.src.b.data() + 12, 4);
  std::memcpy(&dst, fi.dst.b.data() + 12, 4);
  const uint16_t sp = fi.sport_be(), dp = fi.dport_be();
  std::memcpy(&ports, &sp, 2);
  std::memcpy(reinterpret_cast<uint8_t*>(&ports) + 2, &dp, 2);
  if (ff.l3_off != fi.l3_off || ff.l4_off != fi.l4_off || ff.payload_off != fi.payload_off ||
      ff.payload_len != fi.payload_len || ff.ip_version != 4 || ff.ttl != fi.ttl ||
      ff.udp_len != fi.udp_len || fv.src_raw != src || fv.dst_raw != dst || fv.ports_raw != ports)
    return ::testing::AssertionFailure() << "fields differ, " << n << " bytes";
  return ::testing::AssertionSuccess();
}

TEST(ParseFast, AgreesWithParseFrameOnEveryFixtureTruncationAndHeaderByte) {
  std::vector<std::vector<uint8_t>> frames;
  for (auto& fx : fixtures::parse_fixtures()) frames.push_back(fx.bytes());
  FrameSpec tagged;
  tagged.vlan_tci = 0x0123;
  frames.push_back(fixtures::build_frame(tagged));
  unsigned accepted_fast = 0, checked = 0;
  for (const auto& full : frames) {
    // Every prefix, in a buffer of exactly that size (ASan sees overreads).
    for (size_t n = 0; n <= full.size(); ++n) {
      std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      ASSERT_TRUE(fast_agrees(cut));
      ++checked;
    }
    // Every header byte (Ethernet, tag, IPv4/IPv6, UDP) set to values that
    // cross each check's boundary.
    for (size_t i = 0; i < full.size() && i < 70; ++i) {
      for (uint8_t val : {0x00, 0x01, 0x05, 0x07, 0x08, 0x11, 0x1b, 0x1c, 0x20, 0x3f, 0x40, 0x45,
                          0x46, 0x60, 0x81, 0x86, 0xdd, 0xff}) {
        std::vector<uint8_t> g = full;
        g[i] = val;
        ASSERT_TRUE(fast_agrees(g)) << "byte " << i << " = " << int{val};
        ++checked;
        FastV4 fv;
        accepted_fast += parse_ipv4_udp_fast(g.data(), static_cast<uint32_t>(g.size()), fv);
      }
    }
  }
  EXPECT_GT(accepted_fast, 1000u);  // the sweep exercised the accepting side too
  EXPECT_GT(checked, 10000u);
}

TEST(ParseFast, TaggedAndUntaggedOffsets) {
  FastV4 fv;
  auto f = fixtures::build_frame(FrameSpec{});
  ASSERT_TRUE(parse_ipv4_udp_fast(f.data(), static_cast<uint32_t>(f.size()), fv));
  EXPECT_EQ(fv.l3_off, 14);
  FrameSpec t;
  t.vlan_tci = 7;
  f = fixtures::build_frame(t);
  ASSERT_TRUE(parse_ipv4_udp_fast(f.data(), static_cast<uint32_t>(f.size()), fv));
  EXPECT_EQ(fv.l3_off, 18);
  f = fixtures::build_frame(fixtures::udp6_spec());
  EXPECT_FALSE(parse_ipv4_udp_fast(f.data(), static_cast<uint32_t>(f.size()), fv));
}

}  // namespace
}  // namespace srtfwd::net

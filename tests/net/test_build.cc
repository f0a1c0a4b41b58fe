// ARP, ICMP echo, NDP and UDP builders: every built frame goes back through
// parse_frame() and the matching parser, with checksums verified.
#include <gtest/gtest.h>

#include "frames.h"
#include "srtfwd/net/build.h"

namespace srtfwd::net {
namespace {

using fixtures::FrameSpec;
using fixtures::kCallerMac;
using fixtures::kCallerV4;
using fixtures::kCallerV6;
using fixtures::kOurMac;
using fixtures::kOurV4;
using fixtures::kOurV6;

struct Parsed {
  Verdict verdict;
  FrameInfo fi;
};
Parsed parse(const uint8_t* f, size_t n) {
  Parsed p;
  p.verdict = parse_frame(f, static_cast<uint32_t>(n), p.fi);
  return p;
}

// ---- ARP ----

TEST(Arp, RequestAndReplyRoundTrip) {
  for (std::optional<uint16_t> vlan : {std::optional<uint16_t>{}, std::optional<uint16_t>{42}}) {
    uint8_t req[128];
    const size_t n = build_arp_request(req, sizeof req, kCallerMac, kCallerV4, kOurV4, vlan);
    const size_t min = vlan ? 64u : 60u;
    ASSERT_EQ(n, min) << "padded to the Ethernet minimum";
    auto p = parse(req, n);
    ASSERT_EQ(p.verdict, Verdict::Arp);
    EXPECT_EQ(p.fi.vlan, vlan.has_value());
    EXPECT_EQ(MacAddr::from_bytes(req), MacAddr::broadcast());
    ArpInfo a;
    ASSERT_EQ(parse_arp(req, static_cast<uint32_t>(n), p.fi, a), ArpVerdict::Ok);
    EXPECT_EQ(a.op, ARP_OP_REQUEST);
    EXPECT_EQ(a.sha, kCallerMac);
    EXPECT_EQ(a.spa, kCallerV4);
    EXPECT_TRUE(a.tha.is_zero());
    EXPECT_EQ(a.tpa, kOurV4);

    uint8_t rep[128];
    const size_t m = build_arp_reply(rep, sizeof rep, a, kOurMac, vlan_of(p.fi));
    ASSERT_EQ(m, min);
    auto q = parse(rep, m);
    ASSERT_EQ(q.verdict, Verdict::Arp);
    EXPECT_EQ(q.fi.vlan_tci, vlan.value_or(0));
    EXPECT_EQ(MacAddr::from_bytes(rep), kCallerMac);
    EXPECT_EQ(MacAddr::from_bytes(rep + 6), kOurMac);
    ArpInfo r;
    ASSERT_EQ(parse_arp(rep, static_cast<uint32_t>(m), q.fi, r), ArpVerdict::Ok);
    EXPECT_EQ(r.op, ARP_OP_REPLY);
    EXPECT_EQ(r.sha, kOurMac);
    EXPECT_EQ(r.spa, kOurV4);
    EXPECT_EQ(r.tha, kCallerMac);
    EXPECT_EQ(r.tpa, kCallerV4);
    // The padding is zero.
    for (size_t i = q.fi.l3_off + kArpLen; i < m; ++i) EXPECT_EQ(rep[i], 0) << i;
  }
}

TEST(Arp, ParseErrors) {
  FrameSpec s;
  s.ethertype = ETHER_TYPE_ARP;
  auto check = [&](std::vector<uint8_t> body, ArpVerdict want) {
    s.payload = std::move(body);
    auto f = fixtures::build_frame(s);
    FrameInfo fi;
    parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi);
    ArpInfo a;
    EXPECT_EQ(to_string(parse_arp(f.data(), static_cast<uint32_t>(f.size()), fi, a)),
              to_string(want));
  };
  const auto good = fixtures::arp_body(ARP_OP_REQUEST, kCallerMac, kCallerV4, MacAddr{}, kOurV4);
  check(good, ArpVerdict::Ok);
  check({good.begin(), good.end() - 1}, ArpVerdict::Truncated);
  auto b = good;
  b[1] = 6;
  check(b, ArpVerdict::BadHardware);
  b = good;
  b[4] = 8;
  check(b, ArpVerdict::BadHardware);
  b = good;
  b[2] = 0x86;
  b[3] = 0xdd;
  check(b, ArpVerdict::BadProtocol);
  b = good;
  b[5] = 16;
  check(b, ArpVerdict::BadProtocol);
  b = good;
  b[7] = 3;
  check(b, ArpVerdict::BadOp);
  b = good;
  b[7] = 2;
  check(b, ArpVerdict::Ok);
  EXPECT_EQ(to_string(ArpVerdict::kCount), "unknown");
}

TEST(Arp, BuildersRefuseSmallBuffersAndIpv6) {
  uint8_t buf[128];
  EXPECT_EQ(build_arp_request(buf, 59, kOurMac, kOurV4, kCallerV4, std::nullopt), 0u);
  EXPECT_EQ(build_arp_request(buf, sizeof buf, kOurMac, kOurV6, kCallerV4, std::nullopt), 0u);
  ArpInfo a;
  EXPECT_EQ(build_arp_reply(buf, 59, a, kOurMac, std::nullopt), 0u);
  EXPECT_EQ(build_arp_reply(buf, 63, a, kOurMac, uint16_t{1}), 0u);
  EXPECT_EQ(build_arp_reply(buf, 64, a, kOurMac, uint16_t{1}), 64u);
  // Gratuitous ARP.
  const size_t n = build_arp_request(buf, sizeof buf, kOurMac, kOurV4, kOurV4, std::nullopt);
  auto p = parse(buf, n);
  ASSERT_TRUE(parse_arp(buf, static_cast<uint32_t>(n), p.fi, a) == ArpVerdict::Ok);
  EXPECT_EQ(a.spa, a.tpa);
}

// ---- ICMP echo ----

void check_echo_reply(const std::vector<uint8_t>& req, const uint8_t* rep, size_t n, bool v4) {
  auto q = parse(req.data(), req.size());
  auto p = parse(rep, n);
  ASSERT_EQ(p.verdict, v4 ? Verdict::Icmp4 : Verdict::Icmp6);
  EXPECT_EQ(p.fi.src, q.fi.dst);
  EXPECT_EQ(p.fi.dst, q.fi.src);
  EXPECT_EQ(p.fi.ttl, 64);
  EXPECT_EQ(p.fi.vlan_tci, q.fi.vlan_tci);
  EXPECT_EQ(MacAddr::from_bytes(rep), MacAddr::from_bytes(req.data() + 6));
  EXPECT_EQ(MacAddr::from_bytes(rep + 6), kOurMac);
  EXPECT_TRUE(icmp_checksum_valid(rep, p.fi));
  if (v4) { EXPECT_TRUE(ipv4_header_checksum_valid(rep, p.fi)); }
  EXPECT_EQ(rep[p.fi.l4_off], v4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY);
  // Identifier, sequence and data unchanged.
  EXPECT_EQ(0, std::memcmp(rep + p.fi.l4_off + 4, req.data() + q.fi.l4_off + 4,
                           q.fi.ip_end() - q.fi.l4_off - 4));
  EXPECT_GE(n, 60u);
}

TEST(IcmpEcho, ReplyBothFamiliesWithAndWithoutVlan) {
  for (bool v4 : {true, false}) {
    for (int variant = 0; variant < 4; ++variant) {
      FrameSpec s = v4 ? FrameSpec{} : fixtures::udp6_spec();
      s.proto = v4 ? IP_PROTO_ICMP : IP_PROTO_ICMPV6;
      s.icmp_type = v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
      if (variant & 1) s.vlan_tci = 77;
      // Odd length, or empty so that the request needs Ethernet padding.
      s.payload = (variant & 2) ? std::vector<uint8_t>(57, 0xab) : std::vector<uint8_t>{};
      const size_t bare = fixtures::build_frame(s).size();
      const size_t min = s.vlan_tci ? 64 : 60;
      if (bare < min) s.trailer = min - bare;
      const auto req = fixtures::build_frame(s);
      FrameInfo fi;
      ASSERT_EQ(parse_frame(req.data(), static_cast<uint32_t>(req.size()), fi),
                v4 ? Verdict::Icmp4 : Verdict::Icmp6);
      uint8_t out[2048];
      const size_t n = build_icmp_echo_reply(out, sizeof out, req.data(),
                                             static_cast<uint32_t>(req.size()), fi, kOurMac);
      ASSERT_GT(n, 0u);
      check_echo_reply(req, out, n, v4);
      auto inplace = req;
      const size_t m = icmp_echo_reply_in_place(inplace.data(),
                                                static_cast<uint32_t>(inplace.size()), fi, kOurMac);
      ASSERT_EQ(m, n);
      EXPECT_EQ(0, std::memcmp(inplace.data(), out, n));
      // Too small a buffer.
      EXPECT_EQ(build_icmp_echo_reply(out, n - 1, req.data(), static_cast<uint32_t>(req.size()), fi,
                                      kOurMac),
                0u);
    }
  }
}

TEST(IcmpEcho, RefusesWhatIsNotAValidRequest) {
  for (bool v4 : {true, false}) {
    FrameSpec s = v4 ? FrameSpec{} : fixtures::udp6_spec();
    s.proto = v4 ? IP_PROTO_ICMP : IP_PROTO_ICMPV6;
    std::vector<FrameSpec> bad;
    s.icmp_type = v4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY;
    bad.push_back(s);
    s.icmp_type = v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
    s.bad_l4_csum = true;
    bad.push_back(s);
    for (const auto& b : bad) {
      auto f = fixtures::build_frame(b);
      const auto orig = f;
      FrameInfo fi;
      parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi);
      uint8_t out[512];
      EXPECT_EQ(build_icmp_echo_reply(out, sizeof out, f.data(), static_cast<uint32_t>(f.size()),
                                      fi, kOurMac),
                0u);
      EXPECT_EQ(icmp_echo_reply_in_place(f.data(), static_cast<uint32_t>(f.size()), fi, kOurMac),
                0u);
      EXPECT_EQ(f, orig);
    }
  }
  // A UDP frame is not an echo request.
  auto f = fixtures::build_frame(FrameSpec{});
  FrameInfo fi;
  parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi);
  EXPECT_EQ(icmp_echo_reply_in_place(f.data(), static_cast<uint32_t>(f.size()), fi, kOurMac), 0u);
  EXPECT_EQ(icmp_echo_reply_in_place(f.data(), 0, FrameInfo{}, kOurMac), 0u);
}

// ---- NDP ----

TEST(Ndp, SolicitedNodeAndMulticastMac) {
  const auto ip = *IpAddr::parse("2001:db8::12:3456:789a");
  EXPECT_EQ(solicited_node_multicast(ip).to_string(), "ff02::1:ff56:789a");
  EXPECT_EQ(ipv6_multicast_mac(solicited_node_multicast(ip)).to_string(), "33:33:ff:56:78:9a");
  EXPECT_EQ(ipv6_multicast_mac(*IpAddr::parse("ff02::1")).to_string(), "33:33:00:00:00:01");
}

TEST(Ndp, SolicitationAdvertisementRoundTrip) {
  for (std::optional<uint16_t> vlan : {std::optional<uint16_t>{}, std::optional<uint16_t>{9}}) {
    uint8_t ns[256];
    const size_t n =
        build_neighbor_solicitation(ns, sizeof ns, kCallerMac, kCallerV6, kOurV6, vlan);
    ASSERT_GT(n, 0u);
    auto p = parse(ns, n);
    ASSERT_EQ(p.verdict, Verdict::Icmp6);
    EXPECT_EQ(p.fi.ttl, 255);
    EXPECT_EQ(p.fi.dst, solicited_node_multicast(kOurV6));
    EXPECT_EQ(MacAddr::from_bytes(ns), ipv6_multicast_mac(p.fi.dst));
    EXPECT_TRUE(icmp_checksum_valid(ns, p.fi));
    NdpInfo info;
    ASSERT_EQ(to_string(parse_ndp(ns, static_cast<uint32_t>(n), p.fi, info)), "ok");
    EXPECT_EQ(info.type, ICMPV6_NEIGHBOR_SOLICITATION);
    EXPECT_EQ(info.target, kOurV6);
    EXPECT_EQ(info.src, kCallerV6);
    ASSERT_TRUE(info.lladdr);
    EXPECT_EQ(*info.lladdr, kCallerMac);
    EXPECT_EQ(info.eth_src, kCallerMac);

    uint8_t na[256];
    const size_t m = build_neighbor_advertisement(na, sizeof na, info, kOurMac, vlan_of(p.fi));
    ASSERT_GT(m, 0u);
    auto q = parse(na, m);
    ASSERT_EQ(q.verdict, Verdict::Icmp6);
    EXPECT_EQ(q.fi.vlan, vlan.has_value());
    EXPECT_EQ(q.fi.src, kOurV6);
    EXPECT_EQ(q.fi.dst, kCallerV6);
    EXPECT_EQ(MacAddr::from_bytes(na), kCallerMac);
    EXPECT_EQ(MacAddr::from_bytes(na + 6), kOurMac);
    EXPECT_TRUE(icmp_checksum_valid(na, q.fi));
    NdpInfo adv;
    ASSERT_EQ(to_string(parse_ndp(na, static_cast<uint32_t>(m), q.fi, adv)), "ok");
    EXPECT_EQ(adv.type, ICMPV6_NEIGHBOR_ADVERTISEMENT);
    EXPECT_EQ(adv.target, kOurV6);
    EXPECT_TRUE(adv.solicited);
    EXPECT_TRUE(adv.override_flag);
    EXPECT_FALSE(adv.router);
    ASSERT_TRUE(adv.lladdr);
    EXPECT_EQ(*adv.lladdr, kOurMac);
  }
}

TEST(Ndp, UnicastSolicitation) {
  uint8_t ns[256];
  const size_t n = build_neighbor_solicitation(ns, sizeof ns, kOurMac, kOurV6, kCallerV6,
                                               std::nullopt, kCallerMac);
  auto p = parse(ns, n);
  ASSERT_EQ(p.verdict, Verdict::Icmp6);
  EXPECT_EQ(p.fi.dst, kCallerV6);
  EXPECT_EQ(MacAddr::from_bytes(ns), kCallerMac);
  NdpInfo info;
  EXPECT_EQ(parse_ndp(ns, static_cast<uint32_t>(n), p.fi, info), NdpVerdict::Ok);
  EXPECT_EQ(build_neighbor_solicitation(ns, sizeof ns, kOurMac, kOurV4, kCallerV6, std::nullopt),
            0u);
  EXPECT_EQ(build_neighbor_solicitation(ns, 80, kOurMac, kOurV6, kCallerV6, std::nullopt), 0u);
}

// An NS built by hand so that each field can be broken.
std::vector<uint8_t> raw_ns(const IpAddr& src, const IpAddr& dst, const IpAddr& target,
                            std::vector<uint8_t> options, uint8_t hop = 255, uint8_t code = 0,
                            uint8_t type = ICMPV6_NEIGHBOR_SOLICITATION) {
  FrameSpec s = fixtures::udp6_spec();
  s.src = src;
  s.dst = dst;
  s.proto = IP_PROTO_ICMPV6;
  s.icmp_type = type;
  s.ttl = hop;
  // The builder writes id/seq 0x4242 0x0007 into bytes 4..7; the NDP reserved
  // word is not checked by receivers (RFC 4861 4.3: "MUST be ignored").
  s.payload.assign(target.b.begin(), target.b.end());
  s.payload.insert(s.payload.end(), options.begin(), options.end());
  auto f = fixtures::build_frame(s);
  if (code != 0) {
    f[54 + 1] = code;
    // Recompute the checksum for the changed code.
    std::vector<uint8_t> seg(f.begin() + 54, f.end());
    const uint16_t c = fixtures::ref_l4_checksum(src, dst, IP_PROTO_ICMPV6, seg, 2);
    f[56] = uint8_t(c >> 8);
    f[57] = uint8_t(c);
  }
  return f;
}

NdpVerdict ndp_verdict(const std::vector<uint8_t>& f, NdpInfo* out = nullptr) {
  FrameInfo fi;
  EXPECT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Icmp6);
  NdpInfo info;
  const NdpVerdict v = parse_ndp(f.data(), static_cast<uint32_t>(f.size()), fi, info);
  if (out) *out = info;
  return v;
}

TEST(Ndp, Validation) {
  const IpAddr group = solicited_node_multicast(kOurV6);
  const std::vector<uint8_t> sll = {1, 1, 2, 0, 0, 0, 10, 1};
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, sll)), NdpVerdict::Ok);
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, {})), NdpVerdict::Ok);
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, sll, 254)), NdpVerdict::BadHopLimit);
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, sll, 255, 1)), NdpVerdict::BadCode);
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, group, sll)), NdpVerdict::MulticastTarget);
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, {1, 0, 0, 0, 0, 0, 0, 0})),
            NdpVerdict::BadOption);
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, {1, 2, 0, 0, 0, 0, 0, 0})),
            NdpVerdict::Truncated);
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, {1})), NdpVerdict::Truncated);
  EXPECT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, sll, 255, 0, ICMPV6_ECHO_REQUEST)),
            NdpVerdict::NotNdp);
  // Unknown options are skipped; the lladdr option is found after them.
  NdpInfo info;
  std::vector<uint8_t> opts = {14, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  opts.insert(opts.end(), sll.begin(), sll.end());
  ASSERT_EQ(ndp_verdict(raw_ns(kCallerV6, group, kOurV6, opts), &info), NdpVerdict::Ok);
  ASSERT_TRUE(info.lladdr);
  EXPECT_EQ(info.lladdr->to_string(), "02:00:00:00:0a:01");
  // Truncated message (target cut short).
  auto f = raw_ns(kCallerV6, group, kOurV6, {});
  f.resize(f.size() - 4);
  store_be16(f.data() + 14 + kIpv6PayloadLenOff, static_cast<uint16_t>(f.size() - 54));
  FrameInfo fi;
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi), Verdict::Icmp6);
  NdpInfo x;
  EXPECT_EQ(parse_ndp(f.data(), static_cast<uint32_t>(f.size()), fi, x), NdpVerdict::Truncated);
  // Bad checksum.
  f = raw_ns(kCallerV6, group, kOurV6, sll);
  f[60] ^= 1;
  EXPECT_EQ(ndp_verdict(f), NdpVerdict::BadChecksum);
  // A UDP frame is not NDP.
  auto u = fixtures::build_frame(fixtures::udp6_spec());
  parse_frame(u.data(), static_cast<uint32_t>(u.size()), fi);
  EXPECT_EQ(parse_ndp(u.data(), static_cast<uint32_t>(u.size()), fi, x), NdpVerdict::NotNdp);
  for (size_t i = 0; i < static_cast<size_t>(NdpVerdict::kCount); ++i)
    EXPECT_NE(to_string(static_cast<NdpVerdict>(i)), "unknown");
}

TEST(Ndp, DuplicateAddressDetection) {
  const IpAddr unspecified = *IpAddr::parse("::");
  const IpAddr group = solicited_node_multicast(kOurV6);
  NdpInfo dad;
  ASSERT_EQ(ndp_verdict(raw_ns(unspecified, group, kOurV6, {}), &dad), NdpVerdict::Ok);
  // A DAD probe must go to the solicited-node group and carry no lladdr.
  EXPECT_EQ(ndp_verdict(raw_ns(unspecified, kOurV6, kOurV6, {})), NdpVerdict::BadDad);
  EXPECT_EQ(ndp_verdict(raw_ns(unspecified, group, kOurV6, {1, 1, 2, 0, 0, 0, 10, 1})),
            NdpVerdict::BadDad);
  // The defence goes to all nodes, unsolicited.
  uint8_t na[256];
  const size_t m = build_neighbor_advertisement(na, sizeof na, dad, kOurMac, std::nullopt, true);
  ASSERT_GT(m, 0u);
  auto q = parse(na, m);
  ASSERT_EQ(q.verdict, Verdict::Icmp6);
  EXPECT_EQ(q.fi.dst.to_string(), "ff02::1");
  EXPECT_EQ(MacAddr::from_bytes(na).to_string(), "33:33:00:00:00:01");
  NdpInfo adv;
  ASSERT_EQ(parse_ndp(na, static_cast<uint32_t>(m), q.fi, adv), NdpVerdict::Ok);
  EXPECT_FALSE(adv.solicited);
  EXPECT_TRUE(adv.router);
  // An advertisement is not answered.
  EXPECT_EQ(build_neighbor_advertisement(na, sizeof na, adv, kOurMac, std::nullopt), 0u);
}

// ---- UDP ----

TEST(BuildUdp, RoundTrip) {
  const std::vector<uint8_t> payload = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
  for (bool v4 : {true, false}) {
    for (std::optional<uint16_t> vlan :
         {std::optional<uint16_t>{}, std::optional<uint16_t>{0x0fff}}) {
      for (size_t len : {size_t{0}, size_t{1}, size_t{17}}) {
        uint8_t out[256];
        const IpAddr src = v4 ? kOurV4 : kOurV6, dst = v4 ? kCallerV4 : kCallerV6;
        const size_t n = build_udp_frame(out, sizeof out, kOurMac, kCallerMac, vlan, src, dst,
                                         20000, 10080, std::span(payload.data(), len), 33);
        ASSERT_GT(n, 0u);
        EXPECT_GE(n, 60u);
        auto p = parse(out, n);
        ASSERT_EQ(p.verdict, Verdict::Udp);
        EXPECT_EQ(p.fi.src, src);
        EXPECT_EQ(p.fi.dst, dst);
        EXPECT_EQ(p.fi.sport, 20000);
        EXPECT_EQ(p.fi.dport, 10080);
        EXPECT_EQ(p.fi.ttl, 33);
        EXPECT_EQ(p.fi.vlan, vlan.has_value());
        EXPECT_EQ(p.fi.payload_len, len);
        EXPECT_EQ(0, std::memcmp(out + p.fi.payload_off, payload.data(), len));
        EXPECT_TRUE(udp_checksum_valid(out, p.fi));
        EXPECT_NE(load_be16(out + p.fi.l4_off + 6), 0);
        if (v4) { EXPECT_TRUE(ipv4_header_checksum_valid(out, p.fi)); }
        EXPECT_EQ(MacAddr::from_bytes(out), kCallerMac);
        EXPECT_EQ(MacAddr::from_bytes(out + 6), kOurMac);
        // Exactly the needed capacity works; one byte less does not.
        std::vector<uint8_t> exact(n);
        EXPECT_EQ(build_udp_frame(exact.data(), n, kOurMac, kCallerMac, vlan, src, dst, 20000,
                                  10080, std::span(payload.data(), len), 33),
                  n);
        EXPECT_EQ(0, std::memcmp(exact.data(), out, n));
        EXPECT_EQ(build_udp_frame(exact.data(), n - 1, kOurMac, kCallerMac, vlan, src, dst, 20000,
                                  10080, std::span(payload.data(), len), 33),
                  0u);
      }
    }
  }
}

TEST(BuildUdp, Refusals) {
  std::vector<uint8_t> out(70000);
  std::vector<uint8_t> big(65535 - 28 + 1);
  EXPECT_EQ(build_udp_frame(out.data(), out.size(), kOurMac, kCallerMac, std::nullopt, kOurV4,
                            kCallerV6, 1, 2, {}),
            0u);
  EXPECT_EQ(build_udp_frame(out.data(), out.size(), kOurMac, kCallerMac, std::nullopt, kOurV4,
                            kCallerV4, 1, 2, big),
            0u);
  big.pop_back();
  EXPECT_EQ(build_udp_frame(out.data(), out.size(), kOurMac, kCallerMac, std::nullopt, kOurV4,
                            kCallerV4, 1, 2, big),
            14u + 65535u);
  std::vector<uint8_t> big6(65535 - 8);
  const size_t n = build_udp_frame(out.data(), out.size(), kOurMac, kCallerMac, std::nullopt,
                                   kOurV6, kCallerV6, 1, 2, big6);
  EXPECT_EQ(n, 14u + 40u + 65535u);
  FrameInfo fi;
  ASSERT_EQ(parse_frame(out.data(), static_cast<uint32_t>(n), fi), Verdict::Udp);
  EXPECT_TRUE(udp_checksum_valid(out.data(), fi));
  big6.push_back(0);
  EXPECT_EQ(build_udp_frame(out.data(), out.size(), kOurMac, kCallerMac, std::nullopt, kOurV6,
                            kCallerV6, 1, 2, big6),
            0u);
}

}  // namespace
}  // namespace srtfwd::net

// 802.1Q per port (net/vlan.h): which frames a port takes, the tag a frame
// gets on the way out (insert, strip, replace), and the control frames
// built with a port's tag. Every retagged frame goes back through
// parse_frame() and must be the frame a builder makes directly with the
// egress tag, byte for byte past the tag.
#include <gtest/gtest.h>

#include <vector>

#include "frames.h"
#include "srtfwd/net/build.h"
#include "srtfwd/net/rewrite.h"
#include "srtfwd/net/vlan.h"

namespace srtfwd::net {
namespace {

using fixtures::build_frame;
using fixtures::FrameSpec;
using fixtures::kCallerMac;
using fixtures::kCallerV4;
using fixtures::kCallerV6;
using fixtures::kOurMac;
using fixtures::kOurV4;
using fixtures::kOurV6;

FrameInfo parsed(const uint8_t* f, size_t n, Verdict want = Verdict::Udp) {
  FrameInfo fi;
  EXPECT_EQ(parse_frame(f, static_cast<uint32_t>(n), fi), want);
  return fi;
}

FrameSpec udp4(std::optional<uint16_t> tci) {
  FrameSpec s;
  s.vlan_tci = tci;
  return s;
}
FrameSpec udp6(std::optional<uint16_t> tci) {
  FrameSpec s;
  s.src = kCallerV6;
  s.dst = kOurV6;
  s.vlan_tci = tci;
  return s;
}

TEST(Vlan, PortAcceptsItsVlanOnly) {
  struct Case {
    std::optional<uint16_t> tci;
    uint16_t port_vid;
    bool accepted;
  } cases[] = {
      {std::nullopt, kNoVlan, true},  // untagged on an untagged port
      {0x0000, kNoVlan, true},        // priority-tagged (VID 0): the port's own VLAN
      {0xa000, kNoVlan, true},        // priority 5, VID 0
      {0x0064, kNoVlan, false},       // VID 100 on an untagged port
      {std::nullopt, 100, false},     // untagged on a VLAN port
      {0x0000, 100, false},           // priority-tagged on a VLAN port
      {0x0064, 100, true},           {0xe064, 100, true},  // priority and DEI bits do not matter
      {0x0065, 100, false},          {0x0fff, 4094, false},
  };
  for (const auto& c : cases) {
    for (bool v6 : {false, true}) {
      const FrameSpec s = v6 ? udp6(c.tci) : udp4(c.tci);
      const auto f = build_frame(s);
      const FrameInfo fi = parsed(f.data(), f.size());
      EXPECT_EQ(vlan_accepts(fi, c.port_vid), c.accepted)
          << "tci " << (c.tci ? *c.tci : -1) << " port vlan " << c.port_vid;
    }
  }
}

TEST(Vlan, PortTciOfControlFrames) {
  EXPECT_EQ(port_vlan_tci(kNoVlan), std::nullopt);
  EXPECT_EQ(port_vlan_tci(100), std::optional<uint16_t>(100));
  EXPECT_EQ(port_vlan_tci(4094), std::optional<uint16_t>(4094));
}

// Retags a frame as the worker does (the mbuf side moves the data start by
// what retag_frame returns), in a buffer with headroom; returns the result.
std::vector<uint8_t> retag(const std::vector<uint8_t>& in, FrameInfo& fi, uint16_t vid) {
  std::vector<uint8_t> buf(in.size() + 64, 0xee);
  constexpr size_t kHead = 32;
  std::copy(in.begin(), in.end(), buf.begin() + kHead);
  uint8_t* start = buf.data() + kHead;
  uint8_t* now = retag_frame(start, fi, vid);
  const size_t len = in.size() - static_cast<size_t>(now - start);
  return std::vector<uint8_t>(now, now + len);
}

TEST(Vlan, RetagInsertsStripsAndReplaces) {
  struct Case {
    std::optional<uint16_t> in_tci;
    uint16_t port_vid;
    std::optional<uint16_t> out_tci;  // what the frame must leave with
    Retag what;
  } cases[] = {
      {std::nullopt, kNoVlan, std::nullopt, Retag::kKeep},
      {std::nullopt, 100, 100, Retag::kInsert},  // inserted with priority 0
      {0x0064, kNoVlan, std::nullopt, Retag::kStrip},
      {0xa000, kNoVlan, std::nullopt, Retag::kStrip},  // priority tag stripped
      {0x0064, 100, 0x0064, Retag::kKeep},
      {0xa064, 200, 0xa0c8, Retag::kKeep},  // VID replaced, priority kept
      {0x1fff, 1, 0x1001, Retag::kKeep},    // DEI kept
      {0x0000, 4094, 0x0ffe, Retag::kKeep},
  };
  for (const auto& c : cases) {
    for (bool v6 : {false, true}) {
      FrameSpec s = v6 ? udp6(c.in_tci) : udp4(c.in_tci);
      SCOPED_TRACE(testing::Message() << "in " << (c.in_tci ? *c.in_tci : -1) << " port "
                                      << c.port_vid << (s.src.is_v4() ? " v4" : " v6"));
      s.trailer = 3;  // Ethernet padding travels with the frame
      const auto in = build_frame(s);
      FrameInfo fi = parsed(in.data(), in.size());
      EXPECT_EQ(retag_needed(fi, c.port_vid), c.what);
      const auto out = retag(in, fi, c.port_vid);
      // Exactly the frame built with the egress tag.
      FrameSpec want_spec = s;
      want_spec.vlan_tci = c.out_tci;
      const auto want = build_frame(want_spec);
      EXPECT_EQ(out, want);
      // And fi describes it as parse_frame does.
      FrameInfo again = parsed(out.data(), out.size());
      EXPECT_EQ(fi.vlan, again.vlan);
      EXPECT_EQ(fi.vlan_tci, again.vlan_tci);
      EXPECT_EQ(fi.l3_off, again.l3_off);
      EXPECT_EQ(fi.l4_off, again.l4_off);
      EXPECT_EQ(fi.payload_off, again.payload_off);
      EXPECT_EQ(fi.ip_end(), again.ip_end());
      EXPECT_TRUE(vlan_accepts(again, c.port_vid));
    }
  }
}

TEST(Vlan, RetagThenRewriteKeepsChecksumsValid) {
  // The worker's generic path: the tag first, then the in-place NAT on the
  // offsets the retag left in fi.
  for (std::optional<uint16_t> in_tci : {std::optional<uint16_t>{}, std::optional<uint16_t>{7}}) {
    for (uint16_t vid : {kNoVlan, uint16_t{7}, uint16_t{300}}) {
      for (bool v6 : {false, true}) {
        const FrameSpec s = v6 ? udp6(in_tci) : udp4(in_tci);
        const auto in = build_frame(s);
        FrameInfo fi = parsed(in.data(), in.size());
        const bool v4 = s.src.is_v4();
        const IpAddr nsrc = v4 ? IpAddr::from_v4_host(0xc6120101) : *IpAddr::parse("2001:db8:1::1");
        const IpAddr ndst = v4 ? IpAddr::from_v4_host(0xc6120102) : *IpAddr::parse("2001:db8:1::2");
        const auto rw =
            make_rewrite(s.src, s.dst, s.sport, s.dport, nsrc, ndst, 20000, 10080, kCallerMac);
        ASSERT_TRUE(rw);
        std::vector<uint8_t> buf(in.size() + 8);
        std::copy(in.begin(), in.end(), buf.begin() + 4);
        uint8_t* f = retag_frame(buf.data() + 4, fi, vid);
        ASSERT_TRUE(apply_rewrite(f, fi, *rw, kOurMac));
        const size_t len = in.size() - static_cast<size_t>(f - (buf.data() + 4));
        FrameInfo out = parsed(f, len);
        EXPECT_EQ(out.vlan, vid != kNoVlan);
        EXPECT_EQ(out.vlan_tci & kVlanIdMask, vid);
        EXPECT_EQ(out.src, nsrc);
        EXPECT_EQ(out.dst, ndst);
        EXPECT_EQ(out.ttl, 63);
        if (v4) { EXPECT_TRUE(ipv4_header_checksum_valid(f, out)); }
        EXPECT_TRUE(udp_checksum_valid(f, out));
      }
    }
  }
}

TEST(Vlan, ControlFramesCarryThePortTag) {
  // What the control lcore sends on a port: ARP and NDP requests and
  // replies, handshake answers and origin legs (UDP), all with
  // port_vlan_tci(port's vlan); on an untagged port none.
  for (uint16_t vid : {kNoVlan, uint16_t{100}}) {
    SCOPED_TRACE(vid);
    const auto tci = port_vlan_tci(vid);
    uint8_t out[256];
    size_t n = build_arp_request(out, sizeof out, kOurMac, kOurV4, kCallerV4, tci);
    ASSERT_NE(n, 0u);
    FrameInfo fi = parsed(out, n, Verdict::Arp);
    EXPECT_TRUE(vlan_accepts(fi, vid));
    EXPECT_EQ(fi.vlan, vid != kNoVlan);

    // An ARP request that arrived priority-tagged on an untagged port (or
    // tagged on a VLAN port) is answered with the port's tag.
    const uint16_t req_tci = vid == kNoVlan ? 0xa000 : static_cast<uint16_t>(0x2000 | vid);
    uint8_t arp_req[64];
    n = build_arp_request(arp_req, sizeof arp_req, kCallerMac, kCallerV4, kOurV4, req_tci);
    FrameInfo rfi = parsed(arp_req, n, Verdict::Arp);
    ArpInfo arp;
    ASSERT_EQ(parse_arp(arp_req, static_cast<uint32_t>(n), rfi, arp), ArpVerdict::Ok);
    n = build_arp_reply(out, sizeof out, arp, kOurMac, tci);
    ASSERT_NE(n, 0u);
    fi = parsed(out, n, Verdict::Arp);
    EXPECT_EQ(fi.vlan, vid != kNoVlan);
    if (fi.vlan) {
      EXPECT_EQ(fi.vlan_tci, vid);  // priority 0
    }

    n = build_neighbor_solicitation(out, sizeof out, kOurMac, kOurV6, kCallerV6, tci);
    ASSERT_NE(n, 0u);
    fi = parsed(out, n, Verdict::Icmp6);
    EXPECT_TRUE(vlan_accepts(fi, vid));
    EXPECT_EQ(fi.vlan, vid != kNoVlan);

    const uint8_t payload[] = {0x80, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    n = build_udp_frame(out, sizeof out, kOurMac, kCallerMac, tci, kOurV4, kCallerV4, 10080, 5000,
                        payload);
    ASSERT_NE(n, 0u);
    fi = parsed(out, n);
    EXPECT_TRUE(vlan_accepts(fi, vid));
    EXPECT_EQ(fi.vlan, vid != kNoVlan);
    EXPECT_TRUE(udp_checksum_valid(out, fi));
  }
}

TEST(Vlan, IcmpEchoReplyAfterRetagCarriesThePortTag) {
  // The control lcore turns an echo request around in place after giving it
  // the port's tag.
  for (std::optional<uint16_t> in_tci :
       {std::optional<uint16_t>{}, std::optional<uint16_t>{0x6000}}) {
    for (bool v6 : {false, true}) {
      FrameSpec s = v6 ? udp6(in_tci) : udp4(in_tci);
      s.proto = v6 ? IP_PROTO_ICMPV6 : IP_PROTO_ICMP;
      s.icmp_type = v6 ? ICMPV6_ECHO_REQUEST : ICMP_ECHO_REQUEST;
      const auto in = build_frame(s);
      FrameInfo fi = parsed(in.data(), in.size(), v6 ? Verdict::Icmp6 : Verdict::Icmp4);
      // Untagged port: a priority-tagged request is answered untagged.
      auto f = retag(in, fi, kNoVlan);
      const size_t n =
          icmp_echo_reply_in_place(f.data(), static_cast<uint32_t>(f.size()), fi, kOurMac);
      ASSERT_NE(n, 0u);
      FrameInfo out = parsed(f.data(), n, v6 ? Verdict::Icmp6 : Verdict::Icmp4);
      EXPECT_FALSE(out.vlan);
      EXPECT_TRUE(icmp_checksum_valid(f.data(), out));
    }
  }
}

}  // namespace
}  // namespace srtfwd::net

// Test frames for net/: a small builder whose every field can be broken on
// purpose, and a table of named fixtures with the verdict parse_frame() must
// give. Header-only and free of GoogleTest so pcap tests and benchmarks can
// reuse the same frames.
//
// The builder computes checksums with its own naive RFC 1071 loop, not with
// net/checksum.h, so fixtures do not inherit a bug of the code they test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "srtfwd/net/addr.h"
#include "srtfwd/net/headers.h"
#include "srtfwd/net/parse.h"

namespace srtfwd::net::fixtures {

inline const MacAddr kCallerMac{{0x02, 0x00, 0x00, 0x00, 0x0a, 0x01}};
inline const MacAddr kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline const IpAddr kCallerV4 = IpAddr::from_v4_host(0xC6120A01);  // 198.18.10.1
inline const IpAddr kOurV4 = IpAddr::from_v4_host(0xC6120001);     // 198.18.0.1
inline const IpAddr kCallerV6 = *IpAddr::parse("2001:db8:a::1");
inline const IpAddr kOurV6 = *IpAddr::parse("2001:db8::1");

// Plain RFC 1071: big-endian words, odd byte padded, end-around carry.
inline uint16_t ref_sum(const std::vector<uint8_t>& data, uint32_t start = 0) {
  uint64_t s = start;
  for (size_t i = 0; i < data.size(); i += 2) {
    s += uint32_t{data[i]} << 8;
    if (i + 1 < data.size()) s += data[i + 1];
  }
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}
inline uint16_t ref_checksum(const std::vector<uint8_t>& data, uint32_t start = 0) {
  return static_cast<uint16_t>(~ref_sum(data, start));
}
// Pseudo header as bytes (RFC 768 / RFC 8200 8.1).
inline std::vector<uint8_t> ref_pseudo_header(const IpAddr& src, const IpAddr& dst, uint8_t proto,
                                              uint32_t len) {
  std::vector<uint8_t> p;
  if (src.is_v4()) {
    p.insert(p.end(), src.b.begin() + 12, src.b.end());
    p.insert(p.end(), dst.b.begin() + 12, dst.b.end());
    p.insert(p.end(), {0, proto, uint8_t(len >> 8), uint8_t(len)});
  } else {
    p.insert(p.end(), src.b.begin(), src.b.end());
    p.insert(p.end(), dst.b.begin(), dst.b.end());
    p.insert(p.end(), {uint8_t(len >> 24), uint8_t(len >> 16), uint8_t(len >> 8), uint8_t(len), 0,
                       0, 0, proto});
  }
  return p;
}
// Checksum of an L4 segment (its checksum field zeroed first) under the pseudo header.
inline uint16_t ref_l4_checksum(const IpAddr& src, const IpAddr& dst, uint8_t proto,
                                std::vector<uint8_t> seg, size_t csum_off) {
  seg[csum_off] = seg[csum_off + 1] = 0;
  std::vector<uint8_t> all = ref_pseudo_header(src, dst, proto, static_cast<uint32_t>(seg.size()));
  all.insert(all.end(), seg.begin(), seg.end());
  return ref_checksum(all);
}

// n bytes from a random engine (any std::uniform_random_bit_generator).
template <class Rng>
std::vector<uint8_t> random_bytes(Rng& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng());
  return v;
}

struct FrameSpec {
  MacAddr src_mac = kCallerMac, dst_mac = kOurMac;
  std::optional<uint16_t> vlan_tci;
  std::optional<uint16_t> ethertype;  // override (after the tag); non-IP: payload follows L2 raw
  IpAddr src = kCallerV4, dst = kOurV4;
  uint8_t proto = IP_PROTO_UDP;
  uint8_t ttl = 64;
  uint8_t tos = 0;  // IPv4 TOS / IPv6 traffic class
  uint16_t sport = 40000, dport = 10080;
  std::vector<uint8_t> payload = {'S', 'R', 'T', '!', 1, 2, 3, 4, 5};
  uint8_t icmp_type = ICMP_ECHO_REQUEST;  // ICMP/ICMPv6: id 0x4242, seq 7, then payload
  // IPv4
  uint8_t ihl = 5;  // > 5: option bytes (NOP) after the fixed header
  uint16_t ip_id = 0x1234;
  uint16_t frag = kIpv4FlagDf;
  // Deliberate damage
  std::optional<uint8_t> version;   // version nibble
  std::optional<uint16_t> ip_len;   // IPv4 total length / IPv6 payload length
  std::optional<uint16_t> udp_len;  // UDP length field
  bool udp_csum = true;             // false: send 0 ("none"; invalid in IPv6)
  bool bad_l4_csum = false;         // flip the L4 checksum
  size_t trailer = 0;               // bytes after the IP packet (Ethernet padding)
};

inline std::vector<uint8_t> build_frame(const FrameSpec& s) {
  std::vector<uint8_t> f;
  auto put16 = [&f](uint16_t v) {
    f.push_back(uint8_t(v >> 8));
    f.push_back(uint8_t(v));
  };
  f.insert(f.end(), s.dst_mac.b.begin(), s.dst_mac.b.end());
  f.insert(f.end(), s.src_mac.b.begin(), s.src_mac.b.end());
  const uint16_t type = s.ethertype.value_or(s.src.is_v4() ? ETHER_TYPE_IPV4 : ETHER_TYPE_IPV6);
  const bool v4 = type == ETHER_TYPE_IPV4;
  if (s.vlan_tci) {
    put16(ETHER_TYPE_VLAN);
    put16(*s.vlan_tci);
  }
  put16(type);
  if (type != ETHER_TYPE_IPV4 && type != ETHER_TYPE_IPV6) {
    f.insert(f.end(), s.payload.begin(), s.payload.end());
    f.resize(f.size() + s.trailer, 0);
    return f;
  }

  // Transport segment.
  std::vector<uint8_t> l4;
  size_t csum_off = 0;
  bool has_csum = true;
  if (s.proto == IP_PROTO_UDP) {
    const uint16_t ulen = static_cast<uint16_t>(kUdpHeaderLen + s.payload.size());
    l4 = {uint8_t(s.sport >> 8),
          uint8_t(s.sport),
          uint8_t(s.dport >> 8),
          uint8_t(s.dport),
          uint8_t(s.udp_len.value_or(ulen) >> 8),
          uint8_t(s.udp_len.value_or(ulen)),
          0,
          0};
    l4.insert(l4.end(), s.payload.begin(), s.payload.end());
    csum_off = kUdpCsumOff;
    has_csum = s.udp_csum;
  } else if (s.proto == IP_PROTO_ICMP || s.proto == IP_PROTO_ICMPV6) {
    l4 = {s.icmp_type, 0, 0, 0, 0x42, 0x42, 0x00, 0x07};
    l4.insert(l4.end(), s.payload.begin(), s.payload.end());
    csum_off = kIcmpCsumOff;
  } else {
    l4 = s.payload;  // TCP and others: opaque bytes
    has_csum = false;
  }
  if (has_csum) {
    // UDP covers what its length field says, which a fixture may set short.
    std::vector<uint8_t> covered = l4;
    if (s.proto == IP_PROTO_UDP && s.udp_len && *s.udp_len >= 8 && *s.udp_len < l4.size())
      covered.resize(*s.udp_len);
    uint16_t c = s.proto == IP_PROTO_ICMP
                     ? ref_checksum([&] {
                         auto t = l4;
                         t[2] = t[3] = 0;
                         return t;
                       }())
                     : ref_l4_checksum(s.src, s.dst, s.proto, covered, csum_off);
    if (s.proto == IP_PROTO_UDP && c == 0) c = 0xffff;
    if (s.bad_l4_csum) c ^= 0x0101;
    l4[csum_off] = uint8_t(c >> 8);
    l4[csum_off + 1] = uint8_t(c);
  }

  if (v4) {
    const size_t hl = size_t{s.ihl} * 4u;
    std::vector<uint8_t> ip(hl < 20 ? 20 : hl, 1);  // options: NOP
    const uint16_t total = static_cast<uint16_t>(ip.size() + l4.size());
    ip[0] = uint8_t(s.version.value_or(4) << 4 | (s.ihl & 0xf));
    ip[1] = s.tos;
    const uint16_t tl = s.ip_len.value_or(total);
    ip[2] = uint8_t(tl >> 8);
    ip[3] = uint8_t(tl);
    ip[4] = uint8_t(s.ip_id >> 8);
    ip[5] = uint8_t(s.ip_id);
    ip[6] = uint8_t(s.frag >> 8);
    ip[7] = uint8_t(s.frag);
    ip[8] = s.ttl;
    ip[9] = s.proto;
    ip[10] = ip[11] = 0;
    std::copy(s.src.b.begin() + 12, s.src.b.end(), ip.begin() + 12);
    std::copy(s.dst.b.begin() + 12, s.dst.b.end(), ip.begin() + 16);
    const uint16_t c = ref_checksum(ip);
    ip[10] = uint8_t(c >> 8);
    ip[11] = uint8_t(c);
    f.insert(f.end(), ip.begin(), ip.end());
  } else {
    const uint16_t pl = s.ip_len.value_or(static_cast<uint16_t>(l4.size()));
    f.insert(f.end(), {uint8_t(s.version.value_or(6) << 4 | s.tos >> 4), uint8_t(s.tos << 4), 0, 0,
                       uint8_t(pl >> 8), uint8_t(pl), s.proto, s.ttl});
    f.insert(f.end(), s.src.b.begin(), s.src.b.end());
    f.insert(f.end(), s.dst.b.begin(), s.dst.b.end());
  }
  f.insert(f.end(), l4.begin(), l4.end());
  f.resize(f.size() + s.trailer, 0);
  return f;
}

// A frame with the given verdict and, for accepted verdicts, the fields of
// spec to expect in FrameInfo.
struct ParseFixture {
  std::string name;
  FrameSpec spec;
  Verdict verdict;
  std::vector<uint8_t> bytes() const { return build_frame(spec); }
};

inline FrameSpec udp6_spec() {
  FrameSpec s;
  s.src = kCallerV6;
  s.dst = kOurV6;
  return s;
}

inline std::vector<uint8_t> arp_body(uint16_t op, const MacAddr& sha, const IpAddr& spa,
                                     const MacAddr& tha, const IpAddr& tpa) {
  std::vector<uint8_t> a = {0, 1, 0x08, 0x00, 6, 4, uint8_t(op >> 8), uint8_t(op)};
  a.insert(a.end(), sha.b.begin(), sha.b.end());
  a.insert(a.end(), spa.b.begin() + 12, spa.b.end());
  a.insert(a.end(), tha.b.begin(), tha.b.end());
  a.insert(a.end(), tpa.b.begin() + 12, tpa.b.end());
  return a;
}

inline std::vector<ParseFixture> parse_fixtures() {
  std::vector<ParseFixture> v;
  auto add = [&v](std::string name, FrameSpec s, Verdict want) {
    v.push_back({std::move(name), std::move(s), want});
  };
  FrameSpec s;

  // Accepted.
  add("udp4", FrameSpec{}, Verdict::Udp);
  s = FrameSpec{};
  s.vlan_tci = 0x2064;
  add("udp4_vlan", s, Verdict::Udp);
  s = FrameSpec{};
  s.payload.clear();
  s.trailer = 60 - 42;
  add("udp4_empty_padded", s, Verdict::Udp);
  s = FrameSpec{};
  s.trailer = 7;
  add("udp4_eth_padding", s, Verdict::Udp);
  s = FrameSpec{};
  s.udp_csum = false;
  add("udp4_no_checksum", s, Verdict::Udp);
  s = FrameSpec{};
  s.payload.assign(1316, 0x47);
  add("udp4_srt_data_1316", s, Verdict::Udp);
  s = FrameSpec{};
  s.frag = 0;
  add("udp4_no_df", s, Verdict::Udp);
  add("udp6", udp6_spec(), Verdict::Udp);
  s = udp6_spec();
  s.vlan_tci = 5;
  add("udp6_vlan", s, Verdict::Udp);
  s = udp6_spec();
  s.trailer = 3;
  add("udp6_trailer", s, Verdict::Udp);
  s = FrameSpec{};
  s.proto = IP_PROTO_ICMP;
  add("icmp4_echo", s, Verdict::Icmp4);
  s = udp6_spec();
  s.proto = IP_PROTO_ICMPV6;
  s.icmp_type = ICMPV6_ECHO_REQUEST;
  add("icmp6_echo", s, Verdict::Icmp6);
  s = FrameSpec{};
  s.ethertype = ETHER_TYPE_ARP;
  s.payload = arp_body(ARP_OP_REQUEST, kCallerMac, kCallerV4, MacAddr{}, kOurV4);
  s.dst_mac = MacAddr::broadcast();
  s.trailer = 18;
  add("arp_request", s, Verdict::Arp);
  s.vlan_tci = 100;
  add("arp_request_vlan", s, Verdict::Arp);

  // Layer 2.
  s = FrameSpec{};
  s.ethertype = 0x88cc;
  add("lldp", s, Verdict::UnknownEthertype);
  s = FrameSpec{};
  s.ethertype = 0x0026;
  add("ieee802_3_length", s, Verdict::UnknownEthertype);
  s = FrameSpec{};
  s.vlan_tci = 1;
  s.ethertype = ETHER_TYPE_VLAN;
  add("double_vlan", s, Verdict::StackedVlan);
  s = FrameSpec{};
  s.ethertype = ETHER_TYPE_QINQ;
  add("qinq", s, Verdict::StackedVlan);
  s = FrameSpec{};
  s.ethertype = ETHER_TYPE_ARP;
  s.payload.assign(27, 0);
  add("arp_27_bytes", s, Verdict::TruncatedArp);

  // IPv4.
  s = FrameSpec{};
  s.version = 6;
  add("ipv4_version_6", s, Verdict::BadIpVersion);
  s = udp6_spec();
  s.version = 4;
  add("ipv6_version_4", s, Verdict::BadIpVersion);
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    s = FrameSpec{};
    s.ihl = ihl;
    add("ihl_" + std::to_string(ihl), s, Verdict::BadIhl);
  }
  s = FrameSpec{};
  s.ihl = 6;
  add("ipv4_options", s, Verdict::IpOptions);
  s = FrameSpec{};
  s.ihl = 15;
  add("ipv4_options_max", s, Verdict::IpOptions);
  s = FrameSpec{};
  s.ihl = 15;
  s.payload.clear();
  s.proto = 200;
  s.ip_len = 60;
  add("ipv4_options_only", s, Verdict::IpOptions);
  s = FrameSpec{};
  s.ip_len = static_cast<uint16_t>(20 + 8 + s.payload.size() + 1);
  add("ipv4_total_len_beyond_frame", s, Verdict::BadIpLength);
  s.trailer = 1;
  add("ipv4_total_len_into_padding", s, Verdict::Udp);
  s = FrameSpec{};
  s.ip_len = 19;
  add("ipv4_total_len_below_header", s, Verdict::BadIpLength);
  s = FrameSpec{};
  s.ip_len = 0;
  add("ipv4_total_len_zero", s, Verdict::BadIpLength);
  s = FrameSpec{};
  s.ihl = 6;
  s.ip_len = 22;
  add("ipv4_total_len_below_ihl", s, Verdict::BadIpLength);
  s = FrameSpec{};
  s.frag = kIpv4FlagMf;
  add("fragment_first", s, Verdict::Fragment);
  s = FrameSpec{};
  s.frag = 185;
  add("fragment_last", s, Verdict::Fragment);
  s = FrameSpec{};
  s.frag = kIpv4FlagMf | 1;
  add("fragment_middle", s, Verdict::Fragment);
  s = FrameSpec{};
  s.frag = kIpv4FlagMf;
  s.ihl = 6;
  add("fragment_with_options", s, Verdict::Fragment);
  s = FrameSpec{};
  s.proto = IP_PROTO_TCP;
  s.payload.assign(20, 0);
  add("tcp4", s, Verdict::NotUdp);
  s = FrameSpec{};
  s.proto = 132;
  add("sctp4", s, Verdict::NotUdp);
  s = FrameSpec{};
  s.proto = IP_PROTO_ICMP;
  s.payload.clear();
  s.ip_len = 20 + 7;
  add("icmp4_7_bytes", s, Verdict::TruncatedIcmp);

  // UDP lengths.
  s = FrameSpec{};
  s.payload.clear();
  s.ip_len = 20 + 7;
  add("udp4_7_bytes", s, Verdict::TruncatedUdp);
  s = FrameSpec{};
  s.udp_len = static_cast<uint16_t>(8 + s.payload.size() + 1);
  add("udp_len_beyond_ip", s, Verdict::BadUdpLength);
  s = FrameSpec{};
  s.udp_len = 7;
  add("udp_len_7", s, Verdict::BadUdpLength);
  s = FrameSpec{};
  s.udp_len = 0;
  add("udp_len_0", s, Verdict::BadUdpLength);
  s = FrameSpec{};
  s.udp_len = 8;
  add("udp_len_below_ip_payload", s, Verdict::Udp);
  s = udp6_spec();
  s.udp_len = static_cast<uint16_t>(8 + s.payload.size() + 1);
  add("udp6_len_beyond_ip", s, Verdict::BadUdpLength);

  // IPv6.
  s = udp6_spec();
  s.ip_len = static_cast<uint16_t>(8 + s.payload.size() + 1);
  add("ipv6_payload_len_beyond_frame", s, Verdict::BadIpLength);
  s = udp6_spec();
  s.ip_len = 0;
  add("ipv6_payload_len_zero", s, Verdict::TruncatedUdp);
  for (uint8_t nh :
       {IPV6_EXT_HOP_BY_HOP, IPV6_EXT_ROUTING, IPV6_EXT_DEST_OPTS, IPV6_EXT_AH, IPV6_EXT_ESP}) {
    s = udp6_spec();
    s.proto = nh;
    add("ipv6_ext_" + std::to_string(nh), s, Verdict::Ipv6ExtHeaders);
  }
  s = udp6_spec();
  s.proto = IPV6_EXT_FRAGMENT;
  add("ipv6_fragment", s, Verdict::Fragment);
  s = udp6_spec();
  s.proto = IP_PROTO_TCP;
  add("tcp6", s, Verdict::NotUdp);
  s = udp6_spec();
  s.proto = IPV6_NO_NEXT_HEADER;
  add("ipv6_no_next_header", s, Verdict::NotUdp);
  s = udp6_spec();
  s.ethertype = ETHER_TYPE_IPV6;
  s.src = kCallerV4;
  add("ipv6_v4_mapped_src", s, Verdict::V4MappedIpv6);
  s = udp6_spec();
  s.ethertype = ETHER_TYPE_IPV6;
  s.dst = kOurV4;
  add("ipv6_v4_mapped_dst", s, Verdict::V4MappedIpv6);
  return v;
}

}  // namespace srtfwd::net::fixtures

// ARP, ICMP echo, NDP and UDP frame building for the control lcore.
#include "srtfwd/net/build.h"

#include <algorithm>
#include <cstring>

#include "srtfwd/net/checksum.h"
#include "srtfwd/net/headers.h"

namespace srtfwd::net {

namespace {

// The shortest frame we send: 60 bytes (without FCS) plus the 802.1Q tag if
// there is one, so that a switch that strips the tag still forwards a legal
// 60-byte frame (the reason Linux has VLAN_ETH_ZLEN).
constexpr size_t min_frame_len(bool vlan) noexcept {
  return kMinFrameLen + (vlan ? kVlanTagLen : 0);
}
constexpr size_t padded(size_t n, bool vlan) noexcept { return std::max(n, min_frame_len(vlan)); }

// Zero-pads a frame of n bytes in a buffer of at least padded(n, vlan) bytes.
size_t pad(uint8_t* out, size_t n, bool vlan) noexcept {
  const size_t min = min_frame_len(vlan);
  if (n < min) std::memset(out + n, 0, min - n);
  return padded(n, vlan);
}

size_t eth_header_len(std::optional<uint16_t> vlan_tci) noexcept {
  return kEthHeaderLen + (vlan_tci ? kVlanTagLen : 0);
}

// IPv4 header without options, DF set (we never send anything a router
// should fragment), identification 0 (allowed for DF packets, RFC 6864).
void write_ipv4_header(uint8_t* ip, uint16_t total_len, uint8_t proto, uint8_t ttl,
                       const IpAddr& src, const IpAddr& dst) noexcept {
  ip[kIpv4VerIhlOff] = 0x45;
  ip[kIpv4TosOff] = 0;
  store_be16(ip + kIpv4TotalLenOff, total_len);
  store_be16(ip + kIpv4IdOff, 0);
  store_be16(ip + kIpv4FragOff, kIpv4FlagDf);
  ip[kIpv4TtlOff] = ttl;
  ip[kIpv4ProtoOff] = proto;
  std::memcpy(ip + kIpv4SrcOff, src.b.data() + 12, 4);
  std::memcpy(ip + kIpv4DstOff, dst.b.data() + 12, 4);
  store_be16(ip + kIpv4CsumOff, ipv4_header_checksum(ip, kIpv4MinHeaderLen));
}

void write_ipv6_header(uint8_t* ip, uint16_t payload_len, uint8_t next_header, uint8_t hop_limit,
                       const IpAddr& src, const IpAddr& dst) noexcept {
  store_be32(ip + kIpv6VtcFlowOff, 0x60000000u);
  store_be16(ip + kIpv6PayloadLenOff, payload_len);
  ip[kIpv6NextHeaderOff] = next_header;
  ip[kIpv6HopLimitOff] = hop_limit;
  std::memcpy(ip + kIpv6SrcOff, src.b.data(), 16);
  std::memcpy(ip + kIpv6DstOff, dst.b.data(), 16);
}

void write_arp(uint8_t* arp, uint16_t op, const MacAddr& sha, const IpAddr& spa, const MacAddr& tha,
               const IpAddr& tpa) noexcept {
  store_be16(arp + kArpHtypeOff, ARP_HTYPE_ETHERNET);
  store_be16(arp + kArpPtypeOff, ETHER_TYPE_IPV4);
  arp[kArpHlenOff] = 6;
  arp[kArpPlenOff] = 4;
  store_be16(arp + kArpOpOff, op);
  std::memcpy(arp + kArpShaOff, sha.b.data(), 6);
  std::memcpy(arp + kArpSpaOff, spa.b.data() + 12, 4);
  std::memcpy(arp + kArpThaOff, tha.b.data(), 6);
  std::memcpy(arp + kArpTpaOff, tpa.b.data() + 12, 4);
}

// An NS or NA: 24 bytes of message and one 8-byte link-layer address option.
constexpr size_t kNdpMessageLen = kNdpOptionsOff + kNdpLladdrOptLen;

size_t build_ndp(uint8_t* out, size_t cap, const MacAddr& src_mac, const MacAddr& dst_mac,
                 std::optional<uint16_t> vlan_tci, const IpAddr& src, const IpAddr& dst,
                 uint8_t type, uint8_t flags, const IpAddr& target, uint8_t opt_type) noexcept {
  const size_t l2 = eth_header_len(vlan_tci);
  const size_t n = l2 + kIpv6HeaderLen + kNdpMessageLen;
  if (cap < padded(n, vlan_tci.has_value())) return 0;
  build_eth_header(out, cap, src_mac, dst_mac, vlan_tci, ETHER_TYPE_IPV6);
  write_ipv6_header(out + l2, kNdpMessageLen, IP_PROTO_ICMPV6, kNdpHopLimit, src, dst);
  uint8_t* icmp = out + l2 + kIpv6HeaderLen;
  std::memset(icmp, 0, kNdpMessageLen);
  icmp[kIcmpTypeOff] = type;
  icmp[kNdpFlagsOff] = flags;
  std::memcpy(icmp + kNdpTargetOff, target.b.data(), 16);
  uint8_t* opt = icmp + kNdpOptionsOff;
  opt[0] = opt_type;
  opt[1] = 1;  // length in units of 8 bytes
  std::memcpy(opt + 2, src_mac.b.data(), 6);
  store_be16(icmp + kIcmpCsumOff, icmp6_checksum(src, dst, icmp, kNdpMessageLen));
  return pad(out, n, vlan_tci.has_value());
}

}  // namespace

size_t build_eth_header(uint8_t* out, size_t cap, const MacAddr& src, const MacAddr& dst,
                        std::optional<uint16_t> vlan_tci, uint16_t ethertype) noexcept {
  const size_t n = eth_header_len(vlan_tci);
  if (cap < n) return 0;
  std::memcpy(out + kEthDstOff, dst.b.data(), kMacLen);
  std::memcpy(out + kEthSrcOff, src.b.data(), kMacLen);
  if (vlan_tci) {
    store_be16(out + kEthTypeOff, ETHER_TYPE_VLAN);
    store_be16(out + kVlanTciOff, *vlan_tci);
    store_be16(out + kVlanTypeOff, ethertype);
  } else {
    store_be16(out + kEthTypeOff, ethertype);
  }
  return n;
}

// ---- ARP ----

std::string_view to_string(ArpVerdict v) noexcept {
  switch (v) {
    case ArpVerdict::Ok: return "ok";
    case ArpVerdict::Truncated: return "truncated";
    case ArpVerdict::BadHardware: return "bad_hardware";
    case ArpVerdict::BadProtocol: return "bad_protocol";
    case ArpVerdict::BadOp: return "bad_op";
    case ArpVerdict::kCount: break;
  }
  return "unknown";
}

ArpVerdict parse_arp(const uint8_t* frame, uint32_t len, const FrameInfo& fi,
                     ArpInfo& out) noexcept {
  if (len < fi.l3_off || len - fi.l3_off < kArpLen) return ArpVerdict::Truncated;
  const uint8_t* arp = frame + fi.l3_off;
  if (load_be16(arp + kArpHtypeOff) != ARP_HTYPE_ETHERNET || arp[kArpHlenOff] != 6)
    return ArpVerdict::BadHardware;
  if (load_be16(arp + kArpPtypeOff) != ETHER_TYPE_IPV4 || arp[kArpPlenOff] != 4)
    return ArpVerdict::BadProtocol;
  out.op = load_be16(arp + kArpOpOff);
  if (out.op != ARP_OP_REQUEST && out.op != ARP_OP_REPLY) return ArpVerdict::BadOp;
  out.sha = MacAddr::from_bytes(arp + kArpShaOff);
  out.spa = IpAddr::from_v4_bytes(arp + kArpSpaOff);
  out.tha = MacAddr::from_bytes(arp + kArpThaOff);
  out.tpa = IpAddr::from_v4_bytes(arp + kArpTpaOff);
  return ArpVerdict::Ok;
}

size_t build_arp_reply(uint8_t* out, size_t cap, const ArpInfo& req, const MacAddr& our_mac,
                       std::optional<uint16_t> vlan_tci) noexcept {
  const size_t l2 = eth_header_len(vlan_tci);
  if (cap < padded(l2 + kArpLen, vlan_tci.has_value())) return 0;
  build_eth_header(out, cap, our_mac, req.sha, vlan_tci, ETHER_TYPE_ARP);
  write_arp(out + l2, ARP_OP_REPLY, our_mac, req.tpa, req.sha, req.spa);
  return pad(out, l2 + kArpLen, vlan_tci.has_value());
}

size_t build_arp_request(uint8_t* out, size_t cap, const MacAddr& our_mac, const IpAddr& our_ip,
                         const IpAddr& target_ip, std::optional<uint16_t> vlan_tci) noexcept {
  const size_t l2 = eth_header_len(vlan_tci);
  if (cap < padded(l2 + kArpLen, vlan_tci.has_value()) || !our_ip.is_v4() || !target_ip.is_v4())
    return 0;
  build_eth_header(out, cap, our_mac, MacAddr::broadcast(), vlan_tci, ETHER_TYPE_ARP);
  write_arp(out + l2, ARP_OP_REQUEST, our_mac, our_ip, MacAddr{}, target_ip);
  return pad(out, l2 + kArpLen, vlan_tci.has_value());
}

// ---- ICMP echo ----

size_t icmp_echo_reply_in_place(uint8_t* frame, uint32_t len, const FrameInfo& fi,
                                const MacAddr& our_mac) noexcept {
  // Re-check what parse_frame established: this runs on whatever the slow
  // path hands us, and it writes.
  const uint32_t end = fi.ip_end();
  if (fi.l4_off <= fi.l3_off || end > len || end < fi.l4_off + kIcmpHeaderLen) return 0;
  uint8_t* ip = frame + fi.l3_off;
  uint8_t* icmp = frame + fi.l4_off;
  const size_t icmp_len = end - fi.l4_off;
  if (icmp[kIcmpCodeOff] != 0) return 0;
  if (fi.ip_version == 4) {
    if (fi.l4_proto != IP_PROTO_ICMP || fi.l4_off - fi.l3_off != kIpv4MinHeaderLen ||
        icmp[kIcmpTypeOff] != ICMP_ECHO_REQUEST || !icmp_checksum_valid(frame, fi))
      return 0;
  } else if (fi.ip_version == 6) {
    if (fi.l4_proto != IP_PROTO_ICMPV6 || fi.l4_off - fi.l3_off != kIpv6HeaderLen ||
        icmp[kIcmpTypeOff] != ICMPV6_ECHO_REQUEST || !icmp_checksum_valid(frame, fi))
      return 0;
  } else {
    return 0;
  }
  std::memcpy(frame + kEthDstOff, frame + kEthSrcOff, kMacLen);
  std::memcpy(frame + kEthSrcOff, our_mac.b.data(), kMacLen);
  if (fi.ip_version == 4) {
    std::memcpy(ip + kIpv4SrcOff, fi.dst.b.data() + 12, 4);
    std::memcpy(ip + kIpv4DstOff, fi.src.b.data() + 12, 4);
    ip[kIpv4TtlOff] = kDefaultTtl;
    store_be16(ip + kIpv4CsumOff, ipv4_header_checksum(ip, kIpv4MinHeaderLen));
    icmp[kIcmpTypeOff] = ICMP_ECHO_REPLY;
    store_be16(icmp + kIcmpCsumOff, icmp4_checksum(icmp, icmp_len));
  } else {
    std::memcpy(ip + kIpv6SrcOff, fi.dst.b.data(), 16);
    std::memcpy(ip + kIpv6DstOff, fi.src.b.data(), 16);
    ip[kIpv6HopLimitOff] = kDefaultTtl;
    icmp[kIcmpTypeOff] = ICMPV6_ECHO_REPLY;
    store_be16(icmp + kIcmpCsumOff, icmp6_checksum(fi.dst, fi.src, icmp, icmp_len));
  }
  // Keep the reply a legal Ethernet frame when the request was padded.
  if (end < min_frame_len(fi.vlan) && len >= min_frame_len(fi.vlan))
    return pad(frame, end, fi.vlan);
  return end;
}

size_t build_icmp_echo_reply(uint8_t* out, size_t cap, const uint8_t* frame, uint32_t len,
                             const FrameInfo& fi, const MacAddr& our_mac) noexcept {
  const uint32_t end = fi.ip_end();
  if (end > len || cap < padded(end, fi.vlan)) return 0;
  std::memcpy(out, frame, end);
  const size_t n = icmp_echo_reply_in_place(out, end, fi, our_mac);
  return n == 0 ? 0 : pad(out, n, fi.vlan);
}

// ---- NDP ----

std::string_view to_string(NdpVerdict v) noexcept {
  switch (v) {
    case NdpVerdict::Ok: return "ok";
    case NdpVerdict::NotNdp: return "not_ndp";
    case NdpVerdict::Truncated: return "truncated";
    case NdpVerdict::BadHopLimit: return "bad_hop_limit";
    case NdpVerdict::BadCode: return "bad_code";
    case NdpVerdict::BadChecksum: return "bad_checksum";
    case NdpVerdict::BadOption: return "bad_option";
    case NdpVerdict::MulticastTarget: return "multicast_target";
    case NdpVerdict::BadDad: return "bad_dad";
    case NdpVerdict::kCount: break;
  }
  return "unknown";
}

IpAddr solicited_node_multicast(const IpAddr& ip) noexcept {
  IpAddr g =
      IpAddr::from_v6(std::array<uint8_t, 16>{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff});
  std::memcpy(g.b.data() + 13, ip.b.data() + 13, 3);
  return g;
}

MacAddr ipv6_multicast_mac(const IpAddr& group) noexcept {
  MacAddr m{{0x33, 0x33}};
  std::memcpy(m.b.data() + 2, group.b.data() + 12, 4);
  return m;
}

NdpVerdict parse_ndp(const uint8_t* frame, uint32_t len, const FrameInfo& fi,
                     NdpInfo& out) noexcept {
  out = NdpInfo{};
  const uint32_t end = fi.ip_end();
  if (fi.ip_version != 6 || fi.l4_proto != IP_PROTO_ICMPV6) return NdpVerdict::NotNdp;
  if (fi.l4_off <= fi.l3_off || end > len || end < fi.l4_off + kIcmpHeaderLen)
    return NdpVerdict::Truncated;
  const uint8_t* icmp = frame + fi.l4_off;
  const uint32_t n = end - fi.l4_off;
  out.type = icmp[kIcmpTypeOff];
  if (out.type != ICMPV6_NEIGHBOR_SOLICITATION && out.type != ICMPV6_NEIGHBOR_ADVERTISEMENT)
    return NdpVerdict::NotNdp;
  if (fi.ttl != kNdpHopLimit) return NdpVerdict::BadHopLimit;
  if (icmp[kIcmpCodeOff] != 0) return NdpVerdict::BadCode;
  if (n < kNdpOptionsOff) return NdpVerdict::Truncated;
  if (!icmp_checksum_valid(frame, fi)) return NdpVerdict::BadChecksum;
  out.eth_src = MacAddr::from_bytes(frame + kEthSrcOff);
  out.src = fi.src;
  out.dst = fi.dst;
  out.target = IpAddr::from_v6(icmp + kNdpTargetOff);
  if (out.target.is_multicast()) return NdpVerdict::MulticastTarget;
  const uint8_t flags = icmp[kNdpFlagsOff];
  if (out.type == ICMPV6_NEIGHBOR_ADVERTISEMENT) {
    out.router = flags & kNdpFlagRouter;
    out.solicited = flags & kNdpFlagSolicited;
    out.override_flag = flags & kNdpFlagOverride;
  }
  const uint8_t wanted =
      out.type == ICMPV6_NEIGHBOR_SOLICITATION ? NDP_OPT_SOURCE_LLADDR : NDP_OPT_TARGET_LLADDR;
  for (uint32_t off = kNdpOptionsOff; off < n;) {
    if (n - off < 2) return NdpVerdict::Truncated;
    const uint32_t opt_len = icmp[off + 1] * 8u;
    if (opt_len == 0) return NdpVerdict::BadOption;  // would loop forever (RFC 4861 4.6)
    if (opt_len > n - off) return NdpVerdict::Truncated;
    // An Ethernet address option is exactly 8 bytes (RFC 2464 section 6).
    if (icmp[off] == wanted && opt_len == kNdpLladdrOptLen)
      out.lladdr = MacAddr::from_bytes(icmp + off + 2);
    off += opt_len;
  }
  if (out.type == ICMPV6_NEIGHBOR_SOLICITATION && out.src.is_unspecified()) {
    // Duplicate address detection probe (RFC 4861 7.1.1).
    const IpAddr group = solicited_node_multicast(out.target);
    if (out.dst != group || out.lladdr) return NdpVerdict::BadDad;
  }
  return NdpVerdict::Ok;
}

size_t build_neighbor_advertisement(uint8_t* out, size_t cap, const NdpInfo& ns,
                                    const MacAddr& our_mac, std::optional<uint16_t> vlan_tci,
                                    bool router) noexcept {
  if (ns.type != ICMPV6_NEIGHBOR_SOLICITATION || ns.target.is_v4()) return 0;
  const bool dad = ns.src.is_unspecified();
  static const IpAddr kAllNodes = IpAddr::from_v6(
      std::array<uint8_t, 16>{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  const IpAddr dst = dad ? kAllNodes : ns.src;
  const MacAddr dst_mac = dad ? ipv6_multicast_mac(kAllNodes) : ns.lladdr.value_or(ns.eth_src);
  uint8_t flags = kNdpFlagOverride;
  if (!dad) flags |= kNdpFlagSolicited;
  if (router) flags |= kNdpFlagRouter;
  return build_ndp(out, cap, our_mac, dst_mac, vlan_tci, ns.target, dst,
                   ICMPV6_NEIGHBOR_ADVERTISEMENT, flags, ns.target, NDP_OPT_TARGET_LLADDR);
}

size_t build_neighbor_solicitation(uint8_t* out, size_t cap, const MacAddr& our_mac,
                                   const IpAddr& our_ip, const IpAddr& target,
                                   std::optional<uint16_t> vlan_tci,
                                   std::optional<MacAddr> unicast_mac) noexcept {
  if (our_ip.is_v4() || target.is_v4()) return 0;
  const IpAddr dst = unicast_mac ? target : solicited_node_multicast(target);
  const MacAddr dst_mac = unicast_mac ? *unicast_mac : ipv6_multicast_mac(dst);
  return build_ndp(out, cap, our_mac, dst_mac, vlan_tci, our_ip, dst, ICMPV6_NEIGHBOR_SOLICITATION,
                   0, target, NDP_OPT_SOURCE_LLADDR);
}

// ---- UDP ----

size_t build_udp_frame(uint8_t* out, size_t cap, const MacAddr& src_mac, const MacAddr& dst_mac,
                       std::optional<uint16_t> vlan_tci, const IpAddr& src, const IpAddr& dst,
                       uint16_t sport, uint16_t dport, std::span<const uint8_t> payload,
                       uint8_t ttl) noexcept {
  const bool v4 = src.is_v4();
  if (dst.is_v4() != v4) return 0;
  const size_t l2 = eth_header_len(vlan_tci);
  const size_t ip_header = v4 ? kIpv4MinHeaderLen : kIpv6HeaderLen;
  const size_t udp_len = kUdpHeaderLen + payload.size();
  // IPv4 total length and IPv6 payload length are 16-bit fields.
  if ((v4 ? ip_header + udp_len : udp_len) > 0xffff) return 0;
  const size_t n = l2 + ip_header + udp_len;
  if (cap < padded(n, vlan_tci.has_value())) return 0;
  build_eth_header(out, cap, src_mac, dst_mac, vlan_tci, v4 ? ETHER_TYPE_IPV4 : ETHER_TYPE_IPV6);
  uint8_t* ip = out + l2;
  if (v4)
    write_ipv4_header(ip, static_cast<uint16_t>(ip_header + udp_len), IP_PROTO_UDP, ttl, src, dst);
  else
    write_ipv6_header(ip, static_cast<uint16_t>(udp_len), IP_PROTO_UDP, ttl, src, dst);
  uint8_t* udp = ip + ip_header;
  store_be16(udp + kUdpSrcPortOff, sport);
  store_be16(udp + kUdpDstPortOff, dport);
  store_be16(udp + kUdpLenOff, static_cast<uint16_t>(udp_len));
  store_be16(udp + kUdpCsumOff, 0);
  if (!payload.empty()) std::memcpy(udp + kUdpHeaderLen, payload.data(), payload.size());
  store_be16(udp + kUdpCsumOff, udp_checksum(src, dst, udp, udp_len));
  return pad(out, n, vlan_tci.has_value());
}

}  // namespace srtfwd::net

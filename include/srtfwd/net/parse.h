// Classifies an Ethernet frame and locates its headers: Ethernet, at most one
// 802.1Q tag, then ARP, IPv4 or IPv6, then UDP (or ICMP / ICMPv6).
//
// Header-only and allocation-free: the data plane calls parse_frame once per
// packet on the bytes of an mbuf, and the same code serves pcap replay, tests
// and the fuzzer. Every read is checked against len before it happens; loads
// go through memcpy (see headers.h) so any alignment is fine.
//
// What the fast path accepts as Verdict::Udp is exactly what apply_rewrite()
// can rewrite correctly in place: no IPv4 options, no fragments, no IPv6
// extension headers. Those get verdicts of their own and go to the slow path
// (or are dropped there), never rewritten.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "srtfwd/net/addr.h"
#include "srtfwd/net/checksum.h"
#include "srtfwd/net/headers.h"

namespace srtfwd::net {

enum class Verdict : uint8_t {
  // Accepted.
  Udp,    // IPv4 or IPv6 UDP, lengths consistent
  Arp,    // a complete 28-byte Ethernet/IPv4 ARP body (fields not checked: parse_arp)
  Icmp4,  // ICMP in IPv4 without options, not fragmented, >= 8 bytes
  Icmp6,  // ICMPv6 (echo, NDP, ...) directly after the IPv6 header, >= 8 bytes
  // Malformed or not for the fast path.
  TruncatedEth,      // shorter than the Ethernet header (+ the VLAN tag it announces)
  TruncatedIp,       // shorter than the IP header it announces
  BadIpVersion,      // IP version nibble does not match the EtherType
  BadIhl,            // IPv4 IHL < 5
  BadIpLength,       // IP total/payload length beyond the frame, or IPv4 total length < IHL * 4
  Fragment,          // IPv4 MF set or fragment offset != 0; IPv6 fragment header
  IpOptions,         // IPv4 IHL > 5
  Ipv6ExtHeaders,    // IPv6 next header is an extension header (other than fragment)
  NotUdp,            // another transport protocol (TCP, ...)
  TruncatedUdp,      // IP payload shorter than a UDP header
  BadUdpLength,      // UDP length beyond the IP payload, or < 8
  UnknownEthertype,  // neither IPv4, IPv6 nor ARP (802.3 length field, LLDP, ...)
  StackedVlan,       // QinQ (0x88A8) or a second 802.1Q tag: we parse one tag at most
  TruncatedArp,      // ARP EtherType but fewer than 28 bytes of ARP
  TruncatedIcmp,     // ICMP / ICMPv6 message shorter than 8 bytes
  V4MappedIpv6,      // IPv6 header with a v4-mapped source or destination (see parse_ipv6)
  kCount
};

// snake_case labels, used as counter labels (like dataplane::DropReason).
inline constexpr std::array<std::string_view, static_cast<size_t>(Verdict::kCount)> kVerdictNames =
    {
        "udp",           "arp",           "icmp4",          "icmp6",
        "truncated_eth", "truncated_ip",  "bad_ip_version", "bad_ihl",
        "bad_ip_length", "fragment",      "ip_options",     "ipv6_ext_headers",
        "not_udp",       "truncated_udp", "bad_udp_length", "unknown_ethertype",
        "stacked_vlan",  "truncated_arp", "truncated_icmp", "v4_mapped_ipv6",
};

constexpr std::string_view to_string(Verdict v) noexcept {
  const auto i = static_cast<size_t>(v);
  return i < kVerdictNames.size() ? kVerdictNames[i] : std::string_view("unknown");
}

// Where the headers of a frame are and what they say. Filled progressively:
// after a non-accepting verdict only the fields of the layers already parsed
// are meaningful. Ports are host order (sport_be()/dport_be() give the wire
// form used in session keys).
struct FrameInfo {
  uint16_t l3_off = 0;       // IP / ARP header
  uint16_t l4_off = 0;       // UDP / ICMP header
  uint16_t payload_off = 0;  // UDP payload (ICMP: == l4_off)
  uint16_t payload_len = 0;  // UDP length - 8 (ICMP: the whole message)
  uint16_t ethertype = 0;    // after the VLAN tag, if any
  bool vlan = false;
  uint16_t vlan_tci = 0;      // PCP | DEI | VID, host order
  uint8_t ip_version = 0;     // 4 or 6
  uint8_t l4_proto = 0;       // IPv4 protocol / IPv6 next header
  uint8_t ttl = 0;            // TTL or hop limit
  uint16_t udp_len = 0;       // UDP length field (header included)
  uint32_t ip_total_len = 0;  // IPv4 total length; IPv6 40 + payload length
  IpAddr src, dst;
  uint16_t sport = 0, dport = 0;

  uint16_t sport_be() const noexcept { return to_be16(sport); }
  uint16_t dport_be() const noexcept { return to_be16(dport); }
  // Where the IP packet ends: anything after it is Ethernet padding.
  uint32_t ip_end() const noexcept { return l3_off + ip_total_len; }
};

namespace detail {

inline Verdict parse_udp(const uint8_t* frame, uint32_t l4_off, uint32_t ip_payload_len,
                         FrameInfo& out) noexcept {
  // The caller has checked that l4_off + ip_payload_len <= frame length.
  if (ip_payload_len < kUdpHeaderLen) return Verdict::TruncatedUdp;
  const uint8_t* udp = frame + l4_off;
  const uint16_t udp_len = load_be16(udp + kUdpLenOff);
  // A UDP length below the IP payload is legal (RFC 768 leaves the rest
  // undefined); beyond it would read past the packet.
  if (udp_len < kUdpHeaderLen || udp_len > ip_payload_len) return Verdict::BadUdpLength;
  out.sport = load_be16(udp + kUdpSrcPortOff);
  out.dport = load_be16(udp + kUdpDstPortOff);
  out.udp_len = udp_len;
  out.payload_off = static_cast<uint16_t>(l4_off + kUdpHeaderLen);
  out.payload_len = static_cast<uint16_t>(udp_len - kUdpHeaderLen);
  return Verdict::Udp;
}

inline Verdict parse_icmp(uint32_t l4_off, uint32_t ip_payload_len, Verdict ok,
                          FrameInfo& out) noexcept {
  if (ip_payload_len < kIcmpHeaderLen) return Verdict::TruncatedIcmp;
  out.payload_off = static_cast<uint16_t>(l4_off);
  out.payload_len = static_cast<uint16_t>(ip_payload_len > 0xffff ? 0xffff : ip_payload_len);
  return ok;
}

inline Verdict parse_ipv4(const uint8_t* frame, uint32_t len, uint32_t l3,
                          FrameInfo& out) noexcept {
  if (len < l3 + kIpv4MinHeaderLen) return Verdict::TruncatedIp;
  const uint8_t* ip = frame + l3;
  out.ip_version = ip[kIpv4VerIhlOff] >> 4;
  if (out.ip_version != 4) return Verdict::BadIpVersion;
  const uint32_t ihl = (ip[kIpv4VerIhlOff] & 0x0fu) * 4u;
  if (ihl < kIpv4MinHeaderLen) return Verdict::BadIhl;
  if (len < l3 + ihl) return Verdict::TruncatedIp;
  const uint32_t total = load_be16(ip + kIpv4TotalLenOff);
  // The frame may be longer than the packet (Ethernet pads to 60 bytes), never shorter.
  if (total < ihl || total > len - l3) return Verdict::BadIpLength;
  out.ip_total_len = total;
  out.l4_proto = ip[kIpv4ProtoOff];
  out.ttl = ip[kIpv4TtlOff];
  out.src = IpAddr::from_v4_bytes(ip + kIpv4SrcOff);
  out.dst = IpAddr::from_v4_bytes(ip + kIpv4DstOff);
  out.l4_off = static_cast<uint16_t>(l3 + ihl);
  const uint16_t frag = load_be16(ip + kIpv4FragOff);
  if ((frag & (kIpv4FlagMf | kIpv4FragOffsetMask)) != 0) return Verdict::Fragment;
  if (ihl != kIpv4MinHeaderLen) return Verdict::IpOptions;
  const uint32_t payload = total - ihl;
  switch (out.l4_proto) {
    case IP_PROTO_UDP: return parse_udp(frame, l3 + ihl, payload, out);
    case IP_PROTO_ICMP: return parse_icmp(l3 + ihl, payload, Verdict::Icmp4, out);
    default: return Verdict::NotUdp;
  }
}

inline Verdict parse_ipv6(const uint8_t* frame, uint32_t len, uint32_t l3,
                          FrameInfo& out) noexcept {
  if (len < l3 + kIpv6HeaderLen) return Verdict::TruncatedIp;
  const uint8_t* ip = frame + l3;
  out.ip_version = ip[kIpv6VtcFlowOff] >> 4;
  if (out.ip_version != 6) return Verdict::BadIpVersion;
  const uint32_t payload = load_be16(ip + kIpv6PayloadLenOff);
  // Payload length 0 with a hop-by-hop jumbo option (RFC 2675) is an
  // extension header case and never reaches the check below as valid UDP.
  if (payload > len - l3 - kIpv6HeaderLen) return Verdict::BadIpLength;
  out.ip_total_len = kIpv6HeaderLen + payload;
  out.l4_proto = ip[kIpv6NextHeaderOff];
  out.ttl = ip[kIpv6HopLimitOff];
  out.src = IpAddr::from_v6(ip + kIpv6SrcOff);
  out.dst = IpAddr::from_v6(ip + kIpv6DstOff);
  // IpAddr keeps IPv4 as ::ffff:a.b.c.d, so an IPv6 packet from or to such an
  // address would look up the session of the IPv4 peer and be rewritten with
  // IPv4 offsets. Such addresses must not appear on the wire (RFC 4291
  // 2.5.5.2, RFC 6890): refuse them here, once, for everyone downstream.
  if (out.src.is_v4() || out.dst.is_v4()) return Verdict::V4MappedIpv6;
  const uint32_t l4 = l3 + kIpv6HeaderLen;
  out.l4_off = static_cast<uint16_t>(l4);
  switch (out.l4_proto) {
    case IP_PROTO_UDP: return parse_udp(frame, l4, payload, out);
    case IP_PROTO_ICMPV6: return parse_icmp(l4, payload, Verdict::Icmp6, out);
    case IPV6_EXT_FRAGMENT: return Verdict::Fragment;
    default:
      return is_ipv6_extension_header(out.l4_proto) ? Verdict::Ipv6ExtHeaders : Verdict::NotUdp;
  }
}

}  // namespace detail

// Parses frame[0, len). `out` is overwritten. Never reads outside the frame.
inline Verdict parse_frame(const uint8_t* frame, uint32_t len, FrameInfo& out) noexcept {
  out = FrameInfo{};
  if (len < kEthHeaderLen) return Verdict::TruncatedEth;
  uint16_t type = load_be16(frame + kEthTypeOff);
  uint32_t l3 = kEthHeaderLen;
  if (type == ETHER_TYPE_VLAN) {
    if (len < kEthHeaderLen + kVlanTagLen) return Verdict::TruncatedEth;
    out.vlan = true;
    out.vlan_tci = load_be16(frame + kVlanTciOff);
    type = load_be16(frame + kVlanTypeOff);
    l3 += kVlanTagLen;
  }
  out.ethertype = type;
  out.l3_off = static_cast<uint16_t>(l3);
  switch (type) {
    case ETHER_TYPE_IPV4: return detail::parse_ipv4(frame, len, l3, out);
    case ETHER_TYPE_IPV6: return detail::parse_ipv6(frame, len, l3, out);
    case ETHER_TYPE_ARP: return len - l3 < kArpLen ? Verdict::TruncatedArp : Verdict::Arp;
    case ETHER_TYPE_VLAN:
    case ETHER_TYPE_QINQ: return Verdict::StackedVlan;
    default: return Verdict::UnknownEthertype;
  }
}

// ---- the worker's IPv4 fast path ----

// What the worker needs of an IPv4 UDP packet, read straight off the wire.
struct FastV4 {
  uint16_t l3_off = 0;  // 14, or 18 behind one 802.1Q tag
  // UDP length field (header included); 32 bits wide so that the worker's
  // payload length check reuses the value the length checks computed
  // instead of widening a 16-bit copy again.
  uint32_t udp_len = 0;
  uint8_t ttl = 0;
  uint32_t src_raw = 0;  // addresses as their wire bytes load (network order in memory)
  uint32_t dst_raw = 0;
  uint32_t ports_raw = 0;  // the UDP header's first four bytes: sport, dport as on the wire
};

// The fast path for one header layout: the IPv4 header at L3, 14 (untagged)
// or 18 (behind one 802.1Q tag). With the offset a constant, every load and
// compare below has a fixed displacement; the worker calls each layout
// separately so that its own code after the parse keeps the constant too.
template <uint32_t L3>
inline bool parse_ipv4_udp_at(const uint8_t* frame, uint32_t len, FastV4& out) noexcept {
  static_assert(L3 == kEthHeaderLen || L3 == kEthHeaderLen + kVlanTagLen);
  constexpr uint32_t kMinUdp4 = kIpv4MinHeaderLen + kUdpHeaderLen;
  constexpr uint32_t kUdpHdr = kUdpHeaderLen;  // 32 bits: the compares below stay 32-bit
  if (len < L3 + kMinUdp4) return false;
  // EtherType and the byte after it in one word, compared as it loads: IPv4
  // and version 4 / IHL 5 (behind an 802.1Q tag for L3 = 18).
  constexpr uint32_t kTypeMask = raw32_of_be(0xffff0000u);
  constexpr uint32_t kVlan = raw32_of_be(uint32_t{ETHER_TYPE_VLAN} << 16);
  constexpr uint32_t kIpv4Mask = raw32_of_be(0xffffff00u);
  constexpr uint32_t kIpv4Ihl5 = raw32_of_be(uint32_t{ETHER_TYPE_IPV4} << 16 | 0x4500u);
  if constexpr (L3 != kEthHeaderLen) {
    if ((load_raw32(frame + kEthTypeOff) & kTypeMask) != kVlan) return false;
  }
  if ((load_raw32(frame + L3 - 2) & kIpv4Mask) != kIpv4Ihl5) return false;
  const uint8_t* ip = frame + L3;
  // Flags and fragment offset, TTL, protocol in one word: no MF, offset 0, UDP.
  const uint32_t fp = load_be32(ip + kIpv4FragOff);
  if ((fp & (uint32_t{kIpv4FlagMf | kIpv4FragOffsetMask} << 16 | 0xffu)) != IP_PROTO_UDP)
    return false;
  // kMinUdp4 <= total <= len - L3, and 8 <= UDP length <= total - 20, each as
  // one unsigned compare (len - L3 >= kMinUdp4 after the check above).
  const uint32_t total = load_be16(ip + kIpv4TotalLenOff);
  if (total - kMinUdp4 > len - L3 - kMinUdp4) return false;
  const uint8_t* udp = ip + kIpv4MinHeaderLen;
  const uint32_t udp_len = load_be16(udp + kUdpLenOff);
  if (udp_len - kUdpHdr > total - kMinUdp4) return false;
  out.l3_off = static_cast<uint16_t>(L3);
  out.udp_len = udp_len;
  out.ttl = ip[kIpv4TtlOff];
  std::memcpy(&out.src_raw, ip + kIpv4SrcOff, 4);
  std::memcpy(&out.dst_raw, ip + kIpv4DstOff, 4);
  std::memcpy(&out.ports_raw, udp, 4);
  return true;
}

// True exactly when parse_frame() would return Verdict::Udp for an IPv4
// frame, and then FastV4 holds what parse_frame would have found. It checks
// the same things in a few compares (IHL 5 and version 4 are one byte, the
// offsets are constants), without clearing and filling a FrameInfo.
// Everything else returns false and goes to parse_frame(), which gives its
// verdict. (An untagged frame's EtherType is not the tag's, so at most one
// layout can match.)
// The unit tests and fuzz_net check the equivalence on every input.
inline bool parse_ipv4_udp_fast(const uint8_t* frame, uint32_t len, FastV4& out) noexcept {
  return parse_ipv4_udp_at<kEthHeaderLen>(frame, len, out) ||
         parse_ipv4_udp_at<kEthHeaderLen + kVlanTagLen>(frame, len, out);
}

// The FrameInfo fields that the worker's rewrite and SRT checks read, from a
// FastV4 (the rest of `fi` is left as it was: the worker does not read it).
inline void fill_frame_info(const FastV4& f, FrameInfo& fi) noexcept {
  fi.l3_off = f.l3_off;
  fi.l4_off = static_cast<uint16_t>(f.l3_off + kIpv4MinHeaderLen);
  fi.payload_off = static_cast<uint16_t>(f.l3_off + kIpv4MinHeaderLen + kUdpHeaderLen);
  fi.payload_len = static_cast<uint16_t>(f.udp_len - kUdpHeaderLen);
  fi.ip_version = 4;
  fi.ttl = f.ttl;
  fi.udp_len = static_cast<uint16_t>(f.udp_len);
}

// ---- validation for the slow path and tests (full sums: not per packet) ----

// The IPv4 header checksum sums to 0xFFFF over the whole header. Requires a
// frame parsed as IPv4 (any verdict from Fragment on, or Udp/Icmp4).
inline bool ipv4_header_checksum_valid(const uint8_t* frame, const FrameInfo& fi) noexcept {
  if (fi.ip_version != 4 || fi.l4_off <= fi.l3_off) return false;
  return csum_fold(csum_bytes(frame + fi.l3_off, fi.l4_off - fi.l3_off)) == 0xffff;
}

// True when the UDP checksum verifies, or is 0 ("none") in IPv4. IPv6 requires
// a checksum. Requires Verdict::Udp.
inline bool udp_checksum_valid(const uint8_t* frame, const FrameInfo& fi) noexcept {
  const uint8_t* udp = frame + fi.l4_off;
  if (fi.ip_version == 4 && load_be16(udp + kUdpCsumOff) == 0) return true;
  if (fi.ip_version == 6 && load_be16(udp + kUdpCsumOff) == 0) return false;
  uint32_t sum = pseudo_header_sum(fi.src, fi.dst, IP_PROTO_UDP, fi.udp_len);
  return csum_fold(csum_bytes(udp, fi.udp_len, sum)) == 0xffff;
}

// ICMP / ICMPv6 checksum over the whole message. Requires Verdict::Icmp4 or Icmp6.
inline bool icmp_checksum_valid(const uint8_t* frame, const FrameInfo& fi) noexcept {
  const uint8_t* icmp = frame + fi.l4_off;
  const uint32_t n = fi.ip_end() - fi.l4_off;
  uint32_t sum = fi.ip_version == 6 ? pseudo_header_sum(fi.src, fi.dst, IP_PROTO_ICMPV6, n) : 0;
  return csum_fold(csum_bytes(icmp, n, sum)) == 0xffff;
}

}  // namespace srtfwd::net

// Wire constants of Ethernet, 802.1Q, ARP, IPv4, IPv6, UDP, ICMP and ICMPv6,
// as byte offsets from the start of each header, and the unaligned loads and
// stores every reader of a frame goes through.
//
// Offsets instead of packed structs: a packed struct invites member access
// through misaligned pointers (undefined behaviour, and a trap on some CPUs),
// while an offset plus memcpy compiles to the same single load on x86 and
// ARM64 and is well defined at any alignment. An Ethernet frame puts the IP
// header 2 bytes off a 4-byte boundary, so misalignment is the normal case.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace srtfwd::net {

// ---- byte order and unaligned access ----

constexpr uint16_t bswap16(uint16_t v) noexcept {
  return static_cast<uint16_t>((v >> 8) | (v << 8));
}
constexpr uint32_t bswap32(uint32_t v) noexcept {
  return ((v & 0x000000ffu) << 24) | ((v & 0x0000ff00u) << 8) | ((v & 0x00ff0000u) >> 8) |
         ((v & 0xff000000u) >> 24);
}

// Host-order value of a network-order (big-endian) field at any alignment.
inline uint16_t load_be16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
inline uint32_t load_be32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void store_be16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
// Field bytes as they are in memory (no byte swap): for values that are only
// compared or copied, such as ports kept in network order.
inline uint16_t load_raw16(const uint8_t* p) noexcept {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_raw16(uint8_t* p, uint16_t v) noexcept { std::memcpy(p, &v, sizeof v); }
inline uint32_t load_raw32(const uint8_t* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// What load_raw32() gives for the wire bytes of the big-endian value `v`:
// constants to compare raw words with, no byte swap per packet.
constexpr uint32_t raw32_of_be(uint32_t v) noexcept {
  return std::endian::native == std::endian::little ? __builtin_bswap32(v) : v;
}

// Network-order representation of a host-order 16-bit value, as a memcpy of
// the wire bytes would produce it (the "_be" convention of this room).
inline uint16_t to_be16(uint16_t host) noexcept {
  uint8_t b[2];
  store_be16(b, host);
  return load_raw16(b);
}
inline uint16_t from_be16(uint16_t be) noexcept {
  uint8_t b[2];
  store_raw16(b, be);
  return load_be16(b);
}

// ---- Ethernet and 802.1Q ----

inline constexpr uint16_t ETHER_TYPE_IPV4 = 0x0800;
inline constexpr uint16_t ETHER_TYPE_ARP = 0x0806;
inline constexpr uint16_t ETHER_TYPE_VLAN = 0x8100;  // 802.1Q customer tag
inline constexpr uint16_t ETHER_TYPE_QINQ = 0x88A8;  // 802.1ad service tag
inline constexpr uint16_t ETHER_TYPE_IPV6 = 0x86DD;

inline constexpr size_t kEthDstOff = 0;
inline constexpr size_t kEthSrcOff = 6;
inline constexpr size_t kEthTypeOff = 12;
inline constexpr size_t kEthHeaderLen = 14;
inline constexpr size_t kMacLen = 6;
// An 802.1Q tag sits where the EtherType was: TPID (0x8100), then the TCI,
// then the real EtherType.
inline constexpr size_t kVlanTciOff = 14;
inline constexpr size_t kVlanTypeOff = 16;
inline constexpr size_t kVlanTagLen = 4;
inline constexpr uint16_t kVlanIdMask = 0x0fff;
// Shortest Ethernet frame without FCS. Frames the control lcore builds are
// padded to it (plus 4 with a VLAN tag): a shorter frame is a runt on the
// wire, and some NICs and virtual switches do not pad it for us.
inline constexpr size_t kMinFrameLen = 60;

// ---- ARP (RFC 826) for Ethernet and IPv4 ----

inline constexpr size_t kArpHtypeOff = 0;
inline constexpr size_t kArpPtypeOff = 2;
inline constexpr size_t kArpHlenOff = 4;
inline constexpr size_t kArpPlenOff = 5;
inline constexpr size_t kArpOpOff = 6;
inline constexpr size_t kArpShaOff = 8;
inline constexpr size_t kArpSpaOff = 14;
inline constexpr size_t kArpThaOff = 18;
inline constexpr size_t kArpTpaOff = 24;
inline constexpr size_t kArpLen = 28;
inline constexpr uint16_t ARP_HTYPE_ETHERNET = 1;
inline constexpr uint16_t ARP_OP_REQUEST = 1;
inline constexpr uint16_t ARP_OP_REPLY = 2;

// ---- IP protocol numbers ----

// IP_PROTO_, not IPPROTO_: <linux/in6.h> (pulled in by some DPDK headers)
// defines IPPROTO_ICMPV6 as a plain number, which would turn a declaration of
// that name into a syntax error.
inline constexpr uint8_t IP_PROTO_ICMP = 1;
inline constexpr uint8_t IP_PROTO_TCP = 6;
inline constexpr uint8_t IP_PROTO_UDP = 17;
inline constexpr uint8_t IP_PROTO_ICMPV6 = 58;
// IPv6 extension headers (RFC 8200 section 4, IANA "IPv6 Extension Header Types").
inline constexpr uint8_t IPV6_EXT_HOP_BY_HOP = 0;
inline constexpr uint8_t IPV6_EXT_ROUTING = 43;
inline constexpr uint8_t IPV6_EXT_FRAGMENT = 44;
inline constexpr uint8_t IPV6_EXT_ESP = 50;
inline constexpr uint8_t IPV6_EXT_AH = 51;
inline constexpr uint8_t IPV6_NO_NEXT_HEADER = 59;
inline constexpr uint8_t IPV6_EXT_DEST_OPTS = 60;
inline constexpr uint8_t IPV6_EXT_MOBILITY = 135;
inline constexpr uint8_t IPV6_EXT_HIP = 139;
inline constexpr uint8_t IPV6_EXT_SHIM6 = 140;
inline constexpr uint8_t IPV6_EXT_EXPERIMENT1 = 253;
inline constexpr uint8_t IPV6_EXT_EXPERIMENT2 = 254;

constexpr bool is_ipv6_extension_header(uint8_t nh) noexcept {
  switch (nh) {
    case IPV6_EXT_HOP_BY_HOP:
    case IPV6_EXT_ROUTING:
    case IPV6_EXT_FRAGMENT:
    case IPV6_EXT_ESP:
    case IPV6_EXT_AH:
    case IPV6_EXT_DEST_OPTS:
    case IPV6_EXT_MOBILITY:
    case IPV6_EXT_HIP:
    case IPV6_EXT_SHIM6:
    case IPV6_EXT_EXPERIMENT1:
    case IPV6_EXT_EXPERIMENT2: return true;
    default: return false;
  }
}

// ---- IPv4 (RFC 791) ----

inline constexpr size_t kIpv4VerIhlOff = 0;
inline constexpr size_t kIpv4TosOff = 1;
inline constexpr size_t kIpv4TotalLenOff = 2;
inline constexpr size_t kIpv4IdOff = 4;
inline constexpr size_t kIpv4FragOff = 6;  // flags (3 bits) | fragment offset (13)
inline constexpr size_t kIpv4TtlOff = 8;
inline constexpr size_t kIpv4ProtoOff = 9;
inline constexpr size_t kIpv4CsumOff = 10;
inline constexpr size_t kIpv4SrcOff = 12;
inline constexpr size_t kIpv4DstOff = 16;
inline constexpr size_t kIpv4MinHeaderLen = 20;  // IHL 5
inline constexpr size_t kIpv4MaxHeaderLen = 60;  // IHL 15
inline constexpr uint16_t kIpv4FlagDf = 0x4000;
inline constexpr uint16_t kIpv4FlagMf = 0x2000;
inline constexpr uint16_t kIpv4FragOffsetMask = 0x1fff;
inline constexpr uint8_t kDefaultTtl = 64;  // Linux's net.ipv4.ip_default_ttl

// ---- IPv6 (RFC 8200) ----

inline constexpr size_t kIpv6VtcFlowOff = 0;  // version (4) | traffic class (8) | flow label (20)
inline constexpr size_t kIpv6PayloadLenOff = 4;
inline constexpr size_t kIpv6NextHeaderOff = 6;
inline constexpr size_t kIpv6HopLimitOff = 7;
inline constexpr size_t kIpv6SrcOff = 8;
inline constexpr size_t kIpv6DstOff = 24;
inline constexpr size_t kIpv6HeaderLen = 40;

// ---- UDP (RFC 768) ----

inline constexpr size_t kUdpSrcPortOff = 0;
inline constexpr size_t kUdpDstPortOff = 2;
inline constexpr size_t kUdpLenOff = 4;
inline constexpr size_t kUdpCsumOff = 6;
inline constexpr size_t kUdpHeaderLen = 8;

// ---- ICMP (RFC 792) and ICMPv6 (RFC 4443, RFC 4861) ----

inline constexpr size_t kIcmpTypeOff = 0;
inline constexpr size_t kIcmpCodeOff = 1;
inline constexpr size_t kIcmpCsumOff = 2;
inline constexpr size_t kIcmpIdOff = 4;   // echo
inline constexpr size_t kIcmpSeqOff = 6;  // echo
// Every ICMP and ICMPv6 message defined so far has at least these 8 bytes
// (type, code, checksum and a 4-byte type-specific word).
inline constexpr size_t kIcmpHeaderLen = 8;
inline constexpr uint8_t ICMP_ECHO_REPLY = 0;
inline constexpr uint8_t ICMP_ECHO_REQUEST = 8;
inline constexpr uint8_t ICMPV6_ECHO_REQUEST = 128;
inline constexpr uint8_t ICMPV6_ECHO_REPLY = 129;
inline constexpr uint8_t ICMPV6_ROUTER_SOLICITATION = 133;
inline constexpr uint8_t ICMPV6_ROUTER_ADVERTISEMENT = 134;
inline constexpr uint8_t ICMPV6_NEIGHBOR_SOLICITATION = 135;
inline constexpr uint8_t ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;

// NDP neighbour solicitation / advertisement body (RFC 4861 sections 4.3, 4.4):
// type, code, checksum, 4 bytes (reserved, or R|S|O flags), target address,
// then options of (type, length in units of 8 bytes, data).
inline constexpr size_t kNdpFlagsOff = 4;
inline constexpr size_t kNdpTargetOff = 8;
inline constexpr size_t kNdpOptionsOff = 24;
inline constexpr uint8_t kNdpFlagRouter = 0x80;
inline constexpr uint8_t kNdpFlagSolicited = 0x40;
inline constexpr uint8_t kNdpFlagOverride = 0x20;
inline constexpr uint8_t NDP_OPT_SOURCE_LLADDR = 1;
inline constexpr uint8_t NDP_OPT_TARGET_LLADDR = 2;
inline constexpr size_t kNdpLladdrOptLen = 8;  // type, length 1, 6-byte MAC
// Neighbour Discovery messages must arrive with hop limit 255: proof that no
// router forwarded them (RFC 4861 section 7.1.1).
inline constexpr uint8_t kNdpHopLimit = 255;

}  // namespace srtfwd::net

// IPv4 <-> IPv6 translation of a session direction's UDP frames, in place
// (RFC 7915's header mapping, restricted to what a session carries: UDP,
// no IPv4 options, no IPv6 extension headers, no fragments; those go to the
// slow path before a lookup).
//
// A caller of one family reaches an origin of the other: each direction's
// packets arrive in one family and leave in the other, with the MACs,
// addresses and ports of the session's rewrite. The IPv6 header is 20 bytes
// longer than the IPv4 one (IHL 5), so 4->6 needs 20 bytes of room before
// the frame (the caller prepends them) and 6->4 leaves the frame 20 bytes
// later (the caller trims them); the L2 header (Ethernet, with a VLAN tag
// if any) moves by those 20 bytes and the UDP header and payload stay where
// they are.
//
// Why incremental UDP checksums: the UDP length and protocol are the same
// in both pseudo-headers, so the checksum changes by the address and port
// words only, a delta computed when the session is installed (as for the
// same-family rewrite). Exceptions: an IPv4 datagram without a checksum
// (0) gets one computed in full, since IPv6 requires it; a result of 0 is
// sent as 0xFFFF in both families. The IPv4 header is new, so its checksum
// is computed, from a sum of its constant words (version, DF, protocol,
// addresses) prepared at install plus TOS, length and TTL per packet.
//
// Field mapping: IPv4 TOS <-> IPv6 traffic class (DSCP and ECN copied);
// TTL - 1 <-> hop limit - 1; flow label 0; IPv4 identification 0 with DF
// set (RFC 7915 5.1: the path MTU is for IPv6 senders to discover, and
// an ID of 0 on an atomic datagram is what RFC 6864 allows).
//
// Byte buffers only: the data plane's mbuf handling (prepend, trim) is
// the caller's, so the functions are unit-tested without an EAL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "srtfwd/net/addr.h"
#include "srtfwd/net/checksum.h"
#include "srtfwd/net/headers.h"
#include "srtfwd/net/rewrite.h"

namespace srtfwd::net {

// How much longer an IPv6 header is than an IPv4 one without options.
inline constexpr uint32_t kXlatGrowth = kIpv6HeaderLen - kIpv4MinHeaderLen;
static_assert(kXlatGrowth == 20);

// The IPv4 header's words that do not change per packet, summed: version
// and IHL (0x4500, the TOS byte added per packet), identification 0, DF,
// protocol UDP (the TTL byte added per packet), source and destination.
inline uint16_t xlat_ipv4_header_base(const IpAddr& src, const IpAddr& dst) noexcept {
  uint32_t sum = 0x4500u + kIpv4FlagDf + IP_PROTO_UDP;
  sum = csum_bytes(src.b.data() + 12, 4, sum);
  sum = csum_bytes(dst.b.data() + 12, 4, sum);
  return csum_fold(sum);
}

// The rewrite of a translated direction: packets arriving as
// old_src:old_sport -> old_dst:old_dport (one family) leave as
// new_src:new_sport -> new_dst:new_dport (the other family) toward dst_mac.
// Ports host order. udp_csum_delta is the difference of the pseudo-headers'
// address words and the ports; for 6->4 ip_csum_delta holds
// xlat_ipv4_header_base() of the new addresses. nullopt unless the old pair
// is of one family and the new pair of the other.
inline std::optional<Rewrite> make_xlat_rewrite(const IpAddr& old_src, const IpAddr& old_dst,
                                                uint16_t old_sport, uint16_t old_dport,
                                                const IpAddr& new_src, const IpAddr& new_dst,
                                                uint16_t new_sport, uint16_t new_dport,
                                                const MacAddr& dst_mac) noexcept {
  const bool from_v4 = old_src.is_v4();
  if (old_dst.is_v4() != from_v4 || new_src.is_v4() == from_v4 || new_dst.is_v4() == from_v4)
    return std::nullopt;
  Rewrite rw;
  rw.dst_mac = dst_mac;
  rw.src = new_src;
  rw.dst = new_dst;
  rw.sport_be = to_be16(new_sport);
  rw.dport_be = to_be16(new_dport);
  const uint16_t old_sum = csum_fold(csum_bytes(old_dst.wire(), old_dst.wire_len(),
                                                csum_bytes(old_src.wire(), old_src.wire_len())));
  const uint16_t new_sum = csum_fold(csum_bytes(new_dst.wire(), new_dst.wire_len(),
                                                csum_bytes(new_src.wire(), new_src.wire_len())));
  // ~m + m' over the address words (RFC 1624), then the ports.
  rw.udp_csum_delta =
      csum_fold(uint32_t{static_cast<uint16_t>(~old_sum)} + new_sum +
                csum_delta16(old_sport, new_sport) + csum_delta16(old_dport, new_dport));
  rw.ip_csum_delta = from_v4 ? 0 : xlat_ipv4_header_base(new_src, new_dst);
  return rw;
}

enum class XlatResult : uint8_t {
  kOk,
  kTtlExpired,  // TTL / hop limit 0 or 1: dropped as by the same-family rewrite
  kMalformed,   // not an IPv4 (IHL 5) / IPv6 UDP packet whose UDP length fits the frame
};

namespace detail {

// The UDP checksum after the translation: incremental from the received
// one, or (an IPv4 datagram without one) in full over the new
// pseudo-header and the datagram; the ports must already be the new ones.
inline uint16_t xlat_udp_csum(const uint8_t* udp, uint16_t udp_len, const Rewrite& rw) noexcept {
  const uint16_t old_csum = load_be16(udp + kUdpCsumOff);
  uint16_t c;
  if (old_csum == 0) {
    uint32_t sum = pseudo_header_sum(rw.src, rw.dst, IP_PROTO_UDP, udp_len);
    sum = csum_bytes(udp, kUdpCsumOff, sum);
    sum = csum_bytes(udp + kUdpHeaderLen, udp_len - kUdpHeaderLen, sum);
    c = csum_finish(sum);
  } else {
    c = csum_update_folded(old_csum, rw.udp_csum_delta);
  }
  // 0 is "no checksum" in IPv4 and invalid in IPv6: 0xFFFF in both.
  return c == 0 ? 0xffff : c;
}

}  // namespace detail

// 4->6. `frame` is an IPv4 UDP frame of `len` bytes whose IPv4 header (IHL
// 5, not a fragment) is at l3_off, with at least kXlatGrowth writable bytes
// before it: the IPv6 frame is written from frame - kXlatGrowth and is
// len + kXlatGrowth long. src_mac is our MAC on the egress port. On any
// result but kOk the bytes are left as they were.
inline XlatResult xlat_4to6(uint8_t* frame, uint32_t l3_off, uint32_t len, const Rewrite& rw,
                            const MacAddr& src_mac) noexcept {
  const uint8_t* ip4 = frame + l3_off;
  if (len < l3_off + kIpv4MinHeaderLen + kUdpHeaderLen || ip4[kIpv4VerIhlOff] != 0x45 ||
      ip4[kIpv4ProtoOff] != IP_PROTO_UDP)
    return XlatResult::kMalformed;
  uint8_t* udp = frame + l3_off + kIpv4MinHeaderLen;
  const uint16_t udp_len = load_be16(udp + kUdpLenOff);
  if (udp_len < kUdpHeaderLen || l3_off + kIpv4MinHeaderLen + udp_len > len)
    return XlatResult::kMalformed;
  const uint8_t ttl = ip4[kIpv4TtlOff];
  if (ttl <= 1) return XlatResult::kTtlExpired;
  const uint8_t tos = ip4[kIpv4TosOff];

  // The UDP header stays where it is; the checksum is over the new ports.
  store_raw16(udp + kUdpSrcPortOff, rw.sport_be);
  store_raw16(udp + kUdpDstPortOff, rw.dport_be);
  store_be16(udp + kUdpCsumOff, detail::xlat_udp_csum(udp, udp_len, rw));

  // The L2 header moves 20 bytes toward the front, then the IPv6 header
  // overwrites what was left of it and the IPv4 header.
  uint8_t* out = frame - kXlatGrowth;
  std::memmove(out, frame, l3_off);
  std::memcpy(out + kEthDstOff, rw.dst_mac.b.data(), kMacLen);
  std::memcpy(out + kEthSrcOff, src_mac.b.data(), kMacLen);
  store_be16(out + l3_off - 2, ETHER_TYPE_IPV6);  // the last ethertype: after the tag, if any
  uint8_t* ip6 = out + l3_off;
  store_be32(ip6 + kIpv6VtcFlowOff, 0x60000000u | uint32_t{tos} << 20);
  store_be16(ip6 + kIpv6PayloadLenOff, udp_len);
  ip6[kIpv6NextHeaderOff] = IP_PROTO_UDP;
  ip6[kIpv6HopLimitOff] = static_cast<uint8_t>(ttl - 1);
  std::memcpy(ip6 + kIpv6SrcOff, rw.src.b.data(), 16);
  std::memcpy(ip6 + kIpv6DstOff, rw.dst.b.data(), 16);
  return XlatResult::kOk;
}

// 6->4. `frame` is an IPv6 UDP frame of `len` bytes whose IPv6 header (no
// extension headers) is at l3_off: the IPv4 frame is written from
// frame + kXlatGrowth and is len - kXlatGrowth long. rw.ip_csum_delta is
// xlat_ipv4_header_base() of rw's addresses (make_xlat_rewrite() sets it).
// On any result but kOk the bytes are left as they were.
inline XlatResult xlat_6to4(uint8_t* frame, uint32_t l3_off, uint32_t len, const Rewrite& rw,
                            const MacAddr& src_mac) noexcept {
  const uint8_t* ip6 = frame + l3_off;
  if (len < l3_off + kIpv6HeaderLen + kUdpHeaderLen || (ip6[kIpv6VtcFlowOff] >> 4) != 6 ||
      ip6[kIpv6NextHeaderOff] != IP_PROTO_UDP)
    return XlatResult::kMalformed;
  uint8_t* udp = frame + l3_off + kIpv6HeaderLen;
  const uint16_t udp_len = load_be16(udp + kUdpLenOff);
  if (udp_len < kUdpHeaderLen || l3_off + kIpv6HeaderLen + udp_len > len)
    return XlatResult::kMalformed;
  const uint8_t hop = ip6[kIpv6HopLimitOff];
  if (hop <= 1) return XlatResult::kTtlExpired;
  const uint8_t tc = static_cast<uint8_t>(load_be16(ip6 + kIpv6VtcFlowOff) >> 4);

  store_raw16(udp + kUdpSrcPortOff, rw.sport_be);
  store_raw16(udp + kUdpDstPortOff, rw.dport_be);
  store_be16(udp + kUdpCsumOff, detail::xlat_udp_csum(udp, udp_len, rw));

  // The IPv4 header ends where the IPv6 one did; the L2 header moves 20
  // bytes toward the back (memmove: the two overlap when it is longer).
  uint8_t* out = frame + kXlatGrowth;
  std::memmove(out, frame, l3_off);
  std::memcpy(out + kEthDstOff, rw.dst_mac.b.data(), kMacLen);
  std::memcpy(out + kEthSrcOff, src_mac.b.data(), kMacLen);
  store_be16(out + l3_off - 2, ETHER_TYPE_IPV4);
  uint8_t* ip4 = out + l3_off;
  const uint16_t total = static_cast<uint16_t>(udp_len + kIpv4MinHeaderLen);
  const uint8_t ttl = static_cast<uint8_t>(hop - 1);
  ip4[kIpv4VerIhlOff] = 0x45;
  ip4[kIpv4TosOff] = tc;
  store_be16(ip4 + kIpv4TotalLenOff, total);
  store_be16(ip4 + kIpv4IdOff, 0);
  store_be16(ip4 + kIpv4FragOff, kIpv4FlagDf);
  ip4[kIpv4TtlOff] = ttl;
  ip4[kIpv4ProtoOff] = IP_PROTO_UDP;
  std::memcpy(ip4 + kIpv4SrcOff, rw.src.b.data() + 12, 4);
  std::memcpy(ip4 + kIpv4DstOff, rw.dst.b.data() + 12, 4);
  store_be16(ip4 + kIpv4CsumOff,
             csum_finish(uint32_t{rw.ip_csum_delta} + tc + total + (uint32_t{ttl} << 8)));
  return XlatResult::kOk;
}

}  // namespace srtfwd::net

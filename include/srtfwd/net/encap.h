// The second chance's hop between hosts: IP-in-UDP, as GLB Director's
// second hop (GUE variant 1: the UDP payload is the inner IPv4 packet itself,
// no GUE header). The forwarding host puts an outer IPv4 and UDP header
// between a caller's packet's Ethernet header and its IPv4 header and sends
// it to the session's owner; the owner takes them out again and handles the
// inner packet as received. The inner packet is not changed (TTL and
// checksums as the caller sent them).
//
//   [Ethernet][outer IPv4 us -> owner][UDP sport -> hop port][inner IPv4 caller -> VIP][UDP][SRT]
//
// The outer UDP checksum is 0 (RFC 768: none, allowed over IPv4); the inner
// UDP checksum covers the payload end to end. The outer source port carries
// the inner flow's hash, so that the owner's NIC spreads hopped flows over
// its RX queues as it spreads direct ones (RFC 8086's entropy port).
#pragma once

#include <cstdint>
#include <cstring>

#include "srtfwd/net/addr.h"
#include "srtfwd/net/checksum.h"
#include "srtfwd/net/headers.h"

namespace srtfwd::net {

inline constexpr uint32_t kHopOverhead = kIpv4MinHeaderLen + kUdpHeaderLen;  // 28 bytes
inline constexpr uint8_t kHopTtl = 64;

// Writes Ethernet (untagged), outer IPv4 and UDP headers at frame[0 ..
// kEthHeaderLen + kHopOverhead); the inner IPv4 packet of inner_len bytes
// follows. Addresses IPv4.
inline void write_hop_headers(uint8_t* frame, uint32_t inner_len, const MacAddr& dst_mac,
                              const MacAddr& src_mac, const IpAddr& src, const IpAddr& dst,
                              uint16_t sport_be, uint16_t dport_be) noexcept {
  std::memcpy(frame + kEthDstOff, dst_mac.b.data(), kMacLen);
  std::memcpy(frame + kEthSrcOff, src_mac.b.data(), kMacLen);
  store_be16(frame + kEthTypeOff, ETHER_TYPE_IPV4);
  uint8_t* ip = frame + kEthHeaderLen;
  ip[0] = 0x45;
  ip[1] = 0;
  store_be16(ip + 2, static_cast<uint16_t>(inner_len + kHopOverhead));
  store_be16(ip + 4, 0);       // identification: DF set, never fragmented
  store_be16(ip + 6, 0x4000);  // DF
  ip[8] = kHopTtl;
  ip[9] = IP_PROTO_UDP;
  store_be16(ip + 10, 0);
  std::memcpy(ip + 12, src.b.data() + 12, 4);
  std::memcpy(ip + 16, dst.b.data() + 12, 4);
  store_be16(ip + 10, ipv4_header_checksum(ip, kIpv4MinHeaderLen));
  uint8_t* udp = ip + kIpv4MinHeaderLen;
  store_raw16(udp, sport_be);
  store_raw16(udp + 2, dport_be);
  store_be16(udp + 4, static_cast<uint16_t>(inner_len + kUdpHeaderLen));
  store_be16(udp + 6, 0);
}

// Whether the UDP payload of a hop packet (inner, len bytes) looks like an
// IPv4 packet that fills it exactly: the owner checks before it strips the
// outer headers, so a garbled hop never reaches the classifier as something
// else. (The classifier then parses it as any received frame.)
inline bool hop_inner_ok(const uint8_t* inner, uint32_t len) noexcept {
  return len >= kIpv4MinHeaderLen && (inner[0] >> 4) == 4 && load_be16(inner + 2) == len;
}

}  // namespace srtfwd::net

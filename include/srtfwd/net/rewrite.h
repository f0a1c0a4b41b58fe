// In-place NAT of a UDP frame for one direction of a session: new MACs, IP
// addresses and UDP ports, TTL (hop limit) minus one, checksums patched by a
// delta computed once when the session is installed.
//
// Why precomputed deltas: the session key is the packet's 4-tuple, so every
// packet that reaches a rewrite carries exactly the old addresses and ports
// the delta was made from. The per-packet cost is then copies, one decrement
// and one add-and-fold per checksum (RFC 1624), independent of the payload
// length. The TTL decrement changes the 16-bit word TTL|protocol by -0x0100,
// whose delta ~m + m' = 0xFFFF - 0x0100 = 0xFEFF is the same for every TTL
// >= 1, so it is folded into the IPv4 header delta too.
//
// The VLAN tag, IPv4 identification/DSCP/flags, IPv6 traffic class and flow
// label, and the payload are left as received.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "srtfwd/net/addr.h"
#include "srtfwd/net/checksum.h"
#include "srtfwd/net/headers.h"
#include "srtfwd/net/parse.h"

namespace srtfwd::net {

// 46 bytes. The flow table does not store it whole: an IPv4 slot keeps the
// words the frame stores (V4Patch), an IPv6 key's tail slot its fields, and
// FlowSlot::rewrite() rebuilds it for the slow path. What can be had elsewhere is
// not stored: the source MAC is the egress port's (an argument of apply_*),
// the family is the packet's (a session key only matches its own family),
// the offload pseudo-header sum is a few adds of src and dst.
struct Rewrite {
  MacAddr dst_mac;        // the next hop's MAC
  IpAddr src, dst;        // new addresses (same family as the old ones)
  uint16_t sport_be = 0;  // new ports, network order as stored
  uint16_t dport_be = 0;
  uint16_t ip_csum_delta = 0;   // IPv4 header: addresses and the TTL decrement (folded)
  uint16_t udp_csum_delta = 0;  // UDP: pseudo-header addresses and the ports (folded)

  bool ipv4() const noexcept { return src.is_v4(); }
};
static_assert(sizeof(Rewrite) == 46,
              "Rewrite changed: V4Patch::make() and the flow table's IPv6 tail follow its layout");
static_assert(offsetof(Rewrite, src) == 6 &&
                  offsetof(Rewrite, dport_be) == offsetof(Rewrite, sport_be) + 2,
              "V4Patch::make() loads the MAC as 8 bytes and the ports as 4");

// The word TTL|protocol loses 0x0100 when the TTL drops by one.
inline constexpr uint16_t kTtlDecrementDelta = 0xfeff;

// Builds the rewrite for packets arriving as old_src:old_sport -> old_dst:old_dport
// and leaving as new_src:new_sport -> new_dst:new_dport toward the next hop
// dst_mac. Ports host order. nullopt when the four addresses are not of one
// family: v4 <-> v6 translation would change header sizes and is out of scope.
inline std::optional<Rewrite> make_rewrite(const IpAddr& old_src, const IpAddr& old_dst,
                                           uint16_t old_sport, uint16_t old_dport,
                                           const IpAddr& new_src, const IpAddr& new_dst,
                                           uint16_t new_sport, uint16_t new_dport,
                                           const MacAddr& dst_mac) noexcept {
  const bool v4 = old_src.is_v4();
  if (old_dst.is_v4() != v4 || new_src.is_v4() != v4 || new_dst.is_v4() != v4) return std::nullopt;
  Rewrite rw;
  rw.dst_mac = dst_mac;
  rw.src = new_src;
  rw.dst = new_dst;
  rw.sport_be = to_be16(new_sport);
  rw.dport_be = to_be16(new_dport);
  // IPv4 addresses are the last 4 bytes of the mapped form; the 12-byte
  // prefix is equal on both sides and would contribute nothing anyway.
  const size_t off = v4 ? 12 : 0;
  const size_t n = 16 - off;
  const uint32_t addr_delta = csum_delta_bytes(old_src.b.data() + off, new_src.b.data() + off, n) +
                              csum_delta_bytes(old_dst.b.data() + off, new_dst.b.data() + off, n);
  rw.ip_csum_delta = v4 ? csum_fold(addr_delta + kTtlDecrementDelta) : 0;
  rw.udp_csum_delta = csum_fold(addr_delta + csum_delta16(old_sport, new_sport) +
                                csum_delta16(old_dport, new_dport));
  return rw;
}

// TTL / hop limit 0 or 1: forwarding would send it out with 0. The caller
// drops and counts it (no ICMP time-exceeded: we are a NAT, not a router).
inline bool ttl_expired(const FrameInfo& fi) noexcept { return fi.ttl <= 1; }

namespace detail {

// Everything but the checksums. Returns the IP and UDP headers.
inline void rewrite_fields(uint8_t* frame, const FrameInfo& fi, const Rewrite& rw,
                           const MacAddr& src_mac, uint8_t** ip_out, uint8_t** udp_out) noexcept {
  std::memcpy(frame + kEthDstOff, rw.dst_mac.b.data(), kMacLen);
  std::memcpy(frame + kEthSrcOff, src_mac.b.data(), kMacLen);
  uint8_t* ip = frame + fi.l3_off;
  if (fi.ip_version == 4) {
    std::memcpy(ip + kIpv4SrcOff, rw.src.b.data() + 12, 4);
    std::memcpy(ip + kIpv4DstOff, rw.dst.b.data() + 12, 4);
    ip[kIpv4TtlOff] = static_cast<uint8_t>(fi.ttl - 1);
  } else {
    std::memcpy(ip + kIpv6SrcOff, rw.src.b.data(), 16);
    std::memcpy(ip + kIpv6DstOff, rw.dst.b.data(), 16);
    ip[kIpv6HopLimitOff] = static_cast<uint8_t>(fi.ttl - 1);
  }
  uint8_t* udp = frame + fi.l4_off;
  store_raw16(udp + kUdpSrcPortOff, rw.sport_be);
  store_raw16(udp + kUdpDstPortOff, rw.dport_be);
  *ip_out = ip;
  *udp_out = udp;
}

}  // namespace detail

// Rewrites a frame that parse_frame() accepted as Verdict::Udp and whose
// 4-tuple is the old one given to make_rewrite(), patching both checksums
// incrementally; src_mac is our MAC on the egress port. Returns false, leaving
// the frame untouched, when the TTL has expired (see ttl_expired()).
inline bool apply_rewrite(uint8_t* frame, const FrameInfo& fi, const Rewrite& rw,
                          const MacAddr& src_mac) noexcept {
  assert((fi.ip_version == 4) == rw.ipv4());
  if (ttl_expired(fi)) return false;
  uint8_t* ip;
  uint8_t* udp;
  detail::rewrite_fields(frame, fi, rw, src_mac, &ip, &udp);
  const bool v4 = fi.ip_version == 4;
  if (v4)
    store_be16(ip + kIpv4CsumOff,
               csum_update_folded(load_be16(ip + kIpv4CsumOff), rw.ip_csum_delta));
  store_be16(udp + kUdpCsumOff,
             udp_csum_update_folded(load_be16(udp + kUdpCsumOff), rw.udp_csum_delta, v4));
  return true;
}

// apply_rewrite() for the worker's IPv4 fast path, prepared once per run of
// packets of one session direction: the new MACs, addresses and ports as
// the words they are stored as, and the two deltas. Kept in a local, the
// compiler holds it in registers across the packets of the run (the
// frame's byte stores may alias anything in memory, so fields read through
// the slot and port would be reloaded for every packet). apply() writes
// the very bytes apply_rewrite() does (a test compares them) for a frame
// that parse_ipv4_udp_fast() accepted, its IPv4 header (IHL 5) at l3_off;
// `rw` must be an IPv4 rewrite (a v4 key only ever matches a v4 session).
struct V4Patch {
  uint64_t macs_lo = 0;  // frame bytes 0-7: destination MAC, source MAC's first two bytes
  uint32_t macs_hi = 0;  // frame bytes 8-11
  uint32_t ports = 0;    // UDP bytes 0-3
  uint64_t addrs = 0;    // IPv4 bytes 12-19: source, destination
  // The deltas as the checksum fields' bytes load (byte-swapped on a little-
  // endian host): one's complement addition commutes with swapping the two
  // bytes of every word (RFC 1071 2(B)), and 0 / 0xFFFF are their own swaps,
  // so the fields are updated as loaded, without swapping them. The UDP
  // one is kept complemented (udp4_csum_update_ndelta()).
  uint16_t ip_delta_raw = 0, udp_ndelta_raw = 0;

  static V4Patch make(const Rewrite& rw, const MacAddr& src_mac) noexcept {
    // Whole words loaded and combined in registers: byte copies through a
    // stack buffer, read back as wider words, stall on store forwarding
    // (once per run, which with many sessions is once per packet).
    V4Patch p;
    uint64_t dst_and_more;
    std::memcpy(&dst_and_more, rw.dst_mac.b.data(), 8);  // the MAC, then the first bytes of rw.src
    p.macs_lo = dst_and_more & 0xffffffffffffull;
    p.set_src_mac(src_mac);
    uint32_t s4, d4;
    std::memcpy(&s4, rw.src.b.data() + 12, 4);
    std::memcpy(&d4, rw.dst.b.data() + 12, 4);
    p.addrs = uint64_t{s4} | uint64_t{d4} << 32;
    std::memcpy(&p.ports, &rw.sport_be, 4);  // sport_be, then dport_be
    p.ip_delta_raw = to_be16(rw.ip_csum_delta);
    p.udp_ndelta_raw = static_cast<uint16_t>(~to_be16(rw.udp_csum_delta));
    return p;
  }

  // The IPv4 Rewrite this patch was made from (make() of it gives this
  // patch again, with any source MAC).
  Rewrite rewrite() const noexcept {
    Rewrite rw;
    std::memcpy(rw.dst_mac.b.data(), &macs_lo, kMacLen);
    rw.src = IpAddr::from_v4(static_cast<uint32_t>(addrs));
    rw.dst = IpAddr::from_v4(static_cast<uint32_t>(addrs >> 32));
    std::memcpy(&rw.sport_be, &ports, 4);
    rw.ip_csum_delta = to_be16(ip_delta_raw);
    rw.udp_csum_delta = to_be16(static_cast<uint16_t>(~udp_ndelta_raw));
    return rw;
  }

  // The source MAC into frame bytes 6-11 (macs_lo's top two bytes must be 0).
  void set_src_mac(const MacAddr& src_mac) noexcept {
    uint16_t src_lo;
    std::memcpy(&src_lo, src_mac.b.data(), 2);
    std::memcpy(&macs_hi, src_mac.b.data() + 2, 4);
    macs_lo |= uint64_t{src_lo} << 48;
  }

  bool apply(uint8_t* frame, uint32_t l3_off) const noexcept {
    uint8_t* ip = frame + l3_off;
    const uint8_t ttl = ip[kIpv4TtlOff];
    if (ttl <= 1) return false;
    std::memcpy(frame + kEthDstOff, &macs_lo, 8);
    std::memcpy(frame + 8, &macs_hi, 4);
    std::memcpy(ip + kIpv4SrcOff, &addrs, 8);  // source and destination are adjacent
    ip[kIpv4TtlOff] = static_cast<uint8_t>(ttl - 1);
    store_raw16(ip + kIpv4CsumOff, csum_update_folded(load_raw16(ip + kIpv4CsumOff), ip_delta_raw));
    uint8_t* udp = ip + kIpv4MinHeaderLen;
    std::memcpy(udp + kUdpSrcPortOff, &ports, 4);
    store_raw16(udp + kUdpCsumOff,
                udp4_csum_update_ndelta(load_raw16(udp + kUdpCsumOff), udp_ndelta_raw));
    return true;
  }
};
static_assert(kEthSrcOff == 6 && kIpv4DstOff == kIpv4SrcOff + 4 && kUdpDstPortOff == 2);

// The same for a port that computes checksums in hardware: the IPv4 header
// checksum is set to 0 and the UDP checksum to the pseudo-header sum, which is
// what DPDK requires with RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM
// (the caller sets those flags and l2_len/l3_len). An IPv4 packet that arrived
// without a UDP checksum leaves with one.
inline bool apply_rewrite_offload(uint8_t* frame, const FrameInfo& fi, const Rewrite& rw,
                                  const MacAddr& src_mac) noexcept {
  assert((fi.ip_version == 4) == rw.ipv4());
  if (ttl_expired(fi)) return false;
  uint8_t* ip;
  uint8_t* udp;
  detail::rewrite_fields(frame, fi, rw, src_mac, &ip, &udp);
  if (fi.ip_version == 4) {
    store_be16(ip + kIpv4CsumOff, 0);
    store_be16(udp + kUdpCsumOff,
               csum_fold(ipv4_pseudo_header_sum(rw.src, rw.dst, IP_PROTO_UDP, fi.udp_len)));
  } else {
    store_be16(udp + kUdpCsumOff,
               csum_fold(ipv6_pseudo_header_sum(rw.src, rw.dst, IP_PROTO_UDP, fi.udp_len)));
  }
  return true;
}

}  // namespace srtfwd::net

// The Internet checksum (RFC 1071): full computation for the slow path and
// tests, RFC 1624 incremental update for the fast path.
//
// Conventions: every checksum value and every accumulator in this API is a
// host-order number, as load_be16() reads the field from the frame and
// store_be16() writes it back. An accumulator ("sum") is an unfolded 32-bit
// sum of 16-bit words; csum_fold() folds it, csum_finish() folds and
// complements it into the value a checksum field carries.
//
// The full sums load the bytes in native order and byte-swap once at the end:
// the one's-complement sum is independent of byte order (RFC 1071 section
// 2(B)), so this is exact and saves a swap per word.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "srtfwd/net/addr.h"
#include "srtfwd/net/headers.h"

namespace srtfwd::net {

// Folds an accumulator to 16 bits with end-around carry (not complemented).
constexpr uint16_t csum_fold(uint32_t sum) noexcept {
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The checksum field value for an accumulator: ~fold(sum).
constexpr uint16_t csum_finish(uint32_t sum) noexcept {
  return static_cast<uint16_t>(~csum_fold(sum));
}

// Adds n bytes, read as big-endian 16-bit words, to sum. An odd last byte is
// padded with a zero byte, so only the last chunk of a checksummed range may
// have odd length. Returns an accumulator below 0x20000 + sum.
inline uint32_t csum_bytes(const uint8_t* p, size_t n, uint32_t sum = 0) noexcept {
  // 32-bit native words into a 64-bit accumulator: no carry is lost for any
  // n below 16 GiB.
  uint64_t acc = 0;
  while (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    acc += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    acc += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    uint16_t w = 0;  // the byte goes first in memory: the word's high byte on the wire
    std::memcpy(&w, p, 1);
    acc += w;
  }
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  uint16_t native = csum_fold(static_cast<uint32_t>(acc));
  if constexpr (std::endian::native == std::endian::little) native = bswap16(native);
  return sum + native;
}

// Header checksum of an IPv4 header of header_len bytes (IHL * 4), computed
// as if its checksum field were zero: the value to store at kIpv4CsumOff.
inline uint16_t ipv4_header_checksum(const uint8_t* ip, size_t header_len) noexcept {
  uint32_t sum = csum_bytes(ip, kIpv4CsumOff);
  sum = csum_bytes(ip + kIpv4CsumOff + 2, header_len - kIpv4CsumOff - 2, sum);
  return csum_finish(sum);
}

// Pseudo-header sums (RFC 768 for IPv4, RFC 8200 section 8.1 for IPv6). The
// address family is taken from src; l4_len is the UDP (or ICMPv6) length.
inline uint32_t ipv4_pseudo_header_sum(const IpAddr& src, const IpAddr& dst, uint8_t proto,
                                       uint32_t l4_len) noexcept {
  uint32_t sum = csum_bytes(src.b.data() + 12, 4);
  sum = csum_bytes(dst.b.data() + 12, 4, sum);
  return sum + proto + (l4_len & 0xffffu);
}
inline uint32_t ipv6_pseudo_header_sum(const IpAddr& src, const IpAddr& dst, uint8_t proto,
                                       uint32_t l4_len) noexcept {
  uint32_t sum = csum_bytes(src.b.data(), 16);
  sum = csum_bytes(dst.b.data(), 16, sum);
  return sum + proto + (l4_len >> 16) + (l4_len & 0xffffu);
}
inline uint32_t pseudo_header_sum(const IpAddr& src, const IpAddr& dst, uint8_t proto,
                                  uint32_t l4_len) noexcept {
  return src.is_v4() ? ipv4_pseudo_header_sum(src, dst, proto, l4_len)
                     : ipv6_pseudo_header_sum(src, dst, proto, l4_len);
}

// Checksum of a transport segment of len bytes under a pseudo header, with the
// checksum field at csum_off counted as zero. For UDP use udp_checksum(),
// which also applies UDP's zero rule.
inline uint16_t l4_checksum(const IpAddr& src, const IpAddr& dst, uint8_t proto, const uint8_t* l4,
                            size_t len, size_t csum_off) noexcept {
  uint32_t sum = pseudo_header_sum(src, dst, proto, static_cast<uint32_t>(len));
  sum = csum_bytes(l4, csum_off, sum);
  sum = csum_bytes(l4 + csum_off + 2, len - csum_off - 2, sum);
  return csum_finish(sum);
}

// The UDP checksum to store: a computed 0 is sent as 0xFFFF, because 0 in an
// IPv4 UDP header means "no checksum" and is invalid in IPv6 (RFC 768, RFC
// 8200 section 8.1).
inline uint16_t udp_checksum(const IpAddr& src, const IpAddr& dst, const uint8_t* udp,
                             size_t udp_len) noexcept {
  const uint16_t c = l4_checksum(src, dst, IP_PROTO_UDP, udp, udp_len, kUdpCsumOff);
  return c == 0 ? 0xffff : c;
}

// ICMP (IPv4) checksums cover the message only; ICMPv6 adds a pseudo header.
inline uint16_t icmp4_checksum(const uint8_t* icmp, size_t len) noexcept {
  uint32_t sum = csum_bytes(icmp, kIcmpCsumOff);
  sum = csum_bytes(icmp + kIcmpCsumOff + 2, len - kIcmpCsumOff - 2, sum);
  return csum_finish(sum);
}
inline uint16_t icmp6_checksum(const IpAddr& src, const IpAddr& dst, const uint8_t* icmp,
                               size_t len) noexcept {
  return l4_checksum(src, dst, IP_PROTO_ICMPV6, icmp, len, kIcmpCsumOff);
}

// ---- RFC 1624 incremental update ----
//
// When 16-bit words m_i of a checksummed range become m_i', the checksum HC
// becomes HC' = ~(~HC + sum(~m_i) + sum(m_i')) (RFC 1624 equation 3). The
// "delta" below is sum(~m_i + m_i'); it depends only on the old and new
// values, so the data plane computes it once per session and applies it per
// packet with one add and a fold.

constexpr uint32_t csum_delta16(uint16_t old_v, uint16_t new_v) noexcept {
  return uint32_t{static_cast<uint16_t>(~old_v)} + new_v;
}
// Delta for n bytes (n even) changing from old_p to new_p.
inline uint32_t csum_delta_bytes(const uint8_t* old_p, const uint8_t* new_p, size_t n) noexcept {
  uint32_t d = 0;
  for (size_t i = 0; i + 1 < n; i += 2)
    d += csum_delta16(load_be16(old_p + i), load_be16(new_p + i));
  return d;
}

// HC' for a delta (which may be unfolded).
constexpr uint16_t csum_update(uint16_t hc, uint32_t delta) noexcept {
  return csum_finish(uint32_t{static_cast<uint16_t>(~hc)} + csum_fold(delta));
}

// The same for a delta already folded to 16 bits (what make_rewrite stores):
// ~(~hc + delta) with end-around carry, computed as hc - delta with
// end-around borrow (sub, sbb: no complement before or after). The two are
// equal for every hc and delta, zero included: when ~hc + delta does not
// carry (delta <= hc) the first is hc - delta, which borrows nothing; when
// it carries (delta > hc) it is ~(delta - hc) = 0xFFFF + hc - delta, which is
// hc - delta modulo 2^16 less the borrow. (One's complement a + ~b would
// differ: it gives 0xFFFF, not 0, for hc == delta.) Either way the result
// depends only on one's complement sums, so it holds for byte-swapped
// operands too. A test sweeps it against csum_update().
constexpr uint16_t csum_update_folded(uint16_t hc, uint16_t delta) noexcept {
  uint16_t s = 0;
  const bool borrow = __builtin_sub_overflow(hc, delta, &s);
  return static_cast<uint16_t>(s - borrow);
}

// The same for a UDP checksum: an IPv4 UDP checksum of 0 ("none") stays 0,
// and a result of 0 is stored as 0xFFFF (see udp_checksum()).
constexpr uint16_t udp_csum_update(uint16_t hc, uint32_t delta, bool ipv4) noexcept {
  if (ipv4 && hc == 0) return 0;
  const uint16_t c = csum_update(hc, delta);
  return c == 0 ? 0xffff : c;
}
constexpr uint16_t udp_csum_update_folded(uint16_t hc, uint16_t delta, bool ipv4) noexcept {
  if (ipv4 && hc == 0) return 0;
  const uint16_t c = csum_update_folded(hc, delta);
  return c == 0 ? 0xffff : c;
}

// The same for an IPv4 UDP checksum, from the delta's complement (kept so
// once per session): HC - delta, i.e. HC + ~delta with end-around carry,
// is the value of ~(~HC + delta) in one's complement, and for HC != 0 it is
// never 0 (a sum that carries is at least 1, one that does not at least
// HC), so a zero result comes out as 0xFFFF, which is the rule; no test for
// it is needed. Equal to udp_csum_update_folded(hc, ~ndelta, true) for every
// hc and ndelta (a test sweeps them), in two instructions fewer.
constexpr uint16_t udp4_csum_update_ndelta(uint16_t hc, uint16_t ndelta) noexcept {
  if (hc == 0) return 0;
  uint16_t s = 0;
  const bool carry = __builtin_add_overflow(hc, ndelta, &s);
  return static_cast<uint16_t>(s + carry);
}

}  // namespace srtfwd::net

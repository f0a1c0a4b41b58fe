// IP and MAC addresses and IP prefixes.
//
// IpAddr holds both families in 16 bytes, IPv4 as a v4-mapped IPv6 address
// (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2), so a session key, a neighbour
// table or a backend list has one key type for both. An IPv6 peer cannot send
// from a v4-mapped address on the wire, so the mapping is unambiguous.
//
// Text conversion is out of line (src/net/addr.cc); everything the data plane
// touches per packet is inline and allocation-free.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace srtfwd::net {

struct IpAddr {
  std::array<uint8_t, 16> b{};  // network order; IPv4 in the last 4 bytes

  // The 12-byte prefix of every v4-mapped address.
  static constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0,    0,
                                                              0, 0, 0, 0, 0xff, 0xff};

  // From an IPv4 address whose in-memory bytes are network order (what a
  // memcpy of the 4 wire bytes yields).
  static IpAddr from_v4(uint32_t be) noexcept {
    IpAddr a;
    std::memcpy(a.b.data(), kV4MappedPrefix.data(), 12);
    std::memcpy(a.b.data() + 12, &be, 4);
    return a;
  }
  // From a host-order IPv4 number: from_v4_host(0xC6120001) is 198.18.0.1.
  static constexpr IpAddr from_v4_host(uint32_t host) noexcept {
    IpAddr a;
    for (size_t i = 0; i < 12; ++i) a.b[i] = kV4MappedPrefix[i];
    a.b[12] = static_cast<uint8_t>(host >> 24);
    a.b[13] = static_cast<uint8_t>(host >> 16);
    a.b[14] = static_cast<uint8_t>(host >> 8);
    a.b[15] = static_cast<uint8_t>(host);
    return a;
  }
  // From 4 network-order bytes at any alignment.
  static IpAddr from_v4_bytes(const uint8_t* p) noexcept {
    IpAddr a;
#if defined(__SSE2__)
    // One 16-byte store. The data plane copies this address into a session
    // key with a 16-byte load a few instructions later; built from three
    // partial stores, that load cannot forward from the store buffer and
    // stalled the worker (13 % of its own cycles in perf).
    uint32_t raw;
    std::memcpy(&raw, p, 4);
    const __m128i v = _mm_set_epi32(static_cast<int>(raw), static_cast<int>(0xffff0000u), 0, 0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(a.b.data()), v);
#else
    std::memcpy(a.b.data(), kV4MappedPrefix.data(), 12);
    std::memcpy(a.b.data() + 12, p, 4);
#endif
    return a;
  }
  // From 16 network-order bytes at any alignment.
  static IpAddr from_v6(const uint8_t* p) noexcept {
    IpAddr a;
    std::memcpy(a.b.data(), p, 16);
    return a;
  }
  static IpAddr from_v6(const std::array<uint8_t, 16>& bytes) noexcept { return IpAddr{bytes}; }

  bool is_v4() const noexcept { return std::memcmp(b.data(), kV4MappedPrefix.data(), 12) == 0; }
  bool is_v6() const noexcept { return !is_v4(); }
  // The IPv4 address with network-order bytes in memory (see from_v4).
  uint32_t v4_be() const noexcept {
    uint32_t v;
    std::memcpy(&v, b.data() + 12, 4);
    return v;
  }
  uint32_t v4_host() const noexcept {
    return (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
  }
  // The wire bytes of this address in its own family: 4 for IPv4, 16 for IPv6.
  const uint8_t* wire() const noexcept { return is_v4() ? b.data() + 12 : b.data(); }
  size_t wire_len() const noexcept { return is_v4() ? 4 : 16; }

  // :: (IPv6) or 0.0.0.0 (IPv4).
  bool is_unspecified() const noexcept {
    for (size_t i = is_v4() ? 12 : 0; i < 16; ++i)
      if (b[i] != 0) return false;
    return true;
  }
  // ff00::/8 or 224.0.0.0/4.
  bool is_multicast() const noexcept { return is_v4() ? (b[12] & 0xf0) == 0xe0 : b[0] == 0xff; }

  // "198.18.0.1" or "2001:db8::1". A v4-mapped IPv6 text such as
  // "::ffff:1.2.3.4" parses as the IPv4 address 1.2.3.4.
  static std::optional<IpAddr> parse(std::string_view text);
  std::string to_string() const;

  // Two word compares, always inline (the defaulted form sometimes became
  // a memcmp call on the worker's per-packet path).
  friend bool operator==(const IpAddr& x, const IpAddr& y) noexcept {
    uint64_t x0, x1, y0, y1;
    std::memcpy(&x0, x.b.data(), 8);
    std::memcpy(&x1, x.b.data() + 8, 8);
    std::memcpy(&y0, y.b.data(), 8);
    std::memcpy(&y1, y.b.data() + 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  friend auto operator<=>(const IpAddr&, const IpAddr&) = default;
};
static_assert(sizeof(IpAddr) == 16);

// A hash for unordered containers: mixes the two 64-bit halves.
struct IpAddrHash {
  size_t operator()(const IpAddr& a) const noexcept {
    uint64_t hi, lo;
    std::memcpy(&hi, a.b.data(), 8);
    std::memcpy(&lo, a.b.data() + 8, 8);
    uint64_t h = hi * 0x9E3779B97F4A7C15ull ^ lo;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return static_cast<size_t>(h);
  }
};

struct MacAddr {
  std::array<uint8_t, 6> b{};

  static constexpr MacAddr broadcast() noexcept {
    return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  }
  static MacAddr from_bytes(const uint8_t* p) noexcept {
    MacAddr m;
    std::memcpy(m.b.data(), p, 6);
    return m;
  }
  bool is_zero() const noexcept { return *this == MacAddr{}; }
  bool is_broadcast() const noexcept { return *this == broadcast(); }
  bool is_multicast() const noexcept { return (b[0] & 1) != 0; }  // group bit, broadcast included

  // "02:00:00:00:00:01"; parse also accepts '-' separators and upper case.
  static std::optional<MacAddr> parse(std::string_view text);
  std::string to_string() const;

  friend bool operator==(const MacAddr&, const MacAddr&) = default;
  friend auto operator<=>(const MacAddr&, const MacAddr&) = default;
};
static_assert(sizeof(MacAddr) == 6);

struct MacAddrHash {
  size_t operator()(const MacAddr& m) const noexcept {
    uint64_t v = 0;
    std::memcpy(&v, m.b.data(), 6);
    v *= 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(v ^ (v >> 29));
  }
};

// An address with a prefix length in its own family: "198.18.0.1/24"
// (len 0..32) or "2001:db8::1/64" (len 0..128). The host bits of addr are
// kept, since the configuration uses one string for "our address and the
// subnet it is on".
struct Prefix {
  IpAddr addr;
  uint8_t len = 0;

  // Same family and the first len bits equal.
  bool contains(const IpAddr& ip) const noexcept {
    if (ip.is_v4() != addr.is_v4()) return false;
    unsigned bits = addr.is_v4() ? 96u + len : len;  // the v4-mapped prefix is shared
    if (bits > 128) bits = 128;
    const unsigned whole = bits / 8;
    if (std::memcmp(addr.b.data(), ip.b.data(), whole) != 0) return false;
    const unsigned rest = bits % 8;
    if (rest == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
    return (addr.b[whole] & mask) == (ip.b[whole] & mask);
  }
  // addr with the host bits cleared.
  IpAddr network() const noexcept {
    IpAddr n = addr;
    unsigned bits = addr.is_v4() ? 96u + len : len;
    for (unsigned i = 0; i < 16; ++i) {
      const unsigned lo = i * 8;
      if (bits >= lo + 8) continue;
      n.b[i] &= bits <= lo ? 0 : static_cast<uint8_t>(0xff00u >> (bits - lo));
    }
    return n;
  }
  unsigned max_len() const noexcept { return addr.is_v4() ? 32 : 128; }

  // "a.b.c.d/len" or "v6/len"; without "/len" the prefix is the host itself
  // (/32 or /128). Fails on a length beyond the family's width.
  static std::optional<Prefix> parse(std::string_view text);
  std::string to_string() const;

  friend bool operator==(const Prefix&, const Prefix&) = default;
};

}  // namespace srtfwd::net

template <>
struct std::hash<srtfwd::net::IpAddr> {
  size_t operator()(const srtfwd::net::IpAddr& a) const noexcept {
    return srtfwd::net::IpAddrHash{}(a);
  }
};
template <>
struct std::hash<srtfwd::net::MacAddr> {
  size_t operator()(const srtfwd::net::MacAddr& m) const noexcept {
    return srtfwd::net::MacAddrHash{}(m);
  }
};

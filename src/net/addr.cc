// Text forms of addresses and prefixes (configuration, logs, the admin API).
#include "srtfwd/net/addr.h"

#include <arpa/inet.h>

#include <charconv>

namespace srtfwd::net {

namespace {

// inet_pton wants a NUL-terminated string; longer than any address text means
// not an address.
constexpr size_t kMaxAddrText = INET6_ADDRSTRLEN;

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.empty() || text.size() >= kMaxAddrText) return std::nullopt;
  char buf[kMaxAddrText];
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  uint8_t v4[4];
  if (inet_pton(AF_INET, buf, v4) == 1) return from_v4_bytes(v4);
  uint8_t v6[16];
  if (inet_pton(AF_INET6, buf, v6) == 1) return from_v6(v6);
  return std::nullopt;
}

std::string IpAddr::to_string() const {
  char buf[kMaxAddrText];
  const char* s = is_v4() ? inet_ntop(AF_INET, b.data() + 12, buf, sizeof buf)
                          : inet_ntop(AF_INET6, b.data(), buf, sizeof buf);
  return s ? std::string(s) : std::string("?");
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  // Exactly "xx:xx:xx:xx:xx:xx" (or with '-'): 17 characters.
  if (text.size() != 17) return std::nullopt;
  MacAddr m;
  for (size_t i = 0; i < 6; ++i) {
    const int hi = hex_digit(text[i * 3]);
    const int lo = hex_digit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return std::nullopt;
    m.b[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return m;
}

std::string MacAddr::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(17, ':');
  for (size_t i = 0; i < 6; ++i) {
    s[i * 3] = kHex[b[i] >> 4];
    s[i * 3 + 1] = kHex[b[i] & 0xf];
  }
  return s;
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const unsigned max = addr->is_v4() ? 32 : 128;
  unsigned len = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || end != digits.data() + digits.size() || len > max) return std::nullopt;
  }
  return Prefix{*addr, static_cast<uint8_t>(len)};
}

std::string Prefix::to_string() const { return addr.to_string() + "/" + std::to_string(len); }

}  // namespace srtfwd::net

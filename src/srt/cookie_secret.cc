#include "srtfwd/srt/cookie_secret.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace srtfwd::srt {

namespace {

// Fixed, public derivation keys: they only separate the two halves of the
// derived key; the secret's entropy is the file's.
constexpr SipHashKey kDeriveLow = {'s', 'r', 't', 'f', 'w', 'd', ' ', 'c',
                                   'o', 'o', 'k', 'i', 'e', ' ', 'l', 'o'};
constexpr SipHashKey kDeriveHigh = {'s', 'r', 't', 'f', 'w', 'd', ' ', 'c',
                                    'o', 'o', 'k', 'i', 'e', ' ', 'h', 'i'};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

SipHashKey parse_cookie_secret(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.empty()) throw std::invalid_argument("empty (want one line of hexadecimal)");
  for (char c : text)
    if (hex_value(c) < 0)
      throw std::invalid_argument(
          "not one line of hexadecimal (make one with: head -c 32 /dev/urandom | xxd -p -c 64)");
  if (text.size() < kMinSecretHexDigits)
    throw std::invalid_argument("too short: " + std::to_string(text.size()) +
                                " hex digits, at least " + std::to_string(kMinSecretHexDigits) +
                                " (16 bytes) needed");
  if (text.size() > kMaxSecretHexDigits)
    throw std::invalid_argument("too long: at most " + std::to_string(kMaxSecretHexDigits) +
                                " hex digits");
  if (text.size() % 2 != 0)
    throw std::invalid_argument("odd number of hex digits (" + std::to_string(text.size()) + ")");
  std::vector<std::uint8_t> bytes(text.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<std::uint8_t>(hex_value(text[2 * i]) << 4 | hex_value(text[2 * i + 1]));
  const std::uint64_t lo = siphash24(kDeriveLow, bytes), hi = siphash24(kDeriveHigh, bytes);
  SipHashKey key;
  for (std::size_t i = 0; i < 8; ++i) {
    key[i] = static_cast<std::uint8_t>(lo >> (8 * i));
    key[8 + i] = static_cast<std::uint8_t>(hi >> (8 * i));
  }
  std::fill(bytes.begin(), bytes.end(), 0);
  return key;
}

SipHashKey read_cookie_secret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read: " + std::strerror(errno));
  // Far more than a valid secret: a wrong file (a binary, a log) is refused
  // without reading all of it.
  std::string text(kMaxSecretHexDigits + 64, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw std::runtime_error(path + ": cannot read: " + std::strerror(errno));
  text.resize(static_cast<std::size_t>(in.gcount()));
  try {
    return parse_cookie_secret(text);
  } catch (const std::invalid_argument& e) { throw std::invalid_argument(path + ": " + e.what()); }
}

}  // namespace srtfwd::srt

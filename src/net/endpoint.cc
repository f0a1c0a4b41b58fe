#include "srtfwd/net/endpoint.h"

#include <charconv>

namespace srtfwd::net {

std::optional<uint16_t> parse_port(std::string_view s) noexcept {
  // Longer than 5 digits is out of range, and from_chars would accept
  // leading zeros without end.
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

std::optional<Endpoint> parse_endpoint(std::string_view s, EndpointForms forms,
                                       std::string* error) {
  auto fail = [&](const char* why) -> std::optional<Endpoint> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  if (s.empty()) return fail("is empty");
  std::string_view host, port;
  if (s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return fail("has no ']' after its '['");
    if (close == 1) return fail("has an empty host in brackets");
    if (close + 1 >= s.size() || s[close + 1] != ':') return fail("has no :PORT after its ']'");
    host = s.substr(1, close - 1);
    if (host.find('[') != std::string_view::npos) return fail("has a stray '['");
    port = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      if (!forms.port_only) return fail("is not HOST:PORT (no port)");
      port = s;
    } else {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
      if (host.find(':') != std::string_view::npos)
        return fail("has an IPv6 address without brackets (write [ADDRESS]:PORT)");
      if (host.find_first_of("[]") != std::string_view::npos) return fail("has a stray bracket");
      if (host.empty() && !forms.empty_host) return fail("has no host before its :PORT");
    }
  }
  const auto p = parse_port(port);
  if (!p) return fail("has no port 1-65535");
  return Endpoint{std::string(host), *p};
}

}  // namespace srtfwd::net

// The one parser of endpoint strings ("HOST:PORT", "[IPV6]:PORT", ":PORT",
// "PORT"): the config's addresses, the Go proxy's environment variables,
// the SRS servers' records in Redis and the test tools all read them alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace srtfwd::net {

struct Endpoint {
  std::string host;  // brackets removed; empty when the form allowed none
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// The forms a caller accepts beyond HOST:PORT and [IPV6]:PORT.
struct EndpointForms {
  bool empty_host = false;  // ":PORT" (Go's net.Listen: every address)
  bool port_only = false;   // "PORT"
};

// A port in decimal digits, 1-65535 (no sign, no spaces).
std::optional<uint16_t> parse_port(std::string_view s) noexcept;

// HOST is a name or an IPv4 address (no colon, no brackets) or an IPv6
// address in brackets: an unbracketed IPv6 address with a port is ambiguous
// and refused, as Go's net.SplitHostPort refuses it. The host is not
// resolved or checked further. On failure nullopt, and *error (when given)
// says what is wrong, worded to follow the quoted input ("\"x\" has no port").
std::optional<Endpoint> parse_endpoint(std::string_view s, EndpointForms forms = {},
                                       std::string* error = nullptr);

}  // namespace srtfwd::net

#include "srtfwd/srt/stream_id.h"

#include <algorithm>
#include <array>
#include <optional>

#include "srtfwd/srt/handshake.h"

namespace srtfwd::srt {

namespace {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF.
bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      const unsigned char min = k == 1 ? lo : 0x80;
      const unsigned char max = k == 1 ? hi : 0xBF;
      if (cc < min || cc > max) return false;
    }
    i += extra + 1;
  }
  return true;
}

bool is_control(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c < 0x20 || c == 0x7f;
}

bool has_control(std::string_view s) { return std::any_of(s.begin(), s.end(), is_control); }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// The part before the first '?' (a query), as SRS splits it.
std::string_view before_query(std::string_view s) { return s.substr(0, s.find('?')); }

// The path of a resource as Go's url.Parse sees it: up to '?' or '#'.
std::string_view path_part(std::string_view resource) { return resource.substr(0, resource.find_first_of("?#")); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes as Go's url.PathUnescape does; nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (s.size() - i < 3) return std::nullopt;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_' || c == ':' || c == '[' || c == ']';
}

// A dotted-quad IPv4 address as Go's net.ParseIP reads one (no leading zeros).
bool is_ipv4_literal(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t digits = 0;
    int value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits == 1 && value == 0) return false;  // leading zero
      value = value * 10 + (s[i] - '0');
      if (value > 255) return false;
      ++digits;
      ++i;
    }
    if (digits == 0) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

StreamIdError check_resource(std::string_view resource) {
  if (path_part(resource).empty()) return StreamIdError::NoResource;
  const auto path = percent_decode(path_part(resource));
  if (!path || has_control(*path) || !is_valid_utf8(*path)) return StreamIdError::BadResource;
  return StreamIdError::Ok;
}

StreamIdError parse_pairs(std::string_view content, StreamId& out) {
  std::vector<std::string_view> seen;
  std::string_view host_value;
  bool have_host = false;

  while (true) {
    const std::size_t comma = content.find(',');
    const std::string_view item = content.substr(0, comma);
    if (!item.empty()) {
      const std::size_t eq = item.find('=');
      if (eq == std::string_view::npos || eq == 0) return StreamIdError::MalformedPair;
      const std::string_view key = item.substr(0, eq);
      const std::string_view value = item.substr(eq + 1);
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) return StreamIdError::DuplicateKey;
      seen.push_back(key);

      if (key == "r") {
        out.resource = value;
      } else if (key == "h") {
        host_value = value;
        have_host = true;
      } else if (key == "u") {
        out.user = value;
      } else if (key == "s") {
        out.session = value;
      } else if (key == "t") {
        out.type = value;
      } else if (key == "m") {
        if (iequals(value, "request")) {
          out.mode = Mode::Request;
        } else if (iequals(value, "publish")) {
          out.mode = Mode::Publish;
        } else if (iequals(value, "bidirectional")) {
          out.mode = Mode::Bidirectional;
        } else {
          return StreamIdError::BadMode;
        }
      } else {
        out.extra.emplace_back(key, value);
      }
    }
    if (comma == std::string_view::npos) break;
    content.remove_prefix(comma + 1);
  }

  if (have_host) {
    // SRS's compatibility form: a path in h (srs_srt_streamid_info).
    const std::string_view host_path = before_query(host_value);
    const std::size_t first = host_path.find('/');
    if (first == std::string_view::npos) {
      out.host = host_path;
    } else {
      const bool vhost_in_path = first != host_path.rfind('/');
      out.host = vhost_in_path ? host_path.substr(0, first) : std::string_view{};
      if (out.resource.empty()) {
        out.resource = vhost_in_path ? host_value.substr(first + 1) : host_value;
      }
    }
  }
  if (out.resource.empty()) return StreamIdError::NoResource;
  return StreamIdError::Ok;
}

}  // namespace

std::string_view to_string(Mode mode) {
  switch (mode) {
    case Mode::Request: return "request";
    case Mode::Publish: return "publish";
    case Mode::Bidirectional: return "bidirectional";
  }
  return "unknown";
}

std::string_view to_string(StreamIdError error) {
  switch (error) {
    case StreamIdError::Ok: return "ok";
    case StreamIdError::Empty: return "empty stream ID";
    case StreamIdError::TooLong: return "stream ID longer than 512 bytes";
    case StreamIdError::NotUtf8: return "stream ID is not valid UTF-8";
    case StreamIdError::ControlCharacter: return "control character in stream ID";
    case StreamIdError::UnsupportedSyntax: return "unsupported #! syntax";
    case StreamIdError::MalformedPair: return "pair without key=value";
    case StreamIdError::DuplicateKey: return "duplicated key";
    case StreamIdError::BadMode: return "unknown mode";
    case StreamIdError::NoResource: return "no resource";
    case StreamIdError::BadHost: return "bad host";
    case StreamIdError::BadResource: return "bad resource";
  }
  return "unknown stream ID error";
}

StreamIdError parse_stream_id(std::string_view sid, StreamId& out) {
  out = StreamId{};
  if (sid.empty()) return StreamIdError::Empty;
  if (sid.size() > kMaxSidLength) return StreamIdError::TooLong;
  if (!is_valid_utf8(sid)) return StreamIdError::NotUtf8;
  if (has_control(sid)) return StreamIdError::ControlCharacter;

  if (sid.starts_with(kAccessControlPrefix)) {
    if (const StreamIdError e = parse_pairs(sid.substr(kAccessControlPrefix.size()), out); e != StreamIdError::Ok) {
      return e;
    }
  } else if (sid.starts_with("#!")) {
    return StreamIdError::UnsupportedSyntax;
  } else if (before_query(sid).find('/') == std::string_view::npos) {
    out.resource = std::string(kDefaultApp) + "/" + std::string(sid);
  } else {
    out.resource = sid;
  }

  if (!std::all_of(out.host.begin(), out.host.end(), is_host_char)) return StreamIdError::BadHost;
  return check_resource(out.resource);
}

std::string stream_url(const StreamId& id) {
  const std::string_view host = id.host.empty() ? std::string_view{"localhost"} : std::string_view{id.host};

  // The host name without its port, as Go's URL.Hostname(); IPv6 literals
  // ("[::1]:80", or a bare "2001:db8::1") are IP addresses.
  bool is_ip = false;
  std::string_view hostname = host;
  if (host.starts_with('[')) {
    is_ip = true;
  } else if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
    if (host.find(':', colon + 1) != std::string_view::npos) {
      is_ip = true;
    } else {
      hostname = host.substr(0, colon);
    }
  }
  is_ip = is_ip || is_ipv4_literal(hostname);
  const bool default_vhost = is_ip || hostname.find('.') == std::string_view::npos;

  const std::string_view raw_path = path_part(id.resource);
  const std::string path = percent_decode(raw_path).value_or(std::string(raw_path));

  std::string url(default_vhost ? kDefaultVhost : hostname);
  url += '/';
  url += path;
  return url;
}

}  // namespace srtfwd::srt

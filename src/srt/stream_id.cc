#include "srtfwd/srt/stream_id.h"

#include <algorithm>
#include <array>
#include <map>
#include <vector>

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

// SRS's split of the "#!::" content (srs_parse_query_string over
// srs_string_split): at each step the separator that occurs first ends the
// piece ("&&" before "&" at the same place), empty pieces are kept, an empty
// remainder is not.
std::vector<std::string_view> srs_split(std::string_view s) {
  static constexpr std::array<std::string_view, 5> kSeparators = {"=", ",", "&&", "&", ";"};
  std::vector<std::string_view> pieces;
  while (true) {
    std::size_t best = std::string_view::npos;
    std::size_t best_len = 0;
    for (std::string_view sep : kSeparators) {
      const std::size_t pos = s.find(sep);
      if (pos != std::string_view::npos && (best == std::string_view::npos || pos < best)) {
        best = pos;
        best_len = sep.size();
      }
    }
    if (best == std::string_view::npos) break;
    pieces.push_back(s.substr(0, best));
    s.remove_prefix(best + best_len);
  }
  if (!s.empty()) pieces.push_back(s);
  return pieces;
}

// srs_srt_streamid_info for "#!::" content: the path with its parameters
// ("app/stream?k=v&..."), the vhost and the mode.
StreamIdError parse_pairs(std::string_view content, std::string& subpath, StreamId& out) {
  std::string text(content);
  std::replace(text.begin(), text.end(), '?', ',');
  const std::vector<std::string_view> pieces = srs_split(text);
  // Sorted keys, the last value of a key kept: SRS's std::map.
  std::map<std::string_view, std::string_view> query;
  for (std::size_t i = 0; i < pieces.size(); i += 2) {
    query[pieces[i]] = i + 1 < pieces.size() ? pieces[i + 1] : std::string_view{};
  }

  std::string params;
  for (const auto& [key, value] : query) {
    if (key == "h") {
      const std::size_t first = value.find('/');
      if (first != std::string_view::npos) {
        if (first != value.rfind('/')) {
          out.vhost = value.substr(0, first);
          subpath = value.substr(first + 1);
          params += "vhost=" + out.vhost + "&";
        } else {
          subpath = value;
        }
      } else {
        out.vhost = value;
        params += "vhost=" + out.vhost + "&";
      }
    } else if (key == "r") {
      subpath = value;
    } else if (key == "m") {
      std::string mode(value);
      std::transform(mode.begin(), mode.end(), mode.begin(), ascii_lower);
      if (mode == "publish") {
        out.mode = Mode::Publish;
      } else if (mode == "request") {
        out.mode = Mode::Request;
      } else if (mode == "bidirectional") {
        out.mode = Mode::Bidirectional;  // SRS refuses it; its origin will say so
      } else {
        // Routed as a player (the Go proxy ignores m= altogether), and the
        // handshake goes to the origin unchanged: an SRS origin refuses an
        // unknown mode with its own answer, which the caller then reads.
        out.mode = Mode::Request;
      }
    } else {
      params.append(key).append("=").append(value).append("&");
    }
  }
  if (subpath.empty()) return StreamIdError::NoResource;
  if (!params.empty()) {
    params.pop_back();  // the last '&'
    subpath += "?" + params;
  }
  return StreamIdError::Ok;
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
    case StreamIdError::NoResource: return "no resource";
  }
  return "unknown stream ID error";
}

StreamIdError parse_stream_id(std::string_view sid, StreamId& out) {
  out = StreamId{};
  if (sid.empty()) return StreamIdError::Empty;
  if (sid.size() > kMaxSidLength) return StreamIdError::TooLong;
  if (!is_valid_utf8(sid)) return StreamIdError::NotUtf8;
  if (has_control(sid)) return StreamIdError::ControlCharacter;

  // srs_srt_streamid_info: the path with its parameters.
  std::string subpath;
  if (sid.starts_with(kAccessControlPrefix)) {
    if (const StreamIdError e = parse_pairs(sid.substr(kAccessControlPrefix.size()), subpath, out);
        e != StreamIdError::Ok) {
      return e;
    }
  } else if (sid.find('/') == std::string_view::npos) {
    subpath = std::string(kDefaultApp) + "/" + std::string(sid);
  } else {
    subpath = sid;
  }

  // srs_srt_streamid_to_request: app, stream, param.
  std::string_view rest = subpath;
  if (const std::size_t slash = rest.find('/'); slash == std::string_view::npos) {
    out.app = kDefaultApp;
  } else {
    out.app = rest.substr(0, slash);
    rest.remove_prefix(slash + 1);
  }
  const std::size_t query = rest.find('?');
  out.stream = rest.substr(0, query);
  if (query != std::string_view::npos) out.param = rest.substr(query + 1);
  return StreamIdError::Ok;
}

std::string stream_url(const StreamId& id) {
  const std::string_view host =
      id.vhost.empty() ? std::string_view{"localhost"} : std::string_view{id.vhost};

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

  // SRS's stream URL drops the stream's extension (srs_path_filename: from
  // the last '.').
  const std::string_view stream = std::string_view(id.stream).substr(0, id.stream.rfind('.'));

  std::string url(default_vhost ? kDefaultVhost : hostname);
  url += '/';
  url += id.app;
  url += '/';
  url += stream;
  return url;
}

}  // namespace srtfwd::srt

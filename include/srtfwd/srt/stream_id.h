// SRT stream ID -> what the caller wants, and the stream URL the routing uses.
//
// Two forms are accepted, as the SRS media server accepts them
// (srs_srt_streamid_info in trunk/src/app/srs_app_srt_utility.cpp):
//
// 1. The access-control form of libsrt (docs/features/access-control.md):
//    "#!::" then comma-separated key=value pairs. Standard keys: r resource,
//    h host, u user, s session, t type, m mode (request | publish |
//    bidirectional, default request). Other keys are kept in `extra`, in
//    order. The convention defines no escaping: a ',' always ends a pair and
//    the first '=' ends the key, so a value may contain '=' but never ','.
//    SRS's compatibility form is understood too: an `h` holding a path
//    ("h=live/livestream" or "h=vhost.com/live/livestream") supplies the
//    resource when there is no `r` (one '/': all of it is the resource and
//    there is no host; two or more: the host is before the first '/').
// 2. A plain string ("live/livestream", "live/livestream?vhost=x"): the
//    whole string is the resource, mode request, no host. A plain string
//    without '/' gets SRS's default app: "livestream" -> "live/livestream".
//
// Hostile-input policy (the stream ID is the one field a caller controls
// that reaches the routing table, Redis keys and the logs):
// - Empty: error Empty. The control core may substitute a configured default
//   as SRS does ("#!::r=live/livestream,m=publish"); the parser does not.
// - Longer than 512 bytes (kMaxSidLength, libsrt's own limit): TooLong.
// - Not valid UTF-8 (the convention says UTF-8; the URL becomes a Redis key
//   and JSON in the admin API, which must be UTF-8): NotUtf8.
// - Any control character (below 0x20, or 0x7F): ControlCharacter. They have
//   no place in a name and would forge log lines. Note that a NUL cannot get
//   here from a handshake: decode_sid() ends the string at the first NUL,
//   as libsrt does.
// - "#!" followed by anything but "::" (e.g. the nested "#!:{...}" syntax):
//   UnsupportedSyntax, rather than guessing a resource from it.
// - A pair without '=' or with an empty key ("=", "=x", "foo"):
//   MalformedPair. Empty pairs (",,", a trailing ',') are skipped.
// - A key given twice, standard or not: DuplicateKey. SRS keeps the last
//   value and the Go proxy the first, so a duplicate is exactly where two
//   systems would route one caller differently.
// - A mode other than request/publish/bidirectional (case-insensitive, as in
//   SRS): BadMode. Bidirectional is accepted here even though an SRS origin
//   refuses it, so that the origin gives the caller its own answer.
// - No resource (no r and no path in h, "#!::" alone, "r=", or only a query
//   "r=?a=b"): NoResource.
// - A host with a character outside [A-Za-z0-9.-_:[]]: BadHost (a '?' query
//   on h is dropped first). Host names have no other characters, and a '@'
//   or '%' would make URL parsers disagree on what the host is.
// - A resource whose path has a '%' not followed by two hex digits, or
//   decodes to a control character or to invalid UTF-8: BadResource.
//
// Deliberate differences from the Go proxy's parseSRTStreamID, which finds
// "h=" and "r=" with regular expressions anywhere in the string: srtfwd
// splits pairs properly (so "ch=x" is not a host and "#!::r=a=b" has resource
// "a=b"), accepts the plain and compatibility forms SRS accepts (the Go proxy
// rejects them), and rejects duplicates. For every stream ID both accept,
// stream_url() gives the Go proxy's buildStreamURL result.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace srtfwd::srt {

enum class Mode : std::uint8_t {
  Request,  // the caller wants to receive (play); the default
  Publish,  // the caller sends
  Bidirectional,
};

std::string_view to_string(Mode mode);

struct StreamId {
  std::string resource;  // as given, query included ("live/cam1?token=x")
  std::string host;      // as given, port included; empty when absent
  std::string user;
  std::string session;
  std::string type;
  Mode mode = Mode::Request;
  std::vector<std::pair<std::string, std::string>> extra;  // other keys, in order

  bool operator==(const StreamId&) const = default;
};

enum class StreamIdError {
  Ok = 0,
  Empty,
  TooLong,
  NotUtf8,
  ControlCharacter,
  UnsupportedSyntax,
  MalformedPair,
  DuplicateKey,
  BadMode,
  NoResource,
  BadHost,
  BadResource,
};

std::string_view to_string(StreamIdError error);

inline constexpr std::string_view kAccessControlPrefix = "#!::";
// SRS's default app for a plain stream ID without '/' (default_app_name).
inline constexpr std::string_view kDefaultApp = "live";
// The vhost SRS and the Go proxy use when the host is not a domain name.
inline constexpr std::string_view kDefaultVhost = "__defaultVhost__";

// Parses a stream ID (the string decode_sid() returns, or any bytes). On an
// error `out` is left in an unspecified but valid state.
[[nodiscard]] StreamIdError parse_stream_id(std::string_view sid, StreamId& out);

// The stream URL the routing uses and the Go proxy stores in Redis
// (srs-proxy-url:{url}): "srt://{host or localhost}/{resource}" reduced to
// "{vhost}{path}", where vhost is kDefaultVhost when the host name (port
// dropped) has no '.' or is an IP address, else the host name; and path is
// the resource's path: up to the first '?' or '#', percent-decoded. So
// "#!::r=live/livestream,m=publish" -> "__defaultVhost__/live/livestream",
// "#!::h=example.com:8080,r=live/cam1?vhost=x" -> "example.com/live/cam1"
// (a ?vhost= query is ignored, as both SRS's SRT server and the Go proxy
// ignore it).
std::string stream_url(const StreamId& id);

}  // namespace srtfwd::srt

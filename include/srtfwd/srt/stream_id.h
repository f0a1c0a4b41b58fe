// SRT stream ID -> the stream an SRS origin would serve, and the stream URL
// the routing uses.
//
// The reference is the SRS media server's own reading of a stream ID
// (srs_srt_streamid_info and srs_srt_streamid_to_request in SRS's
// trunk/src/app/srs_app_srt_utility.cpp, called from SrsMpegtsSrtConn::do_cycle):
// every stream ID an SRS origin accepts, srtfwd accepts, and it routes the
// caller to the stream SRS would serve. The rules, as SRS applies them:
//
// 1. A stream ID that does not start with "#!::" is a plain path. With a '/'
//    anywhere it is "app/stream[?param]" as is; without one it gets the
//    default app: "livestream" -> "live/livestream". Anything else, a "#!:{"
//    or a lone "=", is just a name.
// 2. "#!::" then key=value pairs. SRS first turns every '?' into ',' (so
//    "r=live/s?token=x" is r=live/s plus a key token=x), then splits the
//    rest at each of "=", ",", "&&", "&", ";" alike and pairs the pieces up
//    in order: "k1=v1,k2=v2" -> k1:v1 k2:v2, "a=b=c" -> a:b c:"", "foo" ->
//    foo:"", ",," keeps its empty pieces as an empty key and value. A key
//    given twice keeps its last value. Keys are then read in byte order:
//    - h: with two or more '/' ("vhost.com/live/s") the vhost is before the
//      first '/' and the rest is the path; with one '/' ("live/s") all of it
//      is the path; with none it is the vhost.
//    - r: the path (it wins over a path in h: "r" sorts after "h").
//    - m: "publish" or "request", any case; SRS refuses anything else
//      (srtfwd routes it as a player and lets the origin answer, see below).
//    - any other key (u, s, t, key1, ...) becomes a query parameter.
//    No path at all ("#!::", "#!::m=publish", "r=") is refused.
//    The path splits at its first '/' into app and stream (no '/': the
//    default app), the stream at its first '?' into stream and param.
// 3. The vhost comes from h only: a "?vhost=" in the path is a parameter,
//    which SRS's SRT server does not read.
// 4. An empty stream ID is not an error for SRS: it takes
//    "#!::r=live/livestream,m=publish". The parser answers Empty; the control
//    plane substitutes [srt] default_streamid (that value by default).
//
// Where srtfwd differs from SRS, and why:
// - Safety of what the stream ID reaches (Redis keys, the admin API's JSON,
//   the logs): longer than 512 bytes (libsrt's own limit, kMaxSidLength):
//   TooLong; not valid UTF-8: NotUtf8; a control character (below 0x20, or
//   0x7F; they would forge log lines): ControlCharacter. SRS takes any
//   bytes. A NUL cannot arrive from a handshake: decode_sid() ends the
//   string at the first NUL, as libsrt does.
// - m=bidirectional is accepted (Mode::Bidirectional), and any other mode
//   SRS does not know is routed as a player (Mode::Request), as the Go proxy
//   routes it (it ignores m=): the handshake reaches the origin unchanged,
//   so the caller reads the origin's own answer to it.
//
// The stream URL (stream_url()) is the Go proxy's Redis key shape
// "{vhost}/{app}/{stream}" (srs-proxy-url:{url}) filled with what SRS reads:
// the stream loses its extension as in SRS's stream URL ("live/a.flv" ->
// "live/a"), and the vhost is the Go proxy's: kDefaultVhost unless the h
// vhost (port dropped) is a domain name (has a '.' and is not an IP). SRS
// itself maps an h it has no vhost for to its default vhost; the Go proxy's
// rule keeps streams of different domains apart and keeps srtfwd's keys the
// Go proxy's for the usual stream IDs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace srtfwd::srt {

enum class Mode : std::uint8_t {
  Request,  // the caller wants to receive (play); the default
  Publish,  // the caller sends
  Bidirectional,
};

std::string_view to_string(Mode mode);

// What SRS's request would hold (SrsRequest vhost, app, stream, param).
struct StreamId {
  std::string vhost;   // from h, port kept; empty when absent
  std::string app;     // kDefaultApp when the path has no '/'
  std::string stream;  // up to the first '?'
  std::string param;   // after it; "vhost=..." and the other keys for "#!::"
  Mode mode = Mode::Request;

  bool operator==(const StreamId&) const = default;
};

enum class StreamIdError {
  Ok = 0,
  Empty,
  TooLong,
  NotUtf8,
  ControlCharacter,
  NoResource,
};

std::string_view to_string(StreamIdError error);

inline constexpr std::string_view kAccessControlPrefix = "#!::";
// SRS's default app for a path without '/' (srt_server.default_app).
inline constexpr std::string_view kDefaultApp = "live";
// The vhost SRS and the Go proxy use when the host is not a domain name.
inline constexpr std::string_view kDefaultVhost = "__defaultVhost__";
// What SRS takes for an empty stream ID (srs_app_srt_conn.cpp).
inline constexpr std::string_view kSrsDefaultStreamId = "#!::r=live/livestream,m=publish";

// Parses a stream ID (the string decode_sid() returns, or any bytes). On an
// error `out` is left in an unspecified but valid state.
[[nodiscard]] StreamIdError parse_stream_id(std::string_view sid, StreamId& out);

// The stream URL the routing uses and the Go proxy stores in Redis
// (srs-proxy-url:{url}): "{vhost}/{app}/{stream without extension}". So
// "#!::r=live/livestream,m=publish" -> "__defaultVhost__/live/livestream",
// "#!::h=example.com:8080,r=live/cam1?vhost=x" -> "example.com/live/cam1".
std::string stream_url(const StreamId& id);

}  // namespace srtfwd::srt

// peer_common.h — what srt-origin and srt-peer agree on: the stream ID reading,
// the test payload format, and the live-mode socket options.
#pragma once

#include "srt_wrap.h"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace peers {

// ---- stream ID ------------------------------------------------------------------
//
// "#!::key=value,key=value": r = resource, m = mode (request is the default),
// h = host. Anything else ("live/livestream", "live/livestream?vhost=x") is a
// plain resource name; its query is ignored and its mode is request.
struct StreamId {
  std::string resource;
  std::string host;
  bool publish = false;
  const char* mode() const { return publish ? "publish" : "request"; }
};

inline StreamId parse_stream_id(std::string_view sid) {
  StreamId out;
  constexpr std::string_view kAc = "#!::";
  if (sid.substr(0, kAc.size()) == kAc) {
    std::string_view rest = sid.substr(kAc.size());
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string_view kv = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      auto eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (k == "r")
        out.resource = v;
      else if (k == "h")
        out.host = v;
      else if (k == "m")
        out.publish = (v == "publish");
    }
    return out;
  }
  out.resource = sid.substr(0, sid.find('?'));
  return out;
}

// ---- payload ----------------------------------------------------------------------
//
// Every message: "SRTF" | seq (u64 BE) | size (u32 BE) | body, where the body is
// a splitmix64 stream seeded from (key, seq). key is the stream's resource, so a
// publisher (m=publish) and a player (m=request) of one stream agree on it.
// libsrt's own view of a connection (srt_bstats), one line's fields, for
// tests that check srtfwd's link statistics against it:
//   rtt_ms=R snd_loss=N rcv_loss=N retrans=N sent=N recv=N
inline std::string link_stats_text(SRTSOCKET s) {
  SRT_TRACEBSTATS st{};
  if (srt_bstats(s, &st, 0) < 0) return "rtt_ms=? (srt_bstats failed)";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "rtt_ms=%.3f snd_loss=%d rcv_loss=%d retrans=%d sent=%lld recv=%lld", st.msRTT,
                st.pktSndLossTotal, st.pktRcvLossTotal, st.pktRetransTotal,
                static_cast<long long>(st.pktSentTotal), static_cast<long long>(st.pktRecvTotal));
  return buf;
}

inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kMaxPayload = 1456;  // live mode, 1500-byte MTU

inline uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline void put_be(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline uint64_t get_be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

inline void body_bytes(std::string_view key, uint64_t seq, std::span<uint8_t> out) {
  uint64_t state = fnv1a(key) ^ (seq * 0xD1342543DE82EF95ULL);
  size_t i = 0;
  while (i < out.size()) {
    uint64_t r = splitmix64(state);
    for (int b = 0; b < 8 && i < out.size(); ++b, r >>= 8) out[i++] = static_cast<uint8_t>(r);
  }
}

// buf.size() >= kHeaderSize
inline void fill_message(std::span<uint8_t> buf, std::string_view key, uint64_t seq) {
  std::memcpy(buf.data(), "SRTF", 4);
  put_be(buf.data() + 4, seq, 8);
  put_be(buf.data() + 12, buf.size(), 4);
  body_bytes(key, seq, buf.subspan(kHeaderSize));
}

// Returns an error text, or nothing when the message is intact. *seq is set
// whenever the header is readable.
inline std::optional<std::string> check_message(std::span<const uint8_t> msg, std::string_view key,
                                                uint64_t* seq) {
  if (msg.size() < kHeaderSize)
    return "message of " + std::to_string(msg.size()) + " bytes is shorter than the header";
  if (std::memcmp(msg.data(), "SRTF", 4) != 0) return std::string("bad magic");
  *seq = get_be(msg.data() + 4, 8);
  uint64_t size = get_be(msg.data() + 12, 4);
  if (size != msg.size())
    return "size field " + std::to_string(size) + " but " + std::to_string(msg.size()) +
           " bytes received";
  uint8_t expect[kMaxPayload];
  std::span<uint8_t> body(expect, msg.size() - kHeaderSize);
  body_bytes(key, *seq, body);
  for (size_t i = 0; i < body.size(); ++i)
    if (msg[kHeaderSize + i] != body[i])
      return "content differs at byte " + std::to_string(kHeaderSize + i);
  return std::nullopt;
}

// ---- options --------------------------------------------------------------------------

struct LiveOptions {
  std::string passphrase;
  int pbkeylen = 0;  // 0: libsrt default (16 when a passphrase is set)
  int latency_ms = 120;
  int payload_size = 0;  // 0: libsrt default (1316)
};

inline void apply_live(srtw::Socket& s, const LiveOptions& o) {
  s.set(SRTO_TRANSTYPE, SRTT_LIVE, "SRTO_TRANSTYPE");
  s.set(SRTO_LATENCY, o.latency_ms, "SRTO_LATENCY");
  if (o.payload_size > 0) s.set(SRTO_PAYLOADSIZE, o.payload_size, "SRTO_PAYLOADSIZE");
  if (!o.passphrase.empty()) {
    s.set_string(SRTO_PASSPHRASE, o.passphrase, "SRTO_PASSPHRASE");
    if (o.pbkeylen) s.set(SRTO_PBKEYLEN, o.pbkeylen, "SRTO_PBKEYLEN");
  }
}

// ---- argument helpers -----------------------------------------------------------------

template <class T>
inline bool parse_num(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace peers

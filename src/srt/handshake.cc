#include "srtfwd/srt/handshake.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "srtfwd/srt/packet.h"
#include "srtfwd/srt/reject.h"

namespace srtfwd::srt {

namespace {

// Offsets inside the packet (header included).
constexpr std::size_t kOffVersion = 16;
constexpr std::size_t kOffEncryption = 20;
constexpr std::size_t kOffExtensionField = 22;
constexpr std::size_t kOffIsn = 24;
constexpr std::size_t kOffMss = 28;
constexpr std::size_t kOffFlowWindow = 32;
constexpr std::size_t kOffType = 36;
constexpr std::size_t kOffSocketId = 40;
constexpr std::size_t kOffCookie = 44;
constexpr std::size_t kOffPeerIp = 48;
constexpr std::size_t kOffExtensions = kHandshakeMinSize;

constexpr std::size_t kBlockHeaderSize = 4;
constexpr std::size_t kMaxBlockWords = 0xFFFF;

// Reverses each 4-byte group of `in` into `out` (same size, multiple of 4).
void reverse_words(const std::uint8_t* in, std::uint8_t* out, std::size_t size) {
  for (std::size_t i = 0; i + 4 <= size; i += 4) {
    out[i] = in[i + 3];
    out[i + 1] = in[i + 2];
    out[i + 2] = in[i + 1];
    out[i + 3] = in[i];
  }
}

std::optional<std::string> decode_limited(std::span<const std::uint8_t> contents,
                                          std::size_t limit) {
  if (contents.empty() || contents.size() > limit) return std::nullopt;
  return decode_reversed_words(contents);
}

std::optional<Extension> encode_limited(std::uint16_t type, std::string_view text,
                                        std::size_t limit) {
  if (text.empty() || text.size() > limit) return std::nullopt;
  return Extension{type, encode_reversed_words(text)};
}

}  // namespace

std::string_view extension_name(std::uint16_t type) {
  switch (type) {
    case kExtHsReq: return "HSREQ";
    case kExtHsRsp: return "HSRSP";
    case kExtKmReq: return "KMREQ";
    case kExtKmRsp: return "KMRSP";
    case kExtSid: return "SID";
    case kExtCongestion: return "CONGESTION";
    case kExtFilter: return "FILTER";
    case kExtGroup: return "GROUP";
    default: return "UNKNOWN";
  }
}

std::string_view to_string(ParseError error) {
  switch (error) {
    case ParseError::Ok: return "ok";
    case ParseError::TooShort: return "shorter than an SRT header";
    case ParseError::NotControl: return "not a control packet";
    case ParseError::NotHandshake: return "not a handshake";
    case ParseError::BodyTruncated: return "handshake body truncated";
    case ParseError::ExtensionTruncated: return "extension block runs past the packet";
  }
  return "unknown parse error";
}

const Extension* Handshake::find_extension(std::uint16_t ext_type) const {
  for (const Extension& ext : extensions) {
    if (ext.type == ext_type) return &ext;
  }
  return nullptr;
}

Extension* Handshake::find_extension(std::uint16_t ext_type) {
  return const_cast<Extension*>(std::as_const(*this).find_extension(ext_type));
}

ParseError parse_handshake(std::span<const std::uint8_t> packet, Handshake& out) {
  const auto view = PacketView::parse(packet);
  if (!view) return ParseError::TooShort;
  if (!view->is_control()) return ParseError::NotControl;
  if (!view->is_handshake()) return ParseError::NotHandshake;
  if (packet.size() < kHandshakeMinSize) return ParseError::BodyTruncated;

  const std::uint8_t* p = packet.data();
  out.type_info = view->type_info();
  out.timestamp = view->timestamp();
  out.dest_socket_id = view->dest_socket_id();
  out.version = wire::load_be32(p + kOffVersion);
  out.encryption = wire::load_be16(p + kOffEncryption);
  out.extension_field = wire::load_be16(p + kOffExtensionField);
  out.isn = wire::load_be32(p + kOffIsn);
  out.mss = wire::load_be32(p + kOffMss);
  out.flow_window = wire::load_be32(p + kOffFlowWindow);
  out.type = wire::load_be32(p + kOffType);
  out.socket_id = wire::load_be32(p + kOffSocketId);
  out.cookie = wire::load_be32(p + kOffCookie);
  std::memcpy(out.peer_ip.data(), p + kOffPeerIp, out.peer_ip.size());

  out.extensions.clear();
  out.trailing.clear();
  std::size_t offset = kOffExtensions;
  // Every comparison below is against what is left, so no sum can overflow
  // and no read passes packet.size().
  while (packet.size() - offset >= kBlockHeaderSize) {
    const std::uint16_t type = wire::load_be16(p + offset);
    const std::size_t length = std::size_t{wire::load_be16(p + offset + 2)} * 4;
    offset += kBlockHeaderSize;
    if (length > packet.size() - offset) return ParseError::ExtensionTruncated;
    out.extensions.push_back(Extension{type, {p + offset, p + offset + length}});
    offset += length;
  }
  out.trailing.assign(p + offset, p + packet.size());
  return ParseError::Ok;
}

std::size_t serialized_size(const Handshake& hs) {
  std::size_t size = kHandshakeMinSize;
  for (const Extension& ext : hs.extensions) {
    if (ext.contents.size() % 4 != 0 || ext.contents.size() / 4 > kMaxBlockWords) return 0;
    size += kBlockHeaderSize + ext.contents.size();
  }
  return size + hs.trailing.size();
}

std::size_t serialize(const Handshake& hs, std::span<std::uint8_t> out) {
  const std::size_t size = serialized_size(hs);
  if (size == 0 || out.size() < size) return 0;

  std::uint8_t* p = out.data();
  write_control_header(
      out, ControlHeader{ControlType::Handshake, 0, hs.type_info, hs.timestamp, hs.dest_socket_id});
  wire::store_be32(p + kOffVersion, hs.version);
  wire::store_be16(p + kOffEncryption, hs.encryption);
  wire::store_be16(p + kOffExtensionField, hs.extension_field);
  wire::store_be32(p + kOffIsn, hs.isn);
  wire::store_be32(p + kOffMss, hs.mss);
  wire::store_be32(p + kOffFlowWindow, hs.flow_window);
  wire::store_be32(p + kOffType, hs.type);
  wire::store_be32(p + kOffSocketId, hs.socket_id);
  wire::store_be32(p + kOffCookie, hs.cookie);
  std::memcpy(p + kOffPeerIp, hs.peer_ip.data(), hs.peer_ip.size());

  std::size_t offset = kOffExtensions;
  for (const Extension& ext : hs.extensions) {
    wire::store_be16(p + offset, ext.type);
    wire::store_be16(p + offset + 2, static_cast<std::uint16_t>(ext.contents.size() / 4));
    offset += kBlockHeaderSize;
    if (!ext.contents.empty()) std::memcpy(p + offset, ext.contents.data(), ext.contents.size());
    offset += ext.contents.size();
  }
  if (!hs.trailing.empty()) std::memcpy(p + offset, hs.trailing.data(), hs.trailing.size());
  return size;
}

std::vector<std::uint8_t> serialize(const Handshake& hs) {
  std::vector<std::uint8_t> out(serialized_size(hs));
  if (out.empty()) return out;
  serialize(hs, out);
  return out;
}

std::array<std::uint8_t, 16> encode_peer_ipv4(const std::array<std::uint8_t, 4>& addr) {
  std::array<std::uint8_t, 16> wire{};
  reverse_words(addr.data(), wire.data(), addr.size());
  return wire;
}

std::array<std::uint8_t, 16> encode_peer_ipv6(const std::array<std::uint8_t, 16>& addr) {
  std::array<std::uint8_t, 16> wire{};
  reverse_words(addr.data(), wire.data(), addr.size());
  return wire;
}

std::array<std::uint8_t, 4> decode_peer_ipv4(const std::array<std::uint8_t, 16>& wire) {
  std::array<std::uint8_t, 4> addr{};
  reverse_words(wire.data(), addr.data(), addr.size());
  return addr;
}

std::array<std::uint8_t, 16> decode_peer_ipv6(const std::array<std::uint8_t, 16>& wire) {
  std::array<std::uint8_t, 16> addr{};
  reverse_words(wire.data(), addr.data(), addr.size());
  return addr;
}

bool peer_ip_is_ipv4_shaped(const std::array<std::uint8_t, 16>& wire) {
  return std::all_of(wire.begin() + 4, wire.end(), [](std::uint8_t b) { return b == 0; });
}

std::optional<HsExt> decode_hs_ext(std::span<const std::uint8_t> contents) {
  if (contents.size() < 12) return std::nullopt;
  HsExt value;
  value.version = wire::load_be32(contents.data());
  value.flags = wire::load_be32(contents.data() + 4);
  value.recv_tsbpd_delay = wire::load_be16(contents.data() + 8);
  value.send_tsbpd_delay = wire::load_be16(contents.data() + 10);
  return value;
}

Extension encode_hs_ext(std::uint16_t type, const HsExt& value) {
  Extension ext{type, std::vector<std::uint8_t>(12)};
  wire::store_be32(ext.contents.data(), value.version);
  wire::store_be32(ext.contents.data() + 4, value.flags);
  wire::store_be16(ext.contents.data() + 8, value.recv_tsbpd_delay);
  wire::store_be16(ext.contents.data() + 10, value.send_tsbpd_delay);
  return ext;
}

std::string decode_reversed_words(std::span<const std::uint8_t> contents) {
  std::string text;
  text.reserve(contents.size());
  const std::size_t whole = contents.size() - contents.size() % 4;
  for (std::size_t i = 0; i < whole; i += 4) {
    for (std::size_t j = 4; j-- > 0;) {
      const auto c = static_cast<char>(contents[i + j]);
      if (c == '\0') return text;
      text.push_back(c);
    }
  }
  // A ragged tail cannot come from a parsed block; read it in order.
  for (std::size_t i = whole; i < contents.size(); ++i) {
    const auto c = static_cast<char>(contents[i]);
    if (c == '\0') return text;
    text.push_back(c);
  }
  return text;
}

std::vector<std::uint8_t> encode_reversed_words(std::string_view text) {
  std::vector<std::uint8_t> padded((text.size() + 3) / 4 * 4, 0);
  std::memcpy(padded.data(), text.data(), text.size());
  std::vector<std::uint8_t> out(padded.size());
  reverse_words(padded.data(), out.data(), padded.size());
  return out;
}

std::optional<std::string> decode_sid(std::span<const std::uint8_t> contents) {
  return decode_limited(contents, kMaxSidLength);
}

std::optional<std::string> decode_congestion(std::span<const std::uint8_t> contents) {
  return decode_limited(contents, kMaxCongestionLength);
}

std::optional<std::string> decode_filter(std::span<const std::uint8_t> contents) {
  return decode_limited(contents, kMaxFilterLength);
}

std::optional<Extension> encode_sid(std::string_view sid) {
  return encode_limited(kExtSid, sid, kMaxSidLength);
}

std::optional<Extension> encode_congestion(std::string_view name) {
  return encode_limited(kExtCongestion, name, kMaxCongestionLength);
}

std::optional<Extension> encode_filter(std::string_view config) {
  return encode_limited(kExtFilter, config, kMaxFilterLength);
}

std::optional<std::string> find_stream_id(const Handshake& hs) {
  const Extension* sid = hs.find_extension(kExtSid);
  if (sid == nullptr) return std::nullopt;
  return decode_sid(sid->contents);
}

Handshake make_induction_response(const Handshake& caller_induction, std::uint32_t cookie,
                                  const std::array<std::uint8_t, 16>& peer_ip_wire,
                                  std::uint32_t timestamp) {
  Handshake response = caller_induction;
  response.type_info = 0;
  response.timestamp = timestamp;
  response.dest_socket_id = caller_induction.socket_id;
  response.version = kHandshakeVersion5;
  response.encryption = 0;
  response.extension_field = kSrtMagic;
  response.type = HandshakeType::kInduction;
  response.cookie = cookie;
  response.peer_ip = peer_ip_wire;
  response.extensions.clear();
  response.trailing.clear();
  return response;
}

Handshake make_rejection(const Handshake& request, std::uint32_t reason,
                         const std::array<std::uint8_t, 16>& peer_ip_wire,
                         std::uint32_t timestamp) {
  Handshake response = request;
  response.peer_ip = peer_ip_wire;
  response.type_info = 0;
  response.timestamp = timestamp;
  response.dest_socket_id = request.socket_id;
  response.type = handshake_type_for_reject(reason);
  response.extensions.clear();
  response.trailing.clear();
  return response;
}

}  // namespace srtfwd::srt

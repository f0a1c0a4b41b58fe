// SRT packet header view: the 16 bytes every SRT packet starts with.
//
// Header-only and allocation-free because the data plane calls it once per
// packet on the raw bytes of an mbuf. Every load goes through memcpy so that a
// header at any alignment (UDP payloads are usually 2 bytes off a 4-byte
// boundary after a 14-byte Ethernet header) is read without undefined
// behaviour; the compiler turns each into one load and one bswap.
//
// Layout (draft-sharabayko-srt section 3, libsrt srtcore/packet.h):
//   word 0  data:    0 | sequence number (31)
//           control: 1 | control type (15) | subtype (16)
//   word 1  data:    PP | O | KK | R | message number (26)
//           control: type-specific information (32)
//   word 2  timestamp (32)
//   word 3  destination SRT socket ID (32)
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace srtfwd::srt {

inline constexpr std::size_t kHeaderSize = 16;

// Control packet types (libsrt UDTMessageType). UserDefined carries the HSv4
// HSREQ/HSRSP/KMREQ/KMRSP exchange in its subtype after the connection.
enum class ControlType : std::uint16_t {
  Handshake = 0,
  Keepalive = 1,
  Ack = 2,
  Nak = 3,
  CongestionWarning = 4,
  Shutdown = 5,
  AckAck = 6,
  DropReq = 7,
  PeerError = 8,
  UserDefined = 0x7fff,
};

// Name of a control type; "Unknown" for values libsrt does not define.
constexpr std::string_view to_string(ControlType type) {
  switch (type) {
    case ControlType::Handshake: return "Handshake";
    case ControlType::Keepalive: return "Keepalive";
    case ControlType::Ack: return "Ack";
    case ControlType::Nak: return "Nak";
    case ControlType::CongestionWarning: return "CongestionWarning";
    case ControlType::Shutdown: return "Shutdown";
    case ControlType::AckAck: return "AckAck";
    case ControlType::DropReq: return "DropReq";
    case ControlType::PeerError: return "PeerError";
    case ControlType::UserDefined: return "UserDefined";
  }
  return "Unknown";
}

// Position of a data packet within its message (the PP bits).
enum class PacketPosition : std::uint8_t {
  Middle = 0b00,
  Last = 0b01,
  First = 0b10,
  Solo = 0b11,
};

// Big-endian and byte-swapping helpers. std::byteswap is C++23; these compile
// to the same single instruction with GCC and Clang.
namespace wire {

constexpr std::uint16_t byteswap16(std::uint16_t v) {
  return static_cast<std::uint16_t>((v >> 8) | (v << 8));
}

constexpr std::uint32_t byteswap32(std::uint32_t v) {
  return ((v & 0x000000ffu) << 24) | ((v & 0x0000ff00u) << 8) | ((v & 0x00ff0000u) >> 8) |
         ((v & 0xff000000u) >> 24);
}

// The caller guarantees p points at 2 (or 4) readable bytes.
inline std::uint16_t load_be16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = byteswap16(v);
  return v;
}

inline std::uint32_t load_be32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = byteswap32(v);
  return v;
}

inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  if constexpr (std::endian::native == std::endian::little) v = byteswap16(v);
  std::memcpy(p, &v, sizeof v);
}

inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) v = byteswap32(v);
  std::memcpy(p, &v, sizeof v);
}

}  // namespace wire

// A read-only view of one SRT packet. It does not own the bytes: keep the
// buffer alive while the view is used. parse() checks the only precondition
// (at least 16 bytes), so every accessor is a plain load.
class PacketView {
 public:
  // nullopt when the buffer cannot hold the 16-byte header.
  static std::optional<PacketView> parse(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < kHeaderSize) return std::nullopt;
    return PacketView(bytes);
  }

  bool is_control() const { return (bytes_[0] & 0x80) != 0; }

  // --- data packets (meaningful when !is_control()) ---
  std::uint32_t seqno() const { return word(0) & 0x7fffffffu; }
  PacketPosition position() const { return static_cast<PacketPosition>(bytes_[4] >> 6); }
  bool in_order() const { return (bytes_[4] & 0x20) != 0; }
  // 0 clear, 1 even key, 2 odd key (the forwarder never touches it).
  std::uint8_t key() const { return static_cast<std::uint8_t>((bytes_[4] >> 3) & 0x3); }
  bool retransmitted() const { return (bytes_[4] & 0x04) != 0; }
  std::uint32_t msgno() const { return word(1) & 0x03ffffffu; }

  // --- control packets (meaningful when is_control()) ---
  // Values outside the named enumerators are returned as they are.
  ControlType control_type() const {
    return static_cast<ControlType>(wire::load_be16(bytes_.data()) & 0x7fff);
  }
  std::uint16_t subtype() const { return wire::load_be16(bytes_.data() + 2); }
  std::uint32_t type_info() const { return word(1); }

  // A handshake is the whole first word equal to 0x80000000: control bit,
  // type 0, subtype 0 (what libsrt sends and what the Go proxy tests).
  bool is_handshake() const { return word(0) == 0x80000000u; }
  bool is_shutdown() const { return is_control() && control_type() == ControlType::Shutdown; }

  // --- both kinds ---
  std::uint32_t timestamp() const { return word(2); }
  std::uint32_t dest_socket_id() const { return word(3); }
  std::span<const std::uint8_t> payload() const { return bytes_.subspan(kHeaderSize); }
  std::span<const std::uint8_t> bytes() const { return bytes_; }

 private:
  explicit PacketView(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint32_t word(std::size_t i) const { return wire::load_be32(bytes_.data() + 4 * i); }

  std::span<const std::uint8_t> bytes_;
};

// The fields of a control packet header, for writing one.
struct ControlHeader {
  ControlType type = ControlType::Handshake;
  std::uint16_t subtype = 0;
  std::uint32_t type_info = 0;
  std::uint32_t timestamp = 0;
  std::uint32_t dest_socket_id = 0;
};

// Writes the 16-byte control header at the start of out. Returns false (and
// writes nothing) when out is shorter than kHeaderSize.
inline bool write_control_header(std::span<std::uint8_t> out, const ControlHeader& h) {
  if (out.size() < kHeaderSize) return false;
  std::uint8_t* p = out.data();
  wire::store_be16(
      p, static_cast<std::uint16_t>(0x8000u | (static_cast<std::uint16_t>(h.type) & 0x7fffu)));
  wire::store_be16(p + 2, h.subtype);
  wire::store_be32(p + 4, h.type_info);
  wire::store_be32(p + 8, h.timestamp);
  wire::store_be32(p + 12, h.dest_socket_id);
  return true;
}

// Rewrites the destination socket ID of a packet in place (data or control).
inline bool write_dest_socket_id(std::span<std::uint8_t> packet, std::uint32_t id) {
  if (packet.size() < kHeaderSize) return false;
  wire::store_be32(packet.data() + 12, id);
  return true;
}

// Rewrites the timestamp of a packet in place (data or control).
inline bool write_timestamp(std::span<std::uint8_t> packet, std::uint32_t timestamp) {
  if (packet.size() < kHeaderSize) return false;
  wire::store_be32(packet.data() + 8, timestamp);
  return true;
}

}  // namespace srtfwd::srt

// SRT handshake: parse, re-serialise byte-exact, and the extension blocks.
//
// A handshake is a control packet of type 0, subtype 0: the 16-byte header,
// a 48-byte body, then (CONCLUSION only, in practice) extension blocks, each
// `type (16) | length in 4-byte words (16) | contents`.
//
// Round trip guarantee: for any buffer parse_handshake() accepts,
// serialize() of the result reproduces the buffer byte for byte. To make that
// hold the struct keeps what a pretty model would drop: the header's
// type-specific information, the peer IP in wire order, every extension block
// raw (unknown types and zero-length blocks included, in order), and 1 to 3
// trailing bytes that cannot form a block header.
//
// The parser never reads past the span it is given and never throws. It does
// not judge the meaning of the fields (version, types, flags): the control
// core does.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace srtfwd::srt {

inline constexpr std::size_t kHandshakeBodySize = 48;
// Header plus body: the smallest handshake packet.
inline constexpr std::size_t kHandshakeMinSize = 16 + kHandshakeBodySize;

// Handshake types (libsrt UDTRequestType). Values above 1000 as int32 are
// rejections: see reject.h.
namespace HandshakeType {
inline constexpr std::uint32_t kWaveahand = 0x00000000;
inline constexpr std::uint32_t kInduction = 0x00000001;
inline constexpr std::uint32_t kConclusion = 0xFFFFFFFF;
inline constexpr std::uint32_t kAgreement = 0xFFFFFFFE;
inline constexpr std::uint32_t kDone = 0xFFFFFFFD;
}  // namespace HandshakeType

// Handshake versions.
inline constexpr std::uint32_t kHandshakeVersion4 = 4;  // caller's INDUCTION
inline constexpr std::uint32_t kHandshakeVersion5 = 5;  // HSv5 from then on

// Extension field: the SRT magic in a listener's INDUCTION reply tells the
// caller it speaks HSv5; in a CONCLUSION the field holds these flags.
inline constexpr std::uint16_t kSrtMagic = 0x4A17;
inline constexpr std::uint16_t kExtFieldHsReq = 0x1;
inline constexpr std::uint16_t kExtFieldKmReq = 0x2;
inline constexpr std::uint16_t kExtFieldConfig = 0x4;  // SID, CONGESTION, FILTER, GROUP follow

// Extension block types (libsrt SRT_CMD_*).
inline constexpr std::uint16_t kExtHsReq = 1;
inline constexpr std::uint16_t kExtHsRsp = 2;
inline constexpr std::uint16_t kExtKmReq = 3;
inline constexpr std::uint16_t kExtKmRsp = 4;
inline constexpr std::uint16_t kExtSid = 5;
inline constexpr std::uint16_t kExtCongestion = 6;
inline constexpr std::uint16_t kExtFilter = 7;
inline constexpr std::uint16_t kExtGroup = 8;

// "HSREQ", "SID", ...; "UNKNOWN" for other types.
std::string_view extension_name(std::uint16_t type);

// Length limits libsrt enforces on the padded block (CSrtConfig): a longer
// block makes it reject the handshake.
inline constexpr std::size_t kMaxSidLength = 512;
inline constexpr std::size_t kMaxCongestionLength = 16;
inline constexpr std::size_t kMaxFilterLength = 64;

// One extension block. contents are raw wire bytes; their length is a
// multiple of 4 (the block length counts 4-byte words) and at most
// 0xFFFF words.
struct Extension {
  std::uint16_t type = 0;
  std::vector<std::uint8_t> contents;

  bool operator==(const Extension&) const = default;
};

struct Handshake {
  // --- 16-byte header: control type 0 and subtype 0 are implied ---
  std::uint32_t type_info = 0;  // unused by handshakes, kept for byte exactness
  std::uint32_t timestamp = 0;
  std::uint32_t dest_socket_id = 0;

  // --- 48-byte body ---
  std::uint32_t version = 0;
  std::uint16_t encryption = 0;       // advertised key length: 0, 2, 3, 4
  std::uint16_t extension_field = 0;  // kSrtMagic or kExtField* flags
  std::uint32_t isn = 0;              // initial sequence number
  std::uint32_t mss = 0;
  std::uint32_t flow_window = 0;
  std::uint32_t type = 0;       // HandshakeType or a rejection
  std::uint32_t socket_id = 0;  // the sender's own socket ID
  std::uint32_t cookie = 0;
  std::array<std::uint8_t, 16> peer_ip{};  // WIRE order: see encode_peer_ip*

  // --- after the body ---
  std::vector<Extension> extensions;   // in wire order
  std::vector<std::uint8_t> trailing;  // 0..3 bytes that form no block

  // First block of that type, or nullptr.
  const Extension* find_extension(std::uint16_t ext_type) const;
  Extension* find_extension(std::uint16_t ext_type);

  bool operator==(const Handshake&) const = default;
};

enum class ParseError {
  Ok = 0,
  TooShort,            // fewer than 16 bytes: not even an SRT header
  NotControl,          // a data packet
  NotHandshake,        // a control packet of another type, or subtype != 0
  BodyTruncated,       // a handshake header with fewer than 48 body bytes
  ExtensionTruncated,  // a block whose length runs past the end of the packet
};

std::string_view to_string(ParseError error);

// Parses a whole SRT packet (header included). On anything but Ok, `out` is
// left in an unspecified but valid state.
[[nodiscard]] ParseError parse_handshake(std::span<const std::uint8_t> packet, Handshake& out);

// Bytes serialize() will write; 0 when the handshake cannot be serialised
// (an extension whose contents are not a whole number of words, or longer
// than 0xFFFF words).
std::size_t serialized_size(const Handshake& hs);

// Writes the packet (header included) to out. Returns the bytes written, or 0
// when out is too small or the handshake cannot be serialised.
std::size_t serialize(const Handshake& hs, std::span<std::uint8_t> out);
// Same, into a new vector; empty when the handshake cannot be serialised.
std::vector<std::uint8_t> serialize(const Handshake& hs);

// --- Peer IP quirk ---
// libsrt writes the peer address as four 32-bit words in host order that the
// control-packet send path then swaps, so on the wire each 4-byte group is
// reversed: 127.0.0.1 travels as 01 00 00 7f 00 00 00 00 ... An IPv4 address
// fills the first word only. Addresses are given and returned in network
// order (as in sockaddr_in/in6). The caller picks the family: it knows on
// which leg (IPv4 or IPv6) the handshake travels.
std::array<std::uint8_t, 16> encode_peer_ipv4(const std::array<std::uint8_t, 4>& addr);
std::array<std::uint8_t, 16> encode_peer_ipv6(const std::array<std::uint8_t, 16>& addr);
std::array<std::uint8_t, 4> decode_peer_ipv4(const std::array<std::uint8_t, 16>& wire);
std::array<std::uint8_t, 16> decode_peer_ipv6(const std::array<std::uint8_t, 16>& wire);
// True when words 1..3 are zero: the shape libsrt gives an IPv4 address.
bool peer_ip_is_ipv4_shaped(const std::array<std::uint8_t, 16>& wire);

// --- HSREQ / HSRSP ---
// SRT_HS_FLAGS bits (libsrt SrtOptions).
inline constexpr std::uint32_t kHsFlagTsbpdSnd = 0x01;
inline constexpr std::uint32_t kHsFlagTsbpdRcv = 0x02;
inline constexpr std::uint32_t kHsFlagCrypt = 0x04;
inline constexpr std::uint32_t kHsFlagTlPktDrop = 0x08;
inline constexpr std::uint32_t kHsFlagPeriodicNak = 0x10;
inline constexpr std::uint32_t kHsFlagRexmitFlg = 0x20;
inline constexpr std::uint32_t kHsFlagStream = 0x40;
inline constexpr std::uint32_t kHsFlagPacketFilter = 0x80;

struct HsExt {
  std::uint32_t version = 0;  // e.g. 0x00010501 for 1.5.1
  std::uint32_t flags = 0;
  std::uint16_t recv_tsbpd_delay = 0;  // ms, high half of word 2
  std::uint16_t send_tsbpd_delay = 0;  // ms, low half of word 2

  bool operator==(const HsExt&) const = default;
};

// nullopt when the contents are shorter than the three words; extra words
// (none defined today) are ignored.
std::optional<HsExt> decode_hs_ext(std::span<const std::uint8_t> contents);
// type is kExtHsReq or kExtHsRsp.
Extension encode_hs_ext(std::uint16_t type, const HsExt& value);

// --- SID, CONGESTION, FILTER: strings in reversed words ---
// libsrt copies the string into 32-bit words, zero-pads the last one, and the
// control send path swaps every word: each 4-byte group of the string is
// reversed on the wire ("#!::" travels as "::!#"). SID and CONGESTION are
// explicitly pre-swapped (HtoILA) and FILTER is not, but on the little-endian
// hosts every real peer runs on all three come out the same
// (core.cpp createSrtHandshake / interpretSrtHandshake).
//
// Decoding follows libsrt: an empty block or one longer than the limit is an
// error (libsrt rejects the handshake), and the string ends at the first NUL
// (libsrt uses strlen), which also drops the padding.
std::optional<std::string> decode_sid(std::span<const std::uint8_t> contents);
std::optional<std::string> decode_congestion(std::span<const std::uint8_t> contents);
std::optional<std::string> decode_filter(std::span<const std::uint8_t> contents);
// nullopt for an empty string or one longer than the limit.
std::optional<Extension> encode_sid(std::string_view sid);
std::optional<Extension> encode_congestion(std::string_view name);
std::optional<Extension> encode_filter(std::string_view config);

// The building blocks of the above, without limits.
std::string decode_reversed_words(std::span<const std::uint8_t> contents);
std::vector<std::uint8_t> encode_reversed_words(std::string_view text);

// The stream ID of a handshake: nullopt when there is no SID block or it is
// malformed (see decode_sid).
std::optional<std::string> find_stream_id(const Handshake& hs);

// KMREQ/KMRSP (key material) and GROUP are opaque to the forwarder: it passes
// them through byte-exact in Extension::contents.

// --- Builders for the control core ---

// Our answer to a caller's INDUCTION, as a libsrt listener builds it: the
// request with version 5, the SRT magic, no advertised key length (the
// forwarder has no passphrase), our cookie, addressed to the caller's socket
// ID (which also stays in the socket ID field), no extensions.
// peer_ip_wire goes in the peer IP field. libsrt 1.5.1 echoes the request's
// field there (the listener's own address as the caller saw it; see
// pcaps/streamid-publish.pcap), so pass caller_induction.peer_ip to answer
// byte for byte as libsrt does, or encode_peer_ipv4/6(caller address) to
// tell the caller its address as the forwarder sees it; callers ignore the
// field in an INDUCTION reply.
Handshake make_induction_response(const Handshake& caller_induction, std::uint32_t cookie,
                                  const std::array<std::uint8_t, 16>& peer_ip_wire,
                                  std::uint32_t timestamp);

// A rejection of `request` with `reason` (reject.h), as libsrt 1.5.1 sends
// one (pcaps/rejected.pcap): the request's body with the handshake type set
// to handshake_type_for_reject(), the requester's address as we see it in the
// peer IP field (encode_peer_ipv4/6), no extensions, addressed to the
// requester's socket ID. libsrt also puts the socket ID it had allocated in
// the socket ID field; the forwarder has none, so the request's stays there
// (a caller reads only the type of a rejection).
Handshake make_rejection(const Handshake& request, std::uint32_t reason,
                         const std::array<std::uint8_t, 16>& peer_ip_wire, std::uint32_t timestamp);

}  // namespace srtfwd::srt

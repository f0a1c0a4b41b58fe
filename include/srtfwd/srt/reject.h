// SRT rejection reasons and how they travel in a handshake.
//
// A listener rejects a caller by answering its handshake with the handshake
// type set to 1000 + reason (libsrt srtcore/handshake.h URQ_FAILURE_TYPES,
// URQFailure). The caller turns it back into a reason with RejectReasonForURQ:
// anything that is not strictly above 1000 is not a rejection at all, and
// values whose reason falls in 17..999 (undefined internal codes) read as
// SRT_REJ_UNKNOWN. So a rejection with reason 0 (UNKNOWN) must never be sent
// as 1000: the caller would not even see a rejection and would retry until its
// connect timeout. We send it as 1000 + kRejWireUnknown (999) instead, which
// every libsrt version decodes as SRT_REJ_UNKNOWN and which no future
// SRT_REJ_* value will take (libsrt reserves 600..999 as unused).
//
// Reasons are plain uint32_t values, not an enum class, because the space is
// open: 0..16 internal (SRT_REJ_*, srt.h), 1000..1999 predefined access
// control codes (SRT_REJX_*, access_control.h), 2000+ user defined, and the
// forwarder relays a backend's code unchanged whatever it is.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace srtfwd::srt {

// SRT_REJ_* (srt.h SRT_REJECT_REASON).
enum RejectReason : std::uint32_t {
  kRejUnknown = 0,      // SRT_REJ_UNKNOWN: no reason given
  kRejSystem = 1,       // SRT_REJ_SYSTEM: system function error
  kRejPeer = 2,         // SRT_REJ_PEER: rejected by the peer
  kRejResource = 3,     // SRT_REJ_RESOURCE: resource allocation problem
  kRejRogue = 4,        // SRT_REJ_ROGUE: incorrect data in the handshake
  kRejBacklog = 5,      // SRT_REJ_BACKLOG: listener backlog exceeded
  kRejIpe = 6,          // SRT_REJ_IPE: internal program error
  kRejClose = 7,        // SRT_REJ_CLOSE: socket is closing
  kRejVersion = 8,      // SRT_REJ_VERSION: peer older than the minimum
  kRejRdvCookie = 9,    // SRT_REJ_RDVCOOKIE: rendezvous cookie collision
  kRejBadSecret = 10,   // SRT_REJ_BADSECRET: wrong passphrase
  kRejUnsecure = 11,    // SRT_REJ_UNSECURE: passphrase required or unexpected
  kRejMessageApi = 12,  // SRT_REJ_MESSAGEAPI: stream/message API collision
  kRejCongestion = 13,  // SRT_REJ_CONGESTION: incompatible congestion control
  kRejFilter = 14,      // SRT_REJ_FILTER: incompatible packet filter
  kRejGroup = 15,       // SRT_REJ_GROUP: incompatible group
  kRejTimeout = 16,     // SRT_REJ_TIMEOUT: connection timeout
};

// One past the last SRT_REJ_* value srtfwd knows (SRT_REJ_E_SIZE in 1.5.1).
inline constexpr std::uint32_t kRejInternalEnd = 17;

// SRT_REJX_* (access_control.h): 1000 + an HTTP-like code.
inline constexpr std::uint32_t kRejXFallback = 1000;
inline constexpr std::uint32_t kRejXKeyNotSup = 1001;
inline constexpr std::uint32_t kRejXFilePath = 1002;
inline constexpr std::uint32_t kRejXHostNotFound = 1003;
inline constexpr std::uint32_t kRejXBadRequest = 1400;
inline constexpr std::uint32_t kRejXUnauthorized = 1401;
inline constexpr std::uint32_t kRejXOverload = 1402;
inline constexpr std::uint32_t kRejXForbidden = 1403;
inline constexpr std::uint32_t kRejXNotFound = 1404;
inline constexpr std::uint32_t kRejXBadMode = 1405;
inline constexpr std::uint32_t kRejXUnacceptable = 1406;
inline constexpr std::uint32_t kRejXConflict = 1409;
inline constexpr std::uint32_t kRejXNotSupMedia = 1415;
inline constexpr std::uint32_t kRejXLocked = 1423;
inline constexpr std::uint32_t kRejXFailedDepend = 1424;
inline constexpr std::uint32_t kRejXIse = 1500;
inline constexpr std::uint32_t kRejXUnimplemented = 1501;
inline constexpr std::uint32_t kRejXGw = 1502;
inline constexpr std::uint32_t kRejXDown = 1503;
inline constexpr std::uint32_t kRejXVersion = 1505;
inline constexpr std::uint32_t kRejXNoRoom = 1507;

// Start of the predefined (SRT_REJC_PREDEFINED) and user-defined
// (SRT_REJC_USERDEFINED) ranges.
inline constexpr std::uint32_t kRejPredefinedBase = 1000;
inline constexpr std::uint32_t kRejUserDefinedBase = 2000;

// Handshake type base for rejections (URQ_FAILURE_TYPES).
inline constexpr std::uint32_t kHandshakeRejectBase = 1000;

// The reason we put on the wire for SRT_REJ_UNKNOWN (see the top comment).
inline constexpr std::uint32_t kRejWireUnknown = 999;

// The handshake type that carries `reason`: 1000 + reason, except that
// reason 0 (and any reason so large the sum would leave the positive int32
// range libsrt reads it as) becomes 1000 + kRejWireUnknown. Never 1000.
constexpr std::uint32_t handshake_type_for_reject(std::uint32_t reason) {
  constexpr std::uint32_t kMaxReason = 0x7fffffffu - kHandshakeRejectBase;
  if (reason == kRejUnknown || reason > kMaxReason) {
    return kHandshakeRejectBase + kRejWireUnknown;
  }
  return kHandshakeRejectBase + reason;
}

// True when a handshake type is a rejection. libsrt keeps the type in an
// int32_t and tests `> 1000`, so CONCLUSION (0xFFFFFFFF = -1), AGREEMENT and
// DONE are not rejections even though they are large as unsigned numbers.
constexpr bool is_rejection(std::uint32_t handshake_type) {
  return static_cast<std::int32_t>(handshake_type) >
         static_cast<std::int32_t>(kHandshakeRejectBase);
}

// The reason a rejection carries, decoded as libsrt's RejectReasonForURQ does
// (17..999 read as kRejUnknown); nullopt when the type is not a rejection.
constexpr std::optional<std::uint32_t> reject_reason_for_handshake_type(
    std::uint32_t handshake_type) {
  if (!is_rejection(handshake_type)) return std::nullopt;
  const std::uint32_t reason = handshake_type - kHandshakeRejectBase;
  if (reason >= kRejInternalEnd && reason < kRejPredefinedBase) return kRejUnknown;
  return reason;
}

// Name of a reason as libsrt spells it ("SRT_REJ_PEER", "SRT_REJX_NOTFOUND"),
// "SRT_REJC_PREDEFINED" for an unnamed code in 1000..1999,
// "SRT_REJC_USERDEFINED" for 2000 and above, "SRT_REJ_UNKNOWN" otherwise.
std::string_view reject_name(std::uint32_t reason);

}  // namespace srtfwd::srt

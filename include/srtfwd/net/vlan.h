// 802.1Q on a port: which received frames belong to it, and the tag a frame
// must carry when it leaves one.
//
// A port configured with `vlan = N` is on VLAN N only: it takes frames
// tagged with VID N and sends every frame tagged with VID N. A port without
// `vlan` is untagged: it takes untagged frames and priority-tagged ones (VID
// 0, which 802.1Q assigns to the port's own VLAN) and sends untagged frames.
// A forwarded frame therefore leaves with its egress port's tag or none,
// whatever it arrived with: the tag is inserted, stripped or its VID
// replaced in place (retag_frame()). A replaced tag keeps the priority and
// DEI bits it arrived with; an inserted one has priority 0.
//
// No DPDK here (the mbuf side is dataplane/vlan_egress.h), so that the
// helpers are unit-tested on plain buffers.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>

#include "srtfwd/net/headers.h"
#include "srtfwd/net/parse.h"

namespace srtfwd::net {

// A port's VLAN: 1..4094, or 0 for an untagged port.
inline constexpr uint16_t kNoVlan = 0;
inline constexpr uint16_t kVlanIdMax = 4094;

// Whether a frame parsed into `fi` (any verdict past the Ethernet header)
// belongs to a port on VLAN `port_vid` (kNoVlan: untagged).
inline bool vlan_accepts(const FrameInfo& fi, uint16_t port_vid) noexcept {
  const uint16_t vid = fi.vlan ? static_cast<uint16_t>(fi.vlan_tci & kVlanIdMask) : kNoVlan;
  return vid == port_vid;
}

// The tag a frame the control lcore builds for a port carries (the builders'
// vlan_tci argument): the port's VID with priority 0, none on an untagged port.
inline std::optional<uint16_t> port_vlan_tci(uint16_t port_vid) noexcept {
  return port_vid != kNoVlan ? std::optional<uint16_t>(port_vid) : std::nullopt;
}

// What retag_frame() does to a frame's first bytes: the frame starts
// kVlanTagLen bytes earlier (insert), later (strip), or where it was.
enum class Retag : int8_t {
  kInsert = -static_cast<int8_t>(kVlanTagLen),
  kKeep = 0,
  kStrip = static_cast<int8_t>(kVlanTagLen)
};

// What a frame laid out as `fi` needs to leave on a port on VLAN `port_vid`.
inline Retag retag_needed(const FrameInfo& fi, uint16_t port_vid) noexcept {
  if (port_vid == kNoVlan) return fi.vlan ? Retag::kStrip : Retag::kKeep;
  return fi.vlan ? Retag::kKeep : Retag::kInsert;
}

// Gives the frame at `frame` the tag of a port on VLAN `port_vid` and
// returns where the frame now starts: frame - 4 after an insert (the caller
// has made those 4 bytes part of the buffer), frame + 4 after a strip (the
// caller drops the first 4 bytes), else frame. Only the 12 MAC bytes move;
// the IP packet stays where it is. `fi` follows: its offsets, vlan and
// vlan_tci describe the frame at the returned address.
inline uint8_t* retag_frame(uint8_t* frame, FrameInfo& fi, uint16_t port_vid) noexcept {
  constexpr auto kTag = static_cast<uint16_t>(kVlanTagLen);
  switch (retag_needed(fi, port_vid)) {
    case Retag::kInsert: {
      uint8_t* f = frame - kTag;
      std::memmove(f, frame, 2 * kMacLen);
      store_be16(f + kEthTypeOff, ETHER_TYPE_VLAN);
      store_be16(f + kVlanTciOff, port_vid);
      fi.vlan = true;
      fi.vlan_tci = port_vid;
      fi.l3_off = static_cast<uint16_t>(fi.l3_off + kTag);
      fi.l4_off = static_cast<uint16_t>(fi.l4_off + kTag);
      fi.payload_off = static_cast<uint16_t>(fi.payload_off + kTag);
      return f;
    }
    case Retag::kStrip: {
      uint8_t* f = frame + kTag;
      // The inner EtherType (bytes 16-17) is already where an untagged
      // frame has it (bytes 12-13 of the frame that starts 4 bytes later).
      std::memmove(f, frame, 2 * kMacLen);
      fi.vlan = false;
      fi.vlan_tci = 0;
      fi.l3_off = static_cast<uint16_t>(fi.l3_off - kTag);
      fi.l4_off = static_cast<uint16_t>(fi.l4_off - kTag);
      fi.payload_off = static_cast<uint16_t>(fi.payload_off - kTag);
      return f;
    }
    case Retag::kKeep:
      if (fi.vlan && (fi.vlan_tci & kVlanIdMask) != port_vid) {
        fi.vlan_tci = static_cast<uint16_t>((fi.vlan_tci & ~kVlanIdMask) | port_vid);
        store_be16(frame + kVlanTciOff, fi.vlan_tci);
      }
      return frame;
  }
  return frame;
}

}  // namespace srtfwd::net

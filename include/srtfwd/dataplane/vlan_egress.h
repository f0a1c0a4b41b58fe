// The mbuf side of net/vlan.h: a received frame given the tag of the port
// it leaves on, in place. Used by the worker's generic path for the runs
// whose header layout changes (the IPv4 fast path only forwards frames that
// leave as they came: untagged to untagged, or tagged to a port on the same
// VLAN) and by the control lcore for the replies it turns around in place.
#pragma once

#include <rte_mbuf.h>

#include "srtfwd/net/vlan.h"

namespace srtfwd::dataplane {

// Inserts, strips or rewrites the 802.1Q tag of m (parsed into fi) for a
// port on VLAN port_vid (net::kNoVlan: untagged), adjusting m's data offset
// and lengths and fi's offsets. Returns the frame's new start, or nullptr,
// m and fi untouched, when an insert finds no headroom (never with the
// pool's RTE_PKTMBUF_HEADROOM; the caller drops and counts it).
inline uint8_t* retag_mbuf(rte_mbuf* m, net::FrameInfo& fi, uint16_t port_vid) noexcept {
  auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
  switch (net::retag_needed(fi, port_vid)) {
    case net::Retag::kInsert:
      if (rte_pktmbuf_prepend(m, static_cast<uint16_t>(net::kVlanTagLen)) == nullptr)
        return nullptr;
      break;
    case net::Retag::kStrip: rte_pktmbuf_adj(m, static_cast<uint16_t>(net::kVlanTagLen)); break;
    case net::Retag::kKeep: break;
  }
  return net::retag_frame(frame, fi, port_vid);
}

}  // namespace srtfwd::dataplane

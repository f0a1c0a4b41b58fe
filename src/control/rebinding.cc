#include "srtfwd/control/rebinding.h"

namespace srtfwd::control {

Rebinding::Rebinding(FollowRebinding mode, uint32_t per_s, uint64_t tsc_hz)
    : mode_(mode), session_interval_(tsc_hz / 1000 * kSessionIntervalMs) {
  global_.set(per_s, tsc_hz);
}

void Rebinding::add(uint32_t socket_id, uint32_t session, const net::IpAddr& caller_ip,
                    const net::IpAddr& vip, uint16_t vip_udp) {
  if (!enabled()) return;
  index_.emplace(socket_id, Entry{session, vip_udp, caller_ip, vip, 0});
}

void Rebinding::remove(uint32_t socket_id, uint32_t session) {
  auto [it, end] = index_.equal_range(socket_id);
  for (; it != end; ++it)
    if (it->second.session == session) {
      index_.erase(it);
      return;
    }
}

Rebinding::Decision Rebinding::decide(uint32_t socket_id, const net::IpAddr& src,
                                      const net::IpAddr& dst, uint16_t dport, uint64_t now) {
  Decision d;
  if (!enabled()) return d;
  // The sessions of that ID on the listener the packet is addressed to; of
  // two (IDs of different origins that collide), the one the rule lets move.
  Entry* found = nullptr;
  bool any = false;
  auto [it, end] = index_.equal_range(socket_id);
  for (; it != end; ++it) {
    Entry& e = it->second;
    if (e.vip != dst || e.vip_udp != dport) continue;
    any = true;
    if (mode_ == FollowRebinding::kAnyIp || e.caller_ip == src) {
      found = &e;
      break;
    }
  }
  if (found == nullptr) {
    d.refusal = any ? RebindRefusal::kRule : RebindRefusal::kUnknownSocket;
    return d;
  }
  if ((found->last_move_tsc != 0 && now - found->last_move_tsc < session_interval_) ||
      !global_.take(now)) {
    d.refusal = RebindRefusal::kRate;
    return d;
  }
  found->last_move_tsc = now != 0 ? now : 1;
  d.move = true;
  d.session = found->session;
  return d;
}

void Rebinding::moved(uint32_t socket_id, uint32_t session, const net::IpAddr& caller_ip) {
  auto [it, end] = index_.equal_range(socket_id);
  for (; it != end; ++it)
    if (it->second.session == session) it->second.caller_ip = caller_ip;
}

}  // namespace srtfwd::control

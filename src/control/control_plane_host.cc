#include "srtfwd/control/control_plane_host.h"

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <utility>

#include "srtfwd/dataplane/session_table.h"
#include "srtfwd/net/headers.h"

namespace srtfwd::control {

ControlPlaneHost::ControlPlaneHost(ControlPlane& cp, Balancer& balancer) : cp_(cp) {
  if (cp_.options().hooks.any()) hooks_ = std::make_unique<HookClient>(cp_.options().hooks);
  proxy_ = std::make_unique<SrtProxy>(*this, balancer);
}

ControlPlaneHost::~ControlPlaneHost() = default;

void ControlPlaneHost::on_packet(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now) {
  const auto* frame = rte_pktmbuf_mtod(m, const uint8_t*);
  proxy_->on_datagram(fi, net::MacAddr::from_bytes(frame + net::kEthSrcOff), m->port,
                      std::span<const uint8_t>(frame + fi.payload_off, fi.payload_len), now);
  rte_pktmbuf_free(m);
}

void ControlPlaneHost::on_tick(uint64_t now) {
  if (hooks_) {
    hooks_->poll(hook_results_);
    for (const auto& r : hook_results_) {
      auto it = hook_done_.find(r.ticket);
      if (it == hook_done_.end()) continue;
      HookDone done = std::move(it->second);
      hook_done_.erase(it);
      done(r.verdict, r.detail);
    }
    hook_results_.clear();
  }
  proxy_->on_tick(now);
}

bool ControlPlaneHost::call_hook(const HookCall& call, HookDone done) {
  if (!hooks_) return false;
  const uint64_t ticket = next_hook_ticket_++;
  if (!hooks_->post(ticket, call)) return false;
  hook_done_.emplace(ticket, std::move(done));
  return true;
}

void ControlPlaneHost::on_session_end(dataplane::Session& s, EndReason /*why*/) {
  proxy_->on_session_end(s.spec.caller_ip, s.spec.caller_udp, s.spec.caller_socket_id,
                         s.spec.leg_ip, s.spec.leg_udp);
}

void ControlPlaneHost::on_caller_moved(dataplane::Session& s, const net::IpAddr& old_ip,
                                       uint16_t old_udp) {
  proxy_->on_caller_moved(old_ip, old_udp, s.spec.caller_socket_id, s.spec.caller_ip,
                          s.spec.caller_udp, s.spec.caller_next_hop, s.spec.caller_port_id);
}

uint64_t ControlPlaneHost::now() const { return rte_rdtsc(); }

std::vector<net::IpAddr> ControlPlaneHost::local_addresses() const {
  std::vector<net::IpAddr> out;
  for (const auto& pi : cp_.dataplane().ports()) {
    if (pi.ipv4) out.push_back(pi.ipv4->addr);
    if (pi.ipv6) out.push_back(pi.ipv6->addr);
  }
  return out;
}

bool ControlPlaneHost::send_udp(const net::IpAddr& src, uint16_t sport, const net::IpAddr& dst,
                                uint16_t dport, std::span<const uint8_t> payload,
                                std::optional<net::MacAddr> dst_mac,
                                std::optional<uint16_t> port_hint) {
  return cp_.send_udp(src, sport, dst, dport, payload, dst_mac, port_hint);
}

void ControlPlaneHost::install_session(const SessionRequest& req, InstallDone done) {
  cp_.install_session(req, [done = std::move(done)](dataplane::Session* s, InstallStatus st) {
    done(s != nullptr ? std::optional<uint32_t>(s->index) : std::nullopt, st);
  });
}

void ControlPlaneHost::end_session(uint32_t session, EndReason why) {
  cp_.end_session(*cp_.dataplane().sessions().at(session), why);
}

void ControlPlaneHost::end_caller_session(const net::IpAddr& caller_ip, uint16_t caller_udp,
                                          const net::IpAddr& vip, uint16_t vip_udp, EndReason why) {
  dataplane::SessionKey k{};
  k.src = caller_ip;
  k.dst = vip;
  k.sport_be = net::to_be16(caller_udp);
  k.dport_be = net::to_be16(vip_udp);
  dataplane::Direction d;
  if (auto* old = cp_.dataplane().sessions().lookup(k, &d)) cp_.end_session(*old, why);
}

}  // namespace srtfwd::control

#include "srtfwd/control/control_plane.h"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "srtfwd/dataplane/vlan_egress.h"
#include "srtfwd/net/build.h"
#include "srtfwd/net/headers.h"
#include "srtfwd/net/vlan.h"
#include "srtfwd/srt/packet.h"

namespace srtfwd::control {

using dataplane::Direction;
using dataplane::Session;
using dataplane::SessionEvent;

namespace {
constexpr unsigned kSlowBurst = 64;
// The first 16 bits of an SRT handshake: control bit, type 0.
constexpr uint16_t kSrtHandshakeWord = 0x8000;
constexpr uint32_t kTickUs = 1000;  // timer work (neighbours, sweep, handshakes) every 1 ms

// A UDP packet from a worker that carries an SRT header but is no handshake:
// a session's packet that missed the flow table and came through the miss
// gate (handshakes, with or without a session, go to the SrtHandler).
bool is_missed_srt(const uint8_t* frame, const net::FrameInfo& fi) {
  if (fi.payload_len < srt::kHeaderSize) return false;
  const uint8_t* p = frame + fi.payload_off;
  return (p[0] & 0x80) == 0 || net::load_be16(p) != kSrtHandshakeWord;
}
}  // namespace

ControlPlane::ControlPlane(dataplane::Dataplane& dp, const Options& opt)
    : dp_(dp),
      opt_(opt),
      hz_(rte_get_tsc_hz()),
      neighbours_(
          static_cast<unsigned>(dp.ports().size()),
          Neighbours::Params{rte_get_tsc_hz(), opt.neighbour_retry_ms, opt.neighbour_attempts,
                             opt.neighbour_reachable_ms, opt.neighbour_queue},
          [this](uint16_t port, const net::IpAddr& ip) { solicit(port, ip); },
          [this](uint16_t port, rte_mbuf* m, const net::MacAddr& mac) { transmit(port, m, mac); }),
      rebinding_(opt.follow_rebinding, opt.rebinding_per_s, rte_get_tsc_hz()) {
  opt_.routes.resize(dp.ports().size());
}

ControlPlane::~ControlPlane() { shutdown(); }

void ControlPlane::shutdown() {
  neighbours_.clear();
  for (auto& p : pending_)
    if (p.done) p.done(nullptr, InstallStatus::kUnresolved);
  pending_.clear();
  release_spares();
}

rte_mbuf* ControlPlane::alloc() {
  if (n_spares_ == 0) {
    if (rte_pktmbuf_alloc_bulk(dp_.pool(), spares_, kSpares) == 0) {
      n_spares_ = kSpares;
    } else {
      // The pool is nearly empty: take one if there is one.
      rte_mbuf* m = rte_pktmbuf_alloc(dp_.pool());
      if (m == nullptr) counters_.alloc_failed.add();
      return m;
    }
  }
  return spares_[--n_spares_];
}

void ControlPlane::release_spares() noexcept {
  if (n_spares_ != 0) rte_pktmbuf_free_bulk(spares_, n_spares_);
  n_spares_ = 0;
}

bool ControlPlane::is_ours(uint16_t port, const net::IpAddr& ip) const {
  const auto* pi = dp_.port(port);
  if (pi == nullptr) return false;
  return (pi->ipv4 && pi->ipv4->addr == ip) || (pi->ipv6 && pi->ipv6->addr == ip) ||
         (pi->announce_vips && pi->is_vip(ip));
}

std::optional<Route> ControlPlane::route(const net::IpAddr& dst) const {
  const bool v4 = dst.is_v4();
  // On-link first, then the first port with a gateway of that family.
  for (const auto& pi : dp_.ports()) {
    const auto& pfx = v4 ? pi.ipv4 : pi.ipv6;
    if (pfx && pfx->contains(dst)) return Route{pi.port_id, dst, pfx->addr};
  }
  for (const auto& pi : dp_.ports()) {
    const auto& pfx = v4 ? pi.ipv4 : pi.ipv6;
    const auto& gw = v4 ? opt_.routes[pi.port_id].gateway4 : opt_.routes[pi.port_id].gateway6;
    if (pfx && gw) return Route{pi.port_id, *gw, pfx->addr};
  }
  return std::nullopt;
}

std::string ControlPlane::no_route_reason(const net::IpAddr& dst) const {
  const bool v4 = dst.is_v4();
  const std::string fam = v4 ? "IPv4" : "IPv6";
  // The ports without an address of dst's family are the ones a leg to it
  // could not leave from; the others hold no prefix of dst and no gateway
  // (else route() had taken them).
  std::string without;
  size_t n_without = 0;
  for (const auto& pi : dp_.ports()) {
    if (v4 ? pi.ipv4 : pi.ipv6) continue;
    without += (without.empty() ? "" : ", ") + std::to_string(pi.port_id);
    ++n_without;
  }
  const std::string to = " to reach origin " + dst.to_string();
  if (n_without == 0)
    return "no route" + to + " (no port's " + fam + " prefix holds it, no " + fam + " gateway)";
  std::string r = "no " + fam + " address on port" + (n_without > 1 ? "s " : " ") + without + to;
  if (n_without < dp_.ports().size())
    r += " (no other port's " + fam + " prefix holds it, no " + fam + " gateway)";
  return r;
}

void ControlPlane::transmit(uint16_t port, rte_mbuf* m, const net::MacAddr& dst) {
  // Frames queued for resolution carry a zero destination MAC; fill it in.
  std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), dst.b.data(), 6);
  dp_.control_send(port, m);
}

void ControlPlane::solicit(uint16_t port, const net::IpAddr& ip) {
  const auto* pi = dp_.port(port);
  if (pi == nullptr) return;
  rte_mbuf* m = alloc();
  if (m == nullptr) return;
  auto* out = rte_pktmbuf_mtod(m, uint8_t*);
  const size_t cap = rte_pktmbuf_tailroom(m);
  size_t len = 0;
  if (ip.is_v4() && pi->ipv4)
    len =
        net::build_arp_request(out, cap, pi->mac, pi->ipv4->addr, ip, net::port_vlan_tci(pi->vlan));
  else if (!ip.is_v4() && pi->ipv6)
    len = net::build_neighbor_solicitation(out, cap, pi->mac, pi->ipv6->addr, ip,
                                           net::port_vlan_tci(pi->vlan));
  if (len == 0) {
    rte_pktmbuf_free(m);
    return;
  }
  m->data_len = m->pkt_len = static_cast<uint32_t>(len);
  dp_.control_send(port, m);
}

bool ControlPlane::send_udp(const net::IpAddr& src, uint16_t sport, const net::IpAddr& dst,
                            uint16_t dport, std::span<const uint8_t> payload,
                            std::optional<net::MacAddr> dst_mac,
                            std::optional<uint16_t> port_hint) {
  std::optional<Route> r;
  if (port_hint && dp_.port(*port_hint)) {
    r = Route{*port_hint, dst, src};
  } else {
    r = route(dst);
  }
  if (!r) return false;
  const auto* pi = dp_.port(r->port);
  rte_mbuf* m = alloc();
  if (m == nullptr) return false;
  const size_t len =
      net::build_udp_frame(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_tailroom(m), pi->mac,
                           dst_mac.value_or(net::MacAddr{}), net::port_vlan_tci(pi->vlan), src, dst,
                           sport, dport, payload);
  if (len == 0) {
    rte_pktmbuf_free(m);
    return false;
  }
  m->data_len = m->pkt_len = static_cast<uint32_t>(len);
  if (dst_mac) {
    dp_.control_send(r->port, m);
  } else {
    neighbours_.send_or_queue(r->port, r->next_hop, m, rte_rdtsc());
  }
  return true;
}

void ControlPlane::install_session(const SessionRequest& req, InstallDone done) {
  const uint64_t now = rte_rdtsc();
  Pending p{req,
            std::move(done),
            {},
            {},
            now + ms_to_tsc(opt_.neighbour_retry_ms * opt_.neighbour_attempts + 100)};
  auto rc = route(req.caller_ip);
  auto rb = route(req.backend_ip);
  if (req.caller_mac) rc = Route{req.caller_port_id, req.caller_ip, req.vip};
  if (req.backend_mac) rb = Route{req.backend_port_id, req.backend_ip, req.leg_ip};
  if (!rc || !rb) {
    counters_.install_failed.add();
    if (p.done) p.done(nullptr, InstallStatus::kNoRoute);
    return;
  }
  p.caller_route = *rc;
  p.backend_route = *rb;
  p.req.caller_port_id = rc->port;
  p.req.backend_port_id = rb->port;
  auto cm = req.caller_mac ? req.caller_mac : neighbours_.lookup(rc->port, rc->next_hop);
  auto bm = req.backend_mac ? req.backend_mac : neighbours_.lookup(rb->port, rb->next_hop);
  if (cm && bm) {
    finish_install(p, *cm, *bm, now);
    return;
  }
  if (!cm) neighbours_.resolve(rc->port, rc->next_hop, now);
  if (!bm) neighbours_.resolve(rb->port, rb->next_hop, now);
  pending_.push_back(std::move(p));
}

bool ControlPlane::finish_install(Pending& p, const net::MacAddr& caller_mac,
                                  const net::MacAddr& backend_mac, uint64_t now) {
  dataplane::SessionSpec spec;
  spec.caller_port_id = p.req.caller_port_id;
  spec.caller_ip = p.req.caller_ip;
  spec.vip = p.req.vip;
  spec.caller_udp = p.req.caller_udp;
  spec.vip_udp = p.req.vip_udp;
  spec.caller_next_hop = caller_mac;
  spec.backend_port_id = p.req.backend_port_id;
  spec.backend_ip = p.req.backend_ip;
  spec.leg_ip = p.req.leg_ip;
  spec.backend_udp = p.req.backend_udp;
  spec.leg_udp = p.req.leg_udp;
  spec.backend_next_hop = backend_mac;
  spec.caller_socket_id = p.req.caller_socket_id;
  spec.backend_socket_id = p.req.backend_socket_id;
  dataplane::InstallError err;
  Session* s = dp_.sessions().install(spec, now, &err);
  if (s == nullptr) {
    counters_.install_failed.add();
    spdlog::warn("session {}:{} -> {}:{} not installed: {}", spec.caller_ip.to_string(),
                 spec.caller_udp, spec.backend_ip.to_string(), spec.backend_udp,
                 dataplane::to_string(err));
    if (p.done) p.done(nullptr, InstallStatus::kTableError);
    return false;
  }
  counters_.sessions_installed.add();
  if (observer_ != nullptr) observer_->on_session_installed(*s);
  rebinding_.add(spec.backend_socket_id, s->index, spec.caller_ip, spec.vip, spec.vip_udp);
  if (spdlog::should_log(spdlog::level::debug))  // to_string() arguments cost even unlogged
    spdlog::debug("session {} installed: {}:{} <-> {}:{} via leg {}:{}", s->index,
                  spec.caller_ip.to_string(), spec.caller_udp, spec.backend_ip.to_string(),
                  spec.backend_udp, spec.leg_ip.to_string(), spec.leg_udp);
  if (p.done) p.done(s, InstallStatus::kInstalled);
  return true;
}

void ControlPlane::try_pending(uint64_t now) {
  for (size_t i = 0; i < pending_.size();) {
    Pending& p = pending_[i];
    auto cm = p.req.caller_mac ? p.req.caller_mac
                               : neighbours_.lookup(p.caller_route.port, p.caller_route.next_hop);
    auto bm = p.req.backend_mac
                  ? p.req.backend_mac
                  : neighbours_.lookup(p.backend_route.port, p.backend_route.next_hop);
    bool done = false;
    if (cm && bm) {
      finish_install(p, *cm, *bm, now);
      done = true;
    } else if (now >= p.deadline ||
               (!cm && neighbours_.failed(p.caller_route.port, p.caller_route.next_hop)) ||
               (!bm && neighbours_.failed(p.backend_route.port, p.backend_route.next_hop))) {
      counters_.install_failed.add();
      if (p.done) p.done(nullptr, InstallStatus::kUnresolved);
      done = true;
    }
    if (done) {
      pending_[i] = std::move(pending_.back());
      pending_.pop_back();
    } else {
      ++i;
    }
  }
}

void ControlPlane::end_session(Session& s, EndReason why) {
  if (!s.in_use) return;
  counters_.sessions_ended[static_cast<size_t>(why)].add();
  spdlog::debug("session {} ended ({}): {} + {} packets", s.index,
                kEndReasonNames[static_cast<size_t>(why)], s.dir[0]->counters().packets.get(),
                s.dir[1]->counters().packets.get());
  if (handler_ != nullptr) handler_->on_session_end(s, why);
  if (observer_ != nullptr) observer_->on_session_ended(s);
  rebinding_.remove(s.spec.backend_socket_id, s.index);
  dp_.sessions().remove(&s);
}

void ControlPlane::handle_event(uint64_t ev, uint64_t now) {
  uint32_t idx;
  Direction d;
  SessionEvent e;
  dataplane::unpack_event(ev, &idx, &d, &e);
  if (idx >= dp_.sessions().capacity()) return;
  Session& s = *dp_.sessions().at(idx);
  if (!s.in_use) {
    counters_.events_stale.add();
    return;
  }
  if (e == SessionEvent::kShutdown && s.end_after_tsc == 0) {
    s.end_after_tsc = now + ms_to_tsc(opt_.shutdown_grace_ms) + 1;
    shutdown_due_.push_back({s.end_after_tsc, s.index});
  }
}

void ControlPlane::end_due_shutdowns(uint64_t now) {
  while (!shutdown_due_.empty() && shutdown_due_.front().due_tsc <= now) {
    const DueEnd e = shutdown_due_.front();
    shutdown_due_.pop_front();
    // The record may have ended otherwise since, and even been reused: only
    // the session that got this SHUTDOWN carries this due time.
    Session& s = *dp_.sessions().at(e.index);
    if (s.in_use && s.end_after_tsc == e.due_tsc) end_session(s, EndReason::kShutdown);
  }
}

void ControlPlane::handle_arp(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now) {
  net::ArpInfo arp;
  const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint16_t port = m->port;
  const auto* pi = dp_.port(port);
  if (pi == nullptr || net::parse_arp(data, m->data_len, fi, arp) != net::ArpVerdict::Ok ||
      !pi->ipv4) {
    counters_.arp_ignored.add();
    rte_pktmbuf_free(m);
    return;
  }
  const bool for_us = is_ours(port, arp.tpa);
  // Learn from anyone on our subnet that talks to us (RFC 826 merge rule,
  // limited to senders we may need as next hops).
  if (pi->ipv4->contains(arp.spa) && !arp.spa.is_unspecified() &&
      (for_us || neighbours_.lookup(port, arp.spa)))
    neighbours_.learn(port, arp.spa, arp.sha, now);
  if (arp.op == 1 && for_us) {
    rte_mbuf* r = alloc();
    if (r != nullptr) {
      const size_t len =
          net::build_arp_reply(rte_pktmbuf_mtod(r, uint8_t*), rte_pktmbuf_tailroom(r), arp, pi->mac,
                               net::port_vlan_tci(pi->vlan));
      if (len != 0) {
        r->data_len = r->pkt_len = static_cast<uint32_t>(len);
        dp_.control_send(port, r);
        counters_.arp_replies_sent.add();
      } else {
        rte_pktmbuf_free(r);
      }
    }
  } else if (!for_us) {
    counters_.arp_ignored.add();
  }
  rte_pktmbuf_free(m);
}

void ControlPlane::handle_icmp4(rte_mbuf* m, const net::FrameInfo& request) {
  const auto* pi = dp_.port(m->port);
  net::FrameInfo fi = request;
  // The reply is the request turned around: with the port's tag (a
  // priority-tagged request on an untagged port is answered untagged).
  uint8_t* data = nullptr;
  if (pi != nullptr && is_ours(m->port, fi.dst)) data = dataplane::retag_mbuf(m, fi, pi->vlan);
  if (data != nullptr) {
    const size_t len = net::icmp_echo_reply_in_place(data, m->data_len, fi, pi->mac);
    if (len != 0) {
      rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - len));
      counters_.icmp_echo_replies.add();
      dp_.control_send(m->port, m);
      return;
    }
  }
  counters_.icmp_ignored.add();
  rte_pktmbuf_free(m);
}

void ControlPlane::handle_icmp6(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now) {
  const uint16_t port = m->port;
  const auto* pi = dp_.port(port);
  auto* data = rte_pktmbuf_mtod(m, uint8_t*);
  if (pi == nullptr || !pi->ipv6) {
    counters_.ndp_ignored.add();
    rte_pktmbuf_free(m);
    return;
  }
  net::NdpInfo nd;
  const auto v = net::parse_ndp(data, m->data_len, fi, nd);
  if (v == net::NdpVerdict::NotNdp) {
    handle_icmp4(m, fi);  // echo: same in-place builder for both families
    return;
  }
  if (v != net::NdpVerdict::Ok) {
    counters_.ndp_ignored.add();
    rte_pktmbuf_free(m);
    return;
  }
  const bool for_us = nd.type == 135 && nd.target.is_v6() && is_ours(port, nd.target);
  if (nd.lladdr && !nd.src.is_unspecified() && for_us)
    neighbours_.learn(port, nd.src, *nd.lladdr, now);
  if (nd.type == 136 && nd.lladdr) neighbours_.learn(port, nd.target, *nd.lladdr, now);
  if (for_us) {
    rte_mbuf* r = alloc();
    if (r != nullptr) {
      const size_t len =
          net::build_neighbor_advertisement(rte_pktmbuf_mtod(r, uint8_t*), rte_pktmbuf_tailroom(r),
                                            nd, pi->mac, net::port_vlan_tci(pi->vlan));
      if (len != 0) {
        r->data_len = r->pkt_len = static_cast<uint32_t>(len);
        dp_.control_send(port, r);
        counters_.ndp_adverts_sent.add();
      } else {
        rte_pktmbuf_free(r);
      }
    }
  } else if (nd.type == 135) {
    counters_.ndp_ignored.add();
  }
  rte_pktmbuf_free(m);
}

void ControlPlane::handle_missed(rte_mbuf* m, const net::FrameInfo& info, uint64_t now) {
  counters_.missed_packets.add();
  net::FrameInfo fi = info;  // a forward may retag the frame
  if (rebinding_.enabled() && is_listen_port(fi.dport) && try_rebind(m, fi, now)) return;
  counters_.missed_dropped.add();
  if (missed_handler_ != nullptr) {
    // The second chance (control/directory.h): dropped here too, its flow
    // sent on to the owner on another host once that is known.
    missed_handler_->on_missed(m, fi, now);
    return;
  }
  rte_pktmbuf_free(m);
}

bool ControlPlane::is_listen_port(uint16_t p) const {
  return std::find(opt_.listen_ports.begin(), opt_.listen_ports.end(), p) !=
         opt_.listen_ports.end();
}

bool ControlPlane::forward_missed(rte_mbuf* m, net::FrameInfo& fi, const Session& s, Direction d) {
  const dataplane::FlowSlot& f = *s.dir[d];
  const auto* pi = dp_.port(f.out_port);
  const net::Rewrite rw = f.rewrite();
  // A translated direction changes the frame's size: the workers' business;
  // the sender's SRT retransmits this one.
  if (pi == nullptr || rw.ipv4() != fi.src.is_v4()) return false;
  uint8_t* frame = dataplane::retag_mbuf(m, fi, pi->vlan);
  if (frame == nullptr || !net::apply_rewrite(frame, fi, rw, pi->mac)) return false;
  counters_.missed_forwarded.add();
  dp_.control_send(f.out_port, m);
  return true;
}

bool ControlPlane::try_rebind(rte_mbuf* m, net::FrameInfo& fi, uint64_t now) {
  auto& table = dp_.sessions();
  dataplane::SessionKey k{};
  k.src = fi.src;
  k.dst = fi.dst;
  k.sport_be = net::to_be16(fi.sport);
  k.dport_be = net::to_be16(fi.dport);
  Direction d;
  // Packets of the new 4-tuple that reached control before the move took
  // them after it: the session is theirs now.
  if (Session* s = table.lookup(k, &d); s != nullptr) return forward_missed(m, fi, *s, d);

  const uint8_t* payload = rte_pktmbuf_mtod(m, const uint8_t*) + fi.payload_off;
  const uint32_t socket_id = (uint32_t{payload[12]} << 24) | (uint32_t{payload[13]} << 16) |
                             (uint32_t{payload[14]} << 8) | payload[15];
  const Rebinding::Decision dec = rebinding_.decide(socket_id, fi.src, fi.dst, fi.dport, now);
  uint64_t left_out = 0;
  if (!dec.move) {
    counters_.rebind_refused[static_cast<size_t>(dec.refusal)].add();
    // An unknown socket ID is what any stray packet is: counted, not logged.
    if (dec.refusal != RebindRefusal::kUnknownSocket && rebind_log_.allow(&left_out))
      spdlog::info("caller {}:{} socket {:08x}: not rebound ({}){}", fi.src.to_string(), fi.sport,
                   socket_id, kRebindRefusalNames[static_cast<size_t>(dec.refusal)],
                   left_out != 0 ? fmt::format(" ({} earlier lines not logged)", left_out) : "");
    return false;
  }
  Session& s = *table.at(dec.session);
  const net::IpAddr old_ip = s.spec.caller_ip;
  const uint16_t old_udp = s.spec.caller_udp;
  const auto* frame = rte_pktmbuf_mtod(m, const uint8_t*);
  dataplane::InstallError err;
  if (!table.rekey_caller(&s, fi.src, fi.sport, m->port,
                          net::MacAddr::from_bytes(frame + net::kEthSrcOff), &err)) {
    counters_.rebind_failed.add();
    if (rebind_log_.allow(&left_out))
      spdlog::warn("session {}: caller {}:{} not rebound to {}:{}: {}", s.index, old_ip.to_string(),
                   old_udp, fi.src.to_string(), fi.sport, dataplane::to_string(err));
    return false;
  }
  rebinding_.moved(socket_id, s.index, fi.src);
  counters_.rebinds.add();
  if (rebind_log_.allow(&left_out))
    spdlog::info("session {}: caller {}:{} rebound to {}:{} (socket {:08x}){}", s.index,
                 old_ip.to_string(), old_udp, fi.src.to_string(), fi.sport, socket_id,
                 left_out != 0 ? fmt::format(" ({} earlier lines not logged)", left_out) : "");
  if (handler_ != nullptr) handler_->on_caller_moved(s, old_ip, old_udp);
  // The packet that moved it goes on as the session's next one would.
  return forward_missed(m, fi, s, Direction::kFromCaller);
}

void ControlPlane::handle_slow(rte_mbuf* m, uint64_t now) {
  counters_.slow_path_packets.add();
  net::FrameInfo fi;
  const auto v = net::parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, fi);
  switch (v) {
    case net::Verdict::Arp: handle_arp(m, fi, now); return;
    case net::Verdict::Icmp4: handle_icmp4(m, fi); return;
    case net::Verdict::Icmp6: handle_icmp6(m, fi, now); return;
    case net::Verdict::Udp:
      if (is_missed_srt(rte_pktmbuf_mtod(m, const uint8_t*), fi)) {
        handle_missed(m, fi, now);
        return;
      }
      if (handler_ != nullptr) {
        handler_->on_packet(m, fi, now);
        return;
      }
      counters_.srt_unhandled.add();
      break;
    case net::Verdict::Fragment: counters_.fragments_dropped.add(); break;
    case net::Verdict::IpOptions:
    case net::Verdict::Ipv6ExtHeaders: counters_.ip_options_dropped.add(); break;
    default: break;  // workers only send the kinds above
  }
  rte_pktmbuf_free(m);
}

void ControlPlane::sweep(uint64_t now) {
  auto& table = dp_.sessions();
  const uint32_t live = table.live_count();
  // A full pass over the live sessions every ~250 ticks (250 ms) at most:
  // idle timeouts are seconds.
  const uint32_t slice = std::min(live, std::max<uint32_t>(64, live / 250 + 1));
  const uint64_t idle = ms_to_tsc(opt_.idle_timeout_ms);
  for (uint32_t k = 0; k < slice && table.live_count() != 0; ++k) {
    if (sweep_cursor_ >= table.live_count()) sweep_cursor_ = 0;
    Session& s = *table.at(table.live_index(sweep_cursor_));
    sweep_one(s, now, idle);
    // An ended session's place now holds the last live one, not yet seen
    // in this pass: look at the same place again.
    if (s.in_use) ++sweep_cursor_;
  }
}

void ControlPlane::sweep_one(Session& s, uint64_t now, uint64_t idle) {
  if (s.end_after_tsc != 0 && now >= s.end_after_tsc) {
    end_session(s, EndReason::kShutdown);
    return;
  }
  // A direction whose packet count moved since the last pass was active
  // since then: idle ends are exact to one pass (<= 250 ms) late.
  for (int d = 0; d < 2; ++d) {
    const uint64_t p = s.dir[d]->counters().packets.get();
    if (p != s.seen_packets[d]) {
      s.seen_packets[d] = p;
      s.active_tsc[d].store(now, std::memory_order_relaxed);
    }
  }
  const uint64_t last = std::max(s.active_tsc[0].load(std::memory_order_relaxed),
                                 s.active_tsc[1].load(std::memory_order_relaxed));
  if (now > last && now - last > idle) end_session(s, EndReason::kIdle);
}

void ControlPlane::add_timer(uint32_t period_ms, std::function<void(uint64_t)> fn) {
  timers_.push_back(Timer{ms_to_tsc(period_ms), 0, std::move(fn)});
}

void ControlPlane::tick(uint64_t now) {
  for (auto& t : timers_)
    if (now >= t.next) {
      t.next = now + t.period;
      t.fn(now);
    }
  neighbours_.tick(now);
  if (!pending_.empty()) try_pending(now);
  if (handler_ != nullptr) handler_->on_tick(now);
  end_due_shutdowns(now);
  sweep(now);
  dp_.sessions().reclaim();
}

unsigned ControlPlane::poll_once(uint64_t now) {
  rte_mbuf* pkts[kSlowBurst];
  const unsigned n = dp_.poll_slow_path(pkts, kSlowBurst);
  for (unsigned i = 0; i < n; ++i) handle_slow(pkts[i], now);
  uint64_t evs[kSlowBurst];
  const unsigned e = dp_.poll_events(evs, kSlowBurst);
  for (unsigned i = 0; i < e; ++i) handle_event(evs[i], now);
  if (now >= next_tick_) {
    tick(now);
    next_tick_ = now + hz_ / (1000000 / kTickUs);
  }
  return n + e;
}

void ControlPlane::run(const std::atomic<bool>& stop) {
  const auto& dopt = dp_.options();
  uint32_t empty = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    if (poll_once(rte_rdtsc()) != 0) {
      empty = 0;
    } else if (dopt.idle_sleep_us != 0 && ++empty >= dopt.idle_polls) {
      release_spares();  // an idle forwarder shows no mbufs in use
      rte_delay_us_sleep(std::min<uint32_t>(dopt.idle_sleep_us, kTickUs));
    }
  }
}

}  // namespace srtfwd::control

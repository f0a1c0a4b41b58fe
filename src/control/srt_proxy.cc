#include "srtfwd/control/srt_proxy.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstring>
#include <stdexcept>
#include <utility>

#include "srtfwd/net/headers.h"
#include "srtfwd/srt/cookie_secret.h"
#include "srtfwd/srt/packet.h"
#include "srtfwd/srt/reject.h"
#include "srtfwd/srt/stream_id.h"

namespace srtfwd::control {

namespace {
// How long a rejection stays cached for the caller's retransmissions (it
// stops after its connect timeout, 3 s by default).
constexpr uint64_t kRejectedCacheMs = 5000;
// UDT_DGRAM: the socket type an HSv4 INDUCTION carries where HSv5 has the
// encryption and extension fields.
constexpr uint16_t kUdtDgram = 2;

std::string suppressed_note(uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " earlier rejections not logged)";
}

srt::CookieAddress cookie_addr(const net::IpAddr& ip) { return ip.b; }

uint32_t srt_timestamp(uint64_t tsc, uint64_t hz) {
  // Microseconds, wrapping as SRT timestamps do.
  return static_cast<uint32_t>(tsc / (hz / 1000000 ? hz / 1000000 : 1));
}
}  // namespace

SrtProxy::SrtProxy(HandshakeEnv& env, Balancer& balancer)
    : env_(env),
      balancer_(balancer),
      opt_(env.options()),
      hz_(env.tsc_hz()),
      cookies_(srt::SynCookieJar::with_random_secret(env.options().cookie_bucket_s)),
      limits_(env.options().limits, env.tsc_hz()) {
  // One FIFO of free leg ports per address we own: a freed port goes to the
  // back, so it is reused as late as possible (stray packets of an ended
  // session then find no session instead of a new one).
  for (const auto& addr : env_.local_addresses()) {
    auto& q = leg_free_[addr];
    for (uint32_t p = opt_.leg_port_min; p <= opt_.leg_port_max; ++p)
      q.push_back(static_cast<uint16_t>(p));
  }
}

SrtProxy::~SrtProxy() = default;

bool SrtProxy::is_listen_port(uint16_t p) const {
  for (uint16_t l : opt_.listen_ports)
    if (l == p) return true;
  return false;
}

std::array<uint8_t, 16> SrtProxy::peer_wire(const net::IpAddr& ip) const {
  if (ip.is_v4()) {
    std::array<uint8_t, 4> a;
    std::memcpy(a.data(), ip.b.data() + 12, 4);
    return srt::encode_peer_ipv4(a);
  }
  return srt::encode_peer_ipv6(ip.b);
}

bool SrtProxy::send_to_caller(const net::IpAddr& vip, uint16_t vip_port, const net::IpAddr& ip,
                              uint16_t port, const net::MacAddr& mac, uint16_t port_id,
                              std::span<const uint8_t> bytes) {
  return env_.send_udp(vip, vip_port, ip, port, bytes, mac, port_id);
}

// SRT timestamps are microseconds since the sender's socket started, and the
// receiver of a CONCLUSION takes `arrival time - timestamp` as the peer's
// start time, the base of every TSBPD delivery time of the connection (libsrt
// 1.5.1 core.cpp processSrtMsg_HSREQ on the listener, processSrtMsg_HSRSP on
// the caller). A handshake we replay later than its author sent it must carry
// the author's clock as it reads at the moment we send, or the peer puts the
// start time late by the delay (balancer, backend INDUCTION round trip,
// retransmissions, a cached answer sent seconds later) and delivers every
// packet of the session that much later.
uint32_t SrtProxy::aged(uint32_t timestamp, uint64_t since_tsc) const {
  const uint64_t now = env_.now();
  const uint64_t elapsed = now > since_tsc ? now - since_tsc : 0;
  const uint64_t tsc_per_us = hz_ / 1000000 ? hz_ / 1000000 : 1;
  return timestamp + static_cast<uint32_t>(elapsed / tsc_per_us);  // wraps as SRT timestamps do
}

void SrtProxy::answer_caller(Attempt& a) {
  if (a.state == State::kEstablished && a.answer_rx != 0 && a.answer.size() >= srt::kHeaderSize)
    srt::wire::store_be32(a.answer.data() + 8, aged(a.answer_ts, a.answer_rx));
  send_to_caller(a.vip, a.vip_port, a.caller.ip, a.caller.port, a.caller_mac, a.caller_port_id,
                 a.answer);
}

void SrtProxy::send_to_backend(const Attempt& a, const srt::Handshake& hs) {
  const auto bytes = srt::serialize(hs);
  if (!bytes.empty()) env_.send_udp(a.leg_ip, a.leg_port, a.backend_ip, a.backend_port, bytes);
}

void SrtProxy::on_datagram(const net::FrameInfo& fi, const net::MacAddr& src_mac, uint16_t port_id,
                           std::span<const uint8_t> payload, uint64_t now) {
  srt::Handshake hs;
  const auto err = srt::parse_handshake(payload, hs);
  if (err == srt::ParseError::NotControl || err == srt::ParseError::NotHandshake) {
    counters_.not_handshake.add();
  } else if (err != srt::ParseError::Ok) {
    counters_.malformed.add();
  } else if (is_listen_port(fi.dport)) {
    on_caller(fi, src_mac, port_id, hs, now);
  } else if (fi.dport >= opt_.leg_port_min && fi.dport <= opt_.leg_port_max) {
    on_backend(fi, src_mac, hs, now);
  } else {
    counters_.not_handshake.add();
  }
}

void SrtProxy::reject_stateless(const net::FrameInfo& fi, const net::MacAddr& mac, uint16_t port_id,
                                const srt::Handshake& hs, RejectReason label, const char* why) {
  const uint32_t reason = reject_code(label);
  const auto r = srt::make_rejection(hs, reason, peer_wire(fi.src), hs.timestamp);
  const auto bytes = srt::serialize(r);
  counters_.rejected_by[static_cast<size_t>(label)].add();
  uint64_t left_out = 0;
  if (reject_log_.allow(&left_out))
    spdlog::info("caller {}:{} rejected {} ({}): {}{}", fi.src.to_string(), fi.sport, reason,
                 srt::reject_name(reason), why, suppressed_note(left_out));
  if (!bytes.empty()) send_to_caller(fi.dst, fi.dport, fi.src, fi.sport, mac, port_id, bytes);
}

void SrtProxy::on_caller(const net::FrameInfo& fi, const net::MacAddr& mac, uint16_t port_id,
                         const srt::Handshake& hs, uint64_t now) {
  const uint64_t now_s = cookie_seconds(now);

  if (hs.type == srt::HandshakeType::kInduction) {
    // The source's rate first: a flood costs one bucket and gets no answer,
    // whatever else about it would be refused.
    if (limits_.per_source()) {
      const uint32_t slot = limits_.slot(fi.src);
      if (!limits_.take_induction(slot, now)) {
        counters_.dropped_inductions.add();
        return;
      }
      // libsrt callers read a rejection in the INDUCTION answer as they do
      // in the CONCLUSION one (processConnectResponse), so a refused source
      // learns its reason one round trip earlier; the CONCLUSION checks
      // again, an INDUCTION keeps nothing.
      if (limits_.handshakes_full(slot)) {
        reject_stateless(fi, mac, port_id, hs, RejectReason::kSourceHandshakes,
                         "too many handshakes from this source");
        return;
      }
    }
    if (!limits_.permitted(fi.src)) {
      reject_stateless(fi, mac, port_id, hs, RejectReason::kSourceDenied,
                       "source not allowed ([limits])");
      return;
    }
    // Stateless: the cookie is all we give, nothing is kept.
    const uint32_t cookie = cookies_.make(cookie_addr(fi.src), fi.sport, now_s);
    const auto r = srt::make_induction_response(hs, cookie, hs.peer_ip, srt_timestamp(now, hz_));
    const auto bytes = srt::serialize(r);
    if (!bytes.empty() && send_to_caller(fi.dst, fi.dport, fi.src, fi.sport, mac, port_id, bytes))
      counters_.inductions.add();
    return;
  }
  if (hs.type == srt::HandshakeType::kWaveahand || hs.type == srt::HandshakeType::kAgreement ||
      hs.type == srt::HandshakeType::kDone) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kBadMode,
                     "rendezvous handshake to a listener");
    return;
  }
  if (hs.type != srt::HandshakeType::kConclusion) {
    counters_.malformed.add();  // a rejection or garbage type from a caller: ignore
    return;
  }
  if (!cookies_.verify(hs.cookie, cookie_addr(fi.src), fi.sport, now_s)) {
    counters_.bad_cookie.add();
    return;
  }
  counters_.conclusions.add();
  const CallerKey key{fi.src, fi.sport, hs.socket_id};
  if (auto it = by_caller_.find(key); it != by_caller_.end()) {
    Attempt& a = *it->second;
    if (!a.answer.empty()) {
      counters_.cached_answers.add();
      answer_caller(a);  // idempotent: the same CONCLUSION gets the same answer
    } else {
      counters_.in_progress_ignored.add();
    }
    return;
  }
  if (hs.version < srt::kHandshakeVersion5) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kVersion, "HSv4 caller (libsrt < 1.3)");
    return;
  }
  if (hs.find_extension(srt::kExtGroup) != nullptr) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kGroup,
                     "socket groups (bonding) are not relayed");
    return;
  }
  if (draining_) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kDown, "draining");
    return;
  }
  if (!limits_.permitted(fi.src)) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kSourceDenied,
                     "source not allowed ([limits])");
    return;
  }
  const uint32_t slot = limits_.per_source() ? limits_.slot(fi.src) : 0;
  if (limits_.per_source() && limits_.handshakes_full(slot)) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kSourceHandshakes,
                     "too many handshakes from this source");
    return;
  }
  if (limits_.per_source() && limits_.sessions_full(slot)) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kSourceSessions,
                     "too many sessions from this source");
    return;
  }
  if (active_.size() >= opt_.max_handshakes) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kOverload,
                     "too many handshakes in flight");
    return;
  }
  auto sid = srt::find_stream_id(hs);
  // No stream ID (no SID block, or an empty one): SRS takes its default
  // (srs_app_srt_conn.cpp); routing by the same keeps the caller where that
  // origin puts it.
  if ((!sid || sid->empty()) && !opt_.default_streamid.empty()) {
    const srt::Extension* block = hs.find_extension(srt::kExtSid);
    if (block == nullptr || block->contents.empty() || sid) sid = opt_.default_streamid;
  }
  srt::StreamId id;
  srt::StreamIdError sid_err = srt::StreamIdError::Empty;
  if (sid) sid_err = srt::parse_stream_id(*sid, id);
  if (sid_err != srt::StreamIdError::Ok) {
    reject_stateless(fi, mac, port_id, hs, RejectReason::kBadRequest,
                     sid ? "bad stream ID" : "no stream ID");
    return;
  }

  // The same caller 4-tuple with a new socket: the old session is over.
  env_.end_caller_session(fi.src, fi.sport, fi.dst, fi.dport, EndReason::kAdmin);

  auto a = std::make_unique<Attempt>();
  a->id = next_id_++;
  a->caller = key;
  a->caller_port_id = port_id;
  a->caller_mac = mac;
  a->vip = fi.dst;
  a->vip_port = fi.dport;
  a->conclusion = std::make_unique<srt::Handshake>(hs);
  a->conclusion_rx = now;
  a->url = srt::stream_url(id);
  a->mode = id.mode;
  if (limits_.per_source()) {
    a->source_slot = slot;
    a->counts_handshake = a->counts_session = true;
    limits_.add_handshake(slot);
    limits_.add_session(slot);
  }
  Attempt* ap = a.get();
  by_caller_.emplace(key, std::move(a));
  active_.insert(ap);
  if (spdlog::should_log(spdlog::level::debug))  // to_string() arguments cost even unlogged
    spdlog::debug("caller {}:{} socket {:08x} stream '{}' -> url {} ({})", fi.src.to_string(),
                  fi.sport, hs.socket_id, *sid, ap->url, srt::to_string(id.mode));
  // Publishers (and bidirectional callers, who publish too) ask on_publish,
  // players on_play; no hook for the mode: straight to the balancer.
  const bool publishes = id.mode != srt::Mode::Request;
  if (!(publishes ? opt_.hooks.on_publish : opt_.hooks.on_play).empty())
    start_hook(*ap, id, *sid, now);
  else
    start_pick(*ap, now);
}

void SrtProxy::start_hook(Attempt& a, const srt::StreamId& id, const std::string& sid,
                          uint64_t now) {
  HookRequest r;
  r.publish = id.mode != srt::Mode::Request;
  r.client_id = fmt::format("{:08x}-{}", a.caller.socket_id, a.id);
  r.ip = a.caller.ip;
  r.id = id;
  r.stream_id = sid;
  r.server_id = opt_.hooks.server_id;
  HookCall call{r.publish ? opt_.hooks.on_publish : opt_.hooks.on_play, hook_body(r)};
  a.state = State::kHooking;
  a.deadline = now + env_.ms_to_tsc(opt_.hooks.timeout_ms);
  const uint64_t aid = a.id;
  const CallerKey key = a.caller;
  if (!env_.call_hook(call, [this, aid, key](HookVerdict v, const std::string& detail) {
        on_hook(aid, key, v, detail);
      })) {
    counters_.hook_overflow.add();
    reject(a, RejectReason::kHookBusy, srt::kRejXOverload,
           "hook calls at [hooks] max_in_flight = " + std::to_string(opt_.hooks.max_in_flight));
    return;
  }
  counters_.hook_calls.add();
}

void SrtProxy::on_hook(uint64_t id, const CallerKey& key, HookVerdict v,
                       const std::string& detail) {
  auto it = by_caller_.find(key);
  if (it == by_caller_.end() || it->second->id != id || it->second->state != State::kHooking) {
    counters_.hook_late.add();  // timed out meanwhile (decided), or the attempt is gone
    return;
  }
  Attempt& a = *it->second;
  const char* action = a.mode != srt::Mode::Request ? "on_publish" : "on_play";
  switch (v) {
    case HookVerdict::kAllowed:
      counters_.hook_allowed.add();
      start_pick(a, env_.now());
      return;
    case HookVerdict::kDenied:
      counters_.hook_denied.add();
      reject(a, RejectReason::kForbidden, srt::kRejXForbidden,
             fmt::format("{} hook refused ({})", action, detail));
      return;
    case HookVerdict::kError:
      counters_.hook_errors.add();
      hook_failed(a, fmt::format("{} hook failed: {}", action, detail));
      return;
  }
}

void SrtProxy::hook_failed(Attempt& a, const std::string& why) {
  if (opt_.hooks.allow_on_error) {
    uint64_t left_out = 0;
    if (reject_log_.allow(&left_out))
      spdlog::warn("caller {}:{} stream {}: {}; let in ([hooks] on_error = \"allow\"){}",
                   a.caller.ip.to_string(), a.caller.port, a.url, why, suppressed_note(left_out));
    start_pick(a, env_.now());
    return;
  }
  reject(a, RejectReason::kHookDown, srt::kRejXDown, why);
}

void SrtProxy::start_pick(Attempt& a, uint64_t now) {
  a.state = State::kPicking;
  a.deadline =
      now + env_.ms_to_tsc(opt_.backend_timeout_ms + 500);  // the balancer's own bound is shorter
  const uint64_t aid = a.id;
  const CallerKey key = a.caller;
  balancer_.pick(a.url, a.mode, now_ms(now),
                 [this, aid, key](const Pick& p) { on_pick(aid, key, p, env_.now()); });
}

void SrtProxy::on_pick(uint64_t id, const CallerKey& key, const Pick& pick, uint64_t now) {
  auto it = by_caller_.find(key);
  if (it == by_caller_.end() || it->second->id != id || it->second->state != State::kPicking)
    return;  // the attempt ended meanwhile
  Attempt& a = *it->second;
  if (!pick.ok) {
    const RejectReason label =
        pick.reject_reason == srt::kRejXDown ? RejectReason::kDown : RejectReason::kNotFound;
    reject(a, label, pick.reject_reason ? pick.reject_reason : reject_code(label), pick.why);
    return;
  }
  a.backend_ip = pick.ip;
  a.backend_port = pick.port;
  a.server_key = pick.server_key;
  a.claim = pick.claim;
  auto route = env_.route(pick.ip);
  if (!route) {
    // Before the origin hears of the caller: our leg to it needs an address
    // of the origin's family (the caller's may be the other, net/xlat.h).
    reject(a, RejectReason::kNoRoute, srt::kRejXGw, env_.no_route_reason(pick.ip));
    return;
  }
  a.leg_ip = route->source;
  if (!alloc_leg(a)) {
    reject(a, RejectReason::kOverload, srt::kRejXOverload,
           "no free leg port on " + a.leg_ip.to_string());
    return;
  }
  a.state = State::kInduction;
  a.deadline = now + env_.ms_to_tsc(opt_.backend_timeout_ms);
  send_backend_induction(a);
}

bool SrtProxy::alloc_leg(Attempt& a) {
  auto it = leg_free_.find(a.leg_ip);
  if (it == leg_free_.end() || it->second.empty()) return false;
  a.leg_port = it->second.front();
  it->second.pop_front();
  by_leg_[LegKey{a.leg_ip, a.leg_port}] = &a;
  return true;
}

void SrtProxy::free_leg(Attempt& a) {
  if (a.leg_port == 0) return;
  by_leg_.erase(LegKey{a.leg_ip, a.leg_port});
  leg_free_[a.leg_ip].push_back(a.leg_port);
  a.leg_port = 0;
}

void SrtProxy::send_backend_induction(Attempt& a) {
  const srt::Handshake& c = *a.conclusion;
  srt::Handshake ind;
  ind.timestamp =
      aged(c.timestamp, a.conclusion_rx);  // unused by the listener; as the caller's clock
  ind.dest_socket_id = 0;
  ind.version = srt::kHandshakeVersion4;
  ind.encryption = 0;
  ind.extension_field = kUdtDgram;
  ind.isn = c.isn;
  ind.mss = c.mss;
  ind.flow_window = c.flow_window;
  ind.type = srt::HandshakeType::kInduction;
  ind.socket_id = c.socket_id;  // socket IDs are not rewritten
  ind.cookie = 0;
  ind.peer_ip = peer_wire(a.backend_ip);
  send_to_backend(a, ind);
  a.next_retry = env_.now() + env_.ms_to_tsc(opt_.backend_retry_ms);
}

void SrtProxy::send_backend_conclusion(Attempt& a) {
  // The caller's own CONCLUSION, byte for byte (HSREQ, KMREQ, SID, ...),
  // under the backend's cookie and with the backend's address as we see it.
  srt::Handshake c = *a.conclusion;
  // The timestamp is the caller's clock now (see aged()): the backend derives
  // the caller's start time, its TSBPD base, from it.
  c.timestamp = aged(c.timestamp, a.conclusion_rx);
  c.cookie = a.backend_cookie;
  c.peer_ip = peer_wire(a.backend_ip);
  send_to_backend(a, c);
  a.next_retry = env_.now() + env_.ms_to_tsc(opt_.backend_retry_ms);
}

void SrtProxy::on_backend(const net::FrameInfo& fi, const net::MacAddr& src_mac,
                          const srt::Handshake& hs, uint64_t now) {
  auto it = by_leg_.find(LegKey{fi.dst, fi.dport});
  if (it == by_leg_.end() || it->second->backend_ip != fi.src ||
      it->second->backend_port != fi.sport) {
    counters_.stray_backend.add();
    return;
  }
  Attempt& a = *it->second;
  if (auto reason = srt::reject_reason_for_handshake_type(hs.type)) {
    if (a.state == State::kInduction || a.state == State::kConclusion) {
      counters_.backend_rejected.add();
      reject(a, RejectReason::kBackend, *reason, "origin rejected");
    }
    return;
  }
  if (a.state == State::kInduction && hs.type == srt::HandshakeType::kInduction) {
    a.backend_cookie = hs.cookie;
    a.state = State::kConclusion;
    send_backend_conclusion(a);
    return;
  }
  if (a.state == State::kConclusion && hs.type == srt::HandshakeType::kConclusion) {
    a.answer_ts = hs.timestamp;
    a.answer_rx = now;
    established(a, hs, src_mac);
    return;
  }
  counters_.stray_backend.add();  // duplicates of answers we already used
}

void SrtProxy::established(Attempt& a, const srt::Handshake& backend_answer,
                           const net::MacAddr& backend_mac) {
  a.state = State::kInstalling;
  // The caller gets the backend's answer under our cookie, with its own
  // address as we see it.
  srt::Handshake r = backend_answer;
  r.cookie = a.conclusion->cookie;
  r.peer_ip = peer_wire(a.caller.ip);
  r.dest_socket_id = a.caller.socket_id;
  auto answer = srt::serialize(r);

  SessionRequest req;
  req.caller_port_id = a.caller_port_id;
  req.caller_ip = a.caller.ip;
  req.caller_udp = a.caller.port;
  req.vip = a.vip;
  req.vip_udp = a.vip_port;
  req.caller_mac = a.caller_mac;
  req.backend_ip = a.backend_ip;
  req.backend_udp = a.backend_port;
  req.leg_ip = a.leg_ip;
  req.leg_udp = a.leg_port;
  req.backend_mac = backend_mac;
  if (auto rt = env_.route(a.backend_ip)) req.backend_port_id = rt->port;
  req.caller_socket_id = a.caller.socket_id;
  req.backend_socket_id = backend_answer.socket_id;
  const CallerKey key = a.caller;
  const uint64_t id = a.id;
  env_.install_session(req, [this, key, id, answer = std::move(answer)](std::optional<uint32_t> s,
                                                                        InstallStatus st) mutable {
    auto it = by_caller_.find(key);
    if (it == by_caller_.end() || it->second->id != id || it->second->state != State::kInstalling) {
      // The attempt ended while the install waited for a next hop (its leg
      // port is free again): the session must not outlive it.
      if (s) env_.end_session(*s, EndReason::kAdmin);
      return;
    }
    Attempt& at = *it->second;
    if (!s) {
      reject(at, RejectReason::kOverload, srt::kRejXOverload,
             std::string("session not installed: ") + to_string(st));
      return;
    }
    at.state = State::kEstablished;
    at.session = *s;
    by_session_[*s] = &at;
    at.answer = std::move(answer);
    at.conclusion.reset();  // the cache needs only the answer
    active_.erase(&at);
    source_handshake_over(at);
    counters_.established.add();
    // Per session: debug. At tens of thousands of sessions a second an info
    // line each cost about 4 us of control-lcore time; counters tell the rate.
    if (spdlog::should_log(spdlog::level::debug))  // to_string() arguments cost even unlogged
      spdlog::debug("session {}: {}:{} -> {} on {}:{} (leg {}:{}, origin {})", *s,
                    at.caller.ip.to_string(), at.caller.port, at.url, at.backend_ip.to_string(),
                    at.backend_port, at.leg_ip.to_string(), at.leg_port, at.server_key);
    answer_caller(at);
  });
}

std::vector<SessionStream> SrtProxy::session_streams() const {
  std::vector<SessionStream> out;
  out.reserve(by_session_.size());
  for (const auto& [session, a] : by_session_)
    out.push_back({session, a->url, a->mode, a->server_key});
  return out;
}

std::optional<SessionStream> SrtProxy::session_stream(uint32_t session) const {
  const auto it = by_session_.find(session);
  if (it == by_session_.end()) return std::nullopt;
  const Attempt& a = *it->second;
  return SessionStream{session, a.url, a.mode, a.server_key};
}

void SrtProxy::reject(Attempt& a, RejectReason label, uint32_t reason, const std::string& why) {
  counters_.rejected_by[static_cast<size_t>(label)].add();
  uint64_t left_out = 0;
  if (reject_log_.allow(&left_out))
    spdlog::info("caller {}:{} stream {} rejected {} ({}): {}{}", a.caller.ip.to_string(),
                 a.caller.port, a.url, reason, srt::reject_name(reason), why,
                 suppressed_note(left_out));
  if (a.conclusion) {
    const auto r =
        srt::make_rejection(*a.conclusion, reason, peer_wire(a.caller.ip), a.conclusion->timestamp);
    a.answer = srt::serialize(r);
    a.conclusion.reset();
  }
  // A stream claimed for this caller on an origin that did not take it
  // (silent, refused, unroutable): the claim goes, so the stream's next
  // caller is not sent there.
  if (a.claim != 0) balancer_.unclaim(a.url, a.server_key, std::exchange(a.claim, 0));
  free_leg(a);
  a.state = State::kRejected;
  active_.erase(&a);
  source_release(a);
  a.forget_at = env_.now() + env_.ms_to_tsc(kRejectedCacheMs);
  rejected_.push_back(a.caller);
  if (!a.answer.empty()) answer_caller(a);
}

void SrtProxy::erase(const CallerKey& k) {
  auto it = by_caller_.find(k);
  if (it == by_caller_.end()) return;
  free_leg(*it->second);
  active_.erase(it->second.get());
  source_release(*it->second);
  if (it->second->state == State::kEstablished) {
    const auto s = by_session_.find(it->second->session);
    if (s != by_session_.end() && s->second == it->second.get()) by_session_.erase(s);
  }
  by_caller_.erase(it);
}

void SrtProxy::source_handshake_over(Attempt& a) {
  if (a.counts_handshake) limits_.end_handshake(a.source_slot);
  a.counts_handshake = false;
}

void SrtProxy::source_release(Attempt& a) {
  source_handshake_over(a);
  if (a.counts_session) limits_.end_session(a.source_slot);
  a.counts_session = false;
}

void SrtProxy::on_session_end(const net::IpAddr& caller_ip, uint16_t caller_udp,
                              uint32_t caller_socket_id, const net::IpAddr& leg_ip,
                              uint16_t leg_udp) {
  const CallerKey k{caller_ip, caller_udp, caller_socket_id};
  // Only the attempt that owns this session (same leg): a session ended
  // because its attempt was already gone must not take a newer attempt of
  // the same caller socket with it.
  auto it = by_caller_.find(k);
  if (it == by_caller_.end() || it->second->state != State::kEstablished ||
      it->second->leg_ip != leg_ip || it->second->leg_port != leg_udp)
    return;
  // The stream's mapping stays while its origin lives: a publisher that
  // reconnects goes back to the players waiting there.
  erase(k);
}

void SrtProxy::use_cookie_secret_file(const std::string& path, uint64_t wall_s, uint64_t now) {
  try {
    cookies_ = srt::SynCookieJar(srt::read_cookie_secret(path), opt_.cookie_bucket_s);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("srt.cookie_secret_file: ") + e.what());
  }
  cookie_secret_file_ = path;
  // Whoever reads the secret can make cookies for any address: spoofed
  // CONCLUSIONs get through again.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    spdlog::warn("srt.cookie_secret_file {} is readable by group or others (mode {:o}): chmod 600",
                 path, st.st_mode & 0777);
  // Unsigned wrap-around: now / hz_ + offset gives wall_s back exactly.
  cookie_offset_s_ = wall_s - now / hz_;
  spdlog::info("SYN cookies: the shared secret of {} (wall clock, {} s buckets)", path,
               cookies_.bucket_seconds());
}

bool SrtProxy::reload_cookie_secret(uint64_t now) {
  if (cookie_secret_file_.empty()) return false;
  srt::SipHashKey next;
  try {
    next = srt::read_cookie_secret(cookie_secret_file_);
  } catch (const std::exception& e) {
    counters_.cookie_secret_failures.add();
    spdlog::error(
        "SIGHUP: srt.cookie_secret_file not reloaded, the running secret stays (fix the file "
        "and send SIGHUP again): {}",
        e.what());
    return false;
  }
  if (cookies_.rotate(next, cookie_seconds(now))) {
    counters_.cookie_secret_rotations.add();
    spdlog::info(
        "SIGHUP: srt.cookie_secret_file {}: new secret; cookies of the previous one verify for "
        "{} s more",
        cookie_secret_file_,
        2 * cookies_.bucket_seconds() - cookie_seconds(now) % cookies_.bucket_seconds());
  } else {
    spdlog::info("SIGHUP: srt.cookie_secret_file {}: secret unchanged", cookie_secret_file_);
  }
  next.fill(0);
  return true;
}

void SrtProxy::on_caller_moved(const net::IpAddr& old_ip, uint16_t old_udp,
                               uint32_t caller_socket_id, const net::IpAddr& new_ip,
                               uint16_t new_udp, const net::MacAddr& new_mac,
                               uint16_t new_port_id) {
  const CallerKey old_key{old_ip, old_udp, caller_socket_id};
  const CallerKey new_key{new_ip, new_udp, caller_socket_id};
  auto it = by_caller_.find(old_key);
  if (it == by_caller_.end() || it->second->state != State::kEstablished) return;
  // Whatever the new 4-tuple left here (a cached rejection of the same
  // socket) is older than this session.
  if (by_caller_.count(new_key) != 0) erase(new_key);
  it = by_caller_.find(old_key);
  auto node = by_caller_.extract(it);
  node.key() = new_key;
  Attempt& a = *node.mapped();
  a.caller = new_key;
  a.caller_mac = new_mac;
  a.caller_port_id = new_port_id;
  by_caller_.insert(std::move(node));
}

void SrtProxy::on_tick(uint64_t now) {
  balancer_.poll(now_ms(now));
  cookies_.forget_expired(cookie_seconds(now));
  counters_.in_flight.set(active_.size());
  counters_.tracked.set(by_caller_.size());
  counters_.legs_in_use.set(by_leg_.size());
  const BalancerStats bs = balancer_.stats();
  counters_.balancer_master_switches.set(bs.master_switches);
  counters_.balancer_sentinel_errors.set(bs.sentinel_errors);
  // Retransmit to backends and give up on the silent ones. Collect first:
  // reject() changes active_.
  std::vector<Attempt*> due;
  // kInstalling has no deadline here: install_session always calls back
  // (installed, or kUnresolved), and rejecting meanwhile would send the caller
  // a rejection and free the leg of a session about to go live.
  for (Attempt* a : active_) {
    if (a->state == State::kInstalling) continue;
    if (now >= a->deadline ||
        ((a->state == State::kInduction || a->state == State::kConclusion) && now >= a->next_retry))
      due.push_back(a);
  }
  for (Attempt* a : due) {
    if (now >= a->deadline) {
      if (a->state == State::kHooking) {
        counters_.hook_timeouts.add();
        hook_failed(*a, std::string(a->mode != srt::Mode::Request ? "on_publish" : "on_play") +
                            " hook did not answer within [hooks] timeout_ms");
      } else if (a->state == State::kPicking)
        reject(*a, RejectReason::kDown, srt::kRejXDown, "balancer did not answer");
      else
        reject(*a, RejectReason::kGateway, srt::kRejXGw,
               "origin " + a->backend_ip.to_string() + ":" + std::to_string(a->backend_port) +
                   " did not answer");
      continue;
    }
    counters_.backend_retries.add();
    if (a->state == State::kInduction)
      send_backend_induction(*a);
    else
      send_backend_conclusion(*a);
  }
  while (!rejected_.empty()) {
    auto it = by_caller_.find(rejected_.front());
    if (it != by_caller_.end() && it->second->state == State::kRejected) {
      if (now < it->second->forget_at) break;
      by_caller_.erase(it);
    }
    rejected_.pop_front();
  }
}

}  // namespace srtfwd::control

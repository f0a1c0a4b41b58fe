// The SRT handshake through the forwarder (docs/architecture.md, "A handshake's
// path"):
//
//   caller INDUCTION   -> answered at once with a SYN cookie, no state kept
//   caller CONCLUSION  -> cookie verified, stream ID read, backend picked
//                         (balancer, asynchronous), leg port allocated, then
//                         INDUCTION and CONCLUSION run with the backend from
//                         that leg, retransmitted every backend_retry_ms
//   backend response   -> session installed, the caller answered with the
//                         backend's CONCLUSION (its socket ID, its HSRSP and
//                         KMRSP) under our cookie; that answer is cached for
//                         the caller's retransmissions
//
// Anything that cannot be served is rejected at once with a reason the caller
// reads with srt_getrejectreason():
//   stream ID missing or unparsable  1400 BAD_REQUEST
//   no live origin has the stream    1404 NOTFOUND  (a player of an unknown stream,
//                                         with [balancer] unknown_stream_players = "reject")
//   backend did not answer in time   1502 GW
//   no route / no address of the     1502 GW    (before the origin is contacted; the
//     origin's family on our side               caller's family may differ: translated)
//   too many handshakes / no leg     1402 OVERLOAD
//   source not in [limits] allow,    1403 FORBIDDEN (at INDUCTION, and again at CONCLUSION)
//     or in deny
//   source over its handshake cap    1402 OVERLOAD (at INDUCTION, and again at CONCLUSION)
//   source over its session cap      1402 OVERLOAD
//   [hooks] on_publish / on_play     1403 FORBIDDEN (before any origin is contacted)
//     refused the caller
//   the hook failed or timed out     1503 DOWN      (on_error = "reject"; "allow" lets it in)
//   hook calls at max_in_flight      1402 OVERLOAD
//   draining, balancer store down    1503 DOWN
//   HSv4-only caller                 8    SRT_REJ_VERSION
//   rendezvous handshake             1405 BAD_MODE  (a listener never does rendezvous)
//   bonding (GROUP extension)        15   SRT_REJ_GROUP (groups need the origin to see
//                                         every member link, which a per-link relay hides)
//   the backend's own rejection      relayed unchanged
// A source over its INDUCTION rate gets no answer at all (counted as
// dropped): a flood is not answered packet for packet.
// A CONCLUSION whose cookie is neither the current nor the previous bucket's
// is ignored, as libsrt's listener does: it proves nothing about its source.
//
// SrtProxy reaches the control plane only through a HandshakeEnv and needs no
// DPDK header: ControlPlaneHost (control_plane_host.h) feeds it the control
// plane's packets, ticks and session ends; unit tests and the fuzzer drive it
// in memory.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "srtfwd/control/balancer.h"
#include "srtfwd/control/handshake_env.h"
#include "srtfwd/control/log_limiter.h"
#include "srtfwd/control/source_limits.h"
#include "srtfwd/dataplane/counters.h"
#include "srtfwd/net/parse.h"
#include "srtfwd/srt/handshake.h"
#include "srtfwd/srt/syn_cookie.h"

namespace srtfwd::control {

// Why we rejected a caller: the `reason` label of srtfwd_srt_rejected_total
// and the exit JSON's srt.rejected_<name>, with the code the caller reads
// (0: the origin's own code, relayed).
enum class RejectReason : uint8_t {
  kBadRequest,  // stream ID missing or unparsable
  kNotFound,    // no live origin has the stream
  kGateway,     // the origin did not answer in time
  kOverload,    // too many handshakes, no leg port, install failed
  kDown,        // draining, balancer store down
  kVersion,     // HSv4-only caller
  kBadMode,     // rendezvous
  kGroup,       // bonding
  kBackend,     // the origin's own rejection, relayed
  kNoRoute,     // no route or no address of the origin's family on our side
  // [limits]: the source is not allowed, or is over its handshake or session cap.
  kSourceDenied,
  kSourceHandshakes,
  kSourceSessions,
  // [hooks]: refused by the hook, the hook failed (on_error = "reject"), too
  // many hook calls out.
  kForbidden,
  kHookDown,
  kHookBusy,
  kCount
};

struct RejectReasonInfo {
  std::string_view name;
  uint32_t code;
};
inline constexpr std::array<RejectReasonInfo, static_cast<size_t>(RejectReason::kCount)>
    kRejectReasons = {{
        {"bad_request", 1400},
        {"not_found", 1404},
        {"gateway", 1502},
        {"overload", 1402},
        {"down", 1503},
        {"version", 8},
        {"bad_mode", 1405},
        {"group", 15},
        {"backend", 0},
        {"no_route", 1502},
        {"source_denied", 1403},
        {"source_handshakes", 1402},
        {"source_sessions", 1402},
        {"forbidden", 1403},
        {"hook_down", 1503},
        {"hook_busy", 1402},
    }};
static_assert(!kRejectReasons.back().name.empty(), "a RejectReason has no name");

inline constexpr std::string_view to_string(RejectReason r) noexcept {
  return kRejectReasons[static_cast<size_t>(r)].name;
}
inline constexpr uint32_t reject_code(RejectReason r) noexcept {
  return kRejectReasons[static_cast<size_t>(r)].code;
}

struct SrtProxyCounters {
  dataplane::Counter inductions;      // answered with a cookie
  dataplane::Counter conclusions;     // with a valid cookie
  dataplane::Counter bad_cookie;      // ignored
  dataplane::Counter malformed;       // not a parsable handshake
  dataplane::Counter not_handshake;   // other SRT packets with no session
  dataplane::Counter cached_answers;  // retransmitted CONCLUSION answered from cache
  dataplane::Counter
      in_progress_ignored;  // retransmitted CONCLUSION while the backend handshake runs
  dataplane::Counter backend_retries;
  dataplane::Counter established;
  dataplane::Counter backend_rejected;    // relayed rejections of an origin
  dataplane::Counter stray_backend;       // backend packets for no handshake
  dataplane::Counter dropped_inductions;  // over the source's INDUCTION rate: no answer
  // [srt] cookie_secret_file re-read on SIGHUP: a new secret taken (the
  // previous one verifies one cookie lifetime more), or the file refused and
  // the running secret kept.
  dataplane::Counter cookie_secret_rotations, cookie_secret_failures;
  // [hooks]: calls made, and how each ended (late: an answer after the
  // caller's deadline or end, ignored); overflow: no room to make one.
  dataplane::Counter hook_calls, hook_allowed, hook_denied, hook_errors, hook_timeouts, hook_late,
      hook_overflow;
  // Levels published every tick for the admin thread (gauges).
  dataplane::Counter in_flight, tracked, legs_in_use;
  // The balancer's own counts (BalancerStats), copied every tick.
  dataplane::Counter balancer_master_switches, balancer_sentinel_errors;
  // Rejections we sent, by reason.
  std::array<dataplane::Counter, static_cast<size_t>(RejectReason::kCount)> rejected_by;

  const dataplane::Counter& rejected_for(RejectReason r) const noexcept {
    return rejected_by[static_cast<size_t>(r)];
  }
  // Every rejection we sent: each is counted under exactly one reason.
  uint64_t rejected_total() const noexcept {
    uint64_t n = 0;
    for (const auto& c : rejected_by) n += c.get();
    return n;
  }
};

// An established session's stream, as the control plane knew it at install:
// kept here, beside the handshake state, never in the data path's records.
struct SessionStream {
  uint32_t session = 0;  // the session table index
  std::string url;       // the stream URL the balancer picked for
  srt::Mode mode = srt::Mode::Request;
  std::string server_key;  // the origin's key (srs-proxy-server:...)
};

class SrtProxy {
 public:
  SrtProxy(HandshakeEnv& env, Balancer& balancer);
  ~SrtProxy();

  // A UDP datagram to us that no session took: fi describes its frame,
  // src_mac is the frame's source and port_id the port it came in on.
  void on_datagram(const net::FrameInfo& fi, const net::MacAddr& src_mac, uint16_t port_id,
                   std::span<const uint8_t> payload, uint64_t now);
  void on_tick(uint64_t now);
  // A session ended (any reason), identified by its caller socket and leg.
  void on_session_end(const net::IpAddr& caller_ip, uint16_t caller_udp, uint32_t caller_socket_id,
                      const net::IpAddr& leg_ip, uint16_t leg_udp);

  // [srt] cookie_secret_file, at start-up: the fleet's secret replaces the
  // random one, and cookies take their time from the wall clock (wall_s, the
  // seconds since the epoch at TSC `now`), which the hosts share where their
  // TSCs do not. Throws std::runtime_error naming the key when the file is bad.
  void use_cookie_secret_file(const std::string& path, uint64_t wall_s, uint64_t now);
  // SIGHUP: re-reads that file. A new secret rotates in; the same one changes
  // nothing; a bad file keeps the running secret. Logged and counted; false
  // when the file was refused (or none is configured).
  bool reload_cookie_secret(uint64_t now);
  // The cookies' clock: seconds, the wall clock's with a shared secret.
  uint64_t cookie_seconds(uint64_t now) const { return now / hz_ + cookie_offset_s_; }
  // A session's caller moved to a new address and port (its NAT rebound it,
  // control/rebinding.h): its handshake state follows, so that the
  // session's end finds it and a retransmitted CONCLUSION from the new
  // 4-tuple gets the cached answer.
  void on_caller_moved(const net::IpAddr& old_ip, uint16_t old_udp, uint32_t caller_socket_id,
                       const net::IpAddr& new_ip, uint16_t new_udp, const net::MacAddr& new_mac,
                       uint16_t new_port_id);

  // New callers are rejected with 1503 while draining.
  void set_draining(bool d) { draining_ = d; }
  // Handshakes running with a backend (or waiting for the balancer).
  size_t in_flight() const { return active_.size(); }
  // Handshake state kept for any reason (in flight, established, rejected).
  size_t tracked() const { return by_caller_.size(); }
  size_t legs_in_use() const { return by_leg_.size(); }
  const SrtProxyCounters& counters() const { return counters_; }
  // Every established session's stream (for the admin API; O(sessions)).
  std::vector<SessionStream> session_streams() const;
  // The stream of the established session at this session table index.
  std::optional<SessionStream> session_stream(uint32_t session) const;

 private:
  // Rejection lines: at most 20 a second, then a count of those left out.
  LogLimiter reject_log_{20};
  struct CallerKey {
    net::IpAddr ip;
    uint16_t port = 0;
    uint32_t socket_id = 0;
    bool operator==(const CallerKey&) const = default;
  };
  struct CallerKeyHash {
    size_t operator()(const CallerKey& k) const noexcept {
      return net::IpAddrHash{}(k.ip) ^ (size_t{k.port} << 32) ^ k.socket_id * 0x9E3779B97F4A7C15ull;
    }
  };
  struct LegKey {
    net::IpAddr ip;
    uint16_t port = 0;
    bool operator==(const LegKey&) const = default;
  };
  struct LegKeyHash {
    size_t operator()(const LegKey& k) const noexcept {
      return net::IpAddrHash{}(k.ip) ^ (size_t{k.port} * 0x9E3779B97F4A7C15ull);
    }
  };
  enum class State : uint8_t {
    kHooking,
    kPicking,
    kInduction,
    kConclusion,
    kInstalling,
    kEstablished,
    kRejected
  };

  struct Attempt {
    uint64_t id = 0;
    State state = State::kPicking;
    CallerKey caller;
    uint16_t caller_port_id = 0;  // DPDK port the caller came in on
    net::MacAddr caller_mac;      // its frame's source: our next hop back
    net::IpAddr vip;
    uint16_t vip_port = 0;
    std::unique_ptr<srt::Handshake> conclusion;  // the caller's; dropped once answered
    uint64_t conclusion_rx = 0;  // TSC when that CONCLUSION arrived (ages its timestamp)
    std::string url;
    srt::Mode mode = srt::Mode::Request;
    net::IpAddr backend_ip, leg_ip;
    uint16_t backend_port = 0, leg_port = 0;
    std::string server_key;
    uint64_t claim = 0;  // the pick created the stream's mapping (Pick::claim)
    uint32_t backend_cookie = 0;
    uint64_t next_retry = 0, deadline = 0;
    std::vector<uint8_t> answer;  // cached answer to the caller
    // The backend's CONCLUSION timestamp and the TSC it arrived at: every send
    // of the answer carries it aged by the time since (0: not a CONCLUSION).
    uint32_t answer_ts = 0;
    uint64_t answer_rx = 0;
    uint64_t forget_at = 0;  // kRejected: drop the cache then
    // Its source's slot in limits_, and what it counts there: a handshake
    // until it is established or ends, a session until it ends.
    uint32_t source_slot = 0;
    bool counts_handshake = false, counts_session = false;
    uint32_t session = 0;  // kEstablished: its session table index
  };

  void on_caller(const net::FrameInfo& fi, const net::MacAddr& mac, uint16_t port_id,
                 const srt::Handshake& hs, uint64_t now);
  void on_backend(const net::FrameInfo& fi, const net::MacAddr& src_mac, const srt::Handshake& hs,
                  uint64_t now);
  void start_hook(Attempt& a, const srt::StreamId& id, const std::string& sid, uint64_t now);
  void on_hook(uint64_t id, const CallerKey& key, HookVerdict v, const std::string& detail);
  void hook_failed(Attempt& a, const std::string& why);
  void start_pick(Attempt& a, uint64_t now);
  void on_pick(uint64_t id, const CallerKey& key, const Pick& pick, uint64_t now);
  void send_backend_induction(Attempt& a);
  void send_backend_conclusion(Attempt& a);
  void established(Attempt& a, const srt::Handshake& backend_answer,
                   const net::MacAddr& backend_mac);
  void reject(Attempt& a, RejectReason label, uint32_t reason, const std::string& why);
  void reject_stateless(const net::FrameInfo& fi, const net::MacAddr& mac, uint16_t port_id,
                        const srt::Handshake& hs, RejectReason r, const char* why);
  void answer_caller(Attempt& a);
  uint32_t aged(uint32_t timestamp, uint64_t since_tsc) const;
  bool send_to_caller(const net::IpAddr& vip, uint16_t vip_port, const net::IpAddr& ip,
                      uint16_t port, const net::MacAddr& mac, uint16_t port_id,
                      std::span<const uint8_t> bytes);
  void send_to_backend(const Attempt& a, const srt::Handshake& hs);
  bool alloc_leg(Attempt& a);
  void free_leg(Attempt& a);
  void erase(const CallerKey& k);
  // The source's counts in limits_ drop as the attempt's handshake ends
  // (established or not) and as the attempt ends.
  void source_handshake_over(Attempt& a);
  void source_release(Attempt& a);
  bool is_listen_port(uint16_t p) const;
  uint64_t now_ms(uint64_t tsc) const { return tsc / (hz_ / 1000); }
  std::array<uint8_t, 16> peer_wire(const net::IpAddr& ip) const;

  HandshakeEnv& env_;
  Balancer& balancer_;
  const Options& opt_;
  uint64_t hz_;
  srt::SynCookieJar cookies_;
  std::string cookie_secret_file_;
  // Added to the TSC's seconds: 0 with a random secret (only this process
  // checks its cookies), the wall clock's offset with a shared one.
  uint64_t cookie_offset_s_ = 0;
  SourceLimits limits_;
  bool draining_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<CallerKey, std::unique_ptr<Attempt>, CallerKeyHash> by_caller_;
  std::unordered_map<LegKey, Attempt*, LegKeyHash> by_leg_;
  std::unordered_map<uint32_t, const Attempt*> by_session_;  // kEstablished, by session index
  std::unordered_set<Attempt*> active_;  // in flight: retried and timed out on tick
  std::deque<CallerKey> rejected_;       // cached rejections, oldest first
  std::unordered_map<net::IpAddr, std::deque<uint16_t>, net::IpAddrHash> leg_free_;
  SrtProxyCounters counters_;
  uint64_t next_balancer_poll_ = 0;
};

}  // namespace srtfwd::control

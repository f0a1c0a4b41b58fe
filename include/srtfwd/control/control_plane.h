// The control lcore: everything that is not the fast path.
//
//  - answers ARP and NDP for our addresses and ICMP/ICMPv6 echo to them,
//    resolves next hops (Neighbours), and sends its own packets;
//  - installs sessions through a narrow internal API (install_session), which
//    the SRT handshake code calls, and tests and benchmarks too;
//  - ends sessions on SHUTDOWN (after a short grace, so the forwarded
//    SHUTDOWN leaves first) and on idle timeout, by sweeping a slice of the
//    table per tick (no timer per session);
//  - hands SRT packets that no session took to a SrtHandler (the handshake
//    state machine).
// Single-threaded: every method runs on the control lcore. The admin thread
// reads counters only.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "srtfwd/control/handshake_env.h"
#include "srtfwd/control/log_limiter.h"
#include "srtfwd/control/neighbours.h"
#include "srtfwd/control/options.h"
#include "srtfwd/control/rebinding.h"
#include "srtfwd/dataplane/dataplane.h"
#include "srtfwd/net/parse.h"

struct rte_mbuf;

namespace srtfwd::control {

// What the control lcore did with the slow path. Single writer (control).
struct ControlCounters {
  dataplane::Counter slow_path_packets;
  dataplane::Counter arp_replies_sent;   // we answered a who-has for our address
  dataplane::Counter arp_ignored;        // not for us, malformed
  dataplane::Counter icmp_echo_replies;  // ICMP and ICMPv6 echo answered
  dataplane::Counter icmp_ignored;       // other ICMP, or not to us
  dataplane::Counter ndp_adverts_sent;
  dataplane::Counter ndp_ignored;
  dataplane::Counter fragments_dropped;   // IP fragments: not reassembled
  dataplane::Counter ip_options_dropped;  // IPv4 options / IPv6 extension headers
  dataplane::Counter srt_unhandled;       // SRT packets with no handler
  dataplane::Counter sessions_installed;
  dataplane::Counter install_failed;
  std::array<dataplane::Counter, static_cast<size_t>(EndReason::kCount)> sessions_ended;
  dataplane::Counter events_stale;  // event for a session already gone
  dataplane::Counter alloc_failed;  // no mbuf for a packet control meant to send
  // SRT packets of no session that are not handshakes, through the workers'
  // miss gate (dataplane/miss_gate.h); each is forwarded (a feature found
  // its session) or dropped: missed_packets == missed_forwarded + missed_dropped.
  dataplane::Counter missed_packets;
  dataplane::Counter missed_forwarded;
  dataplane::Counter missed_dropped;
  // [srt] follow_rebinding (control/rebinding.h): sessions moved to their
  // caller's new 4-tuple, moves refused by reason, and moves the session
  // table could not make (the new 4-tuple a session's, or no slot).
  dataplane::Counter rebinds;
  std::array<dataplane::Counter, static_cast<size_t>(RebindRefusal::kCount)> rebind_refused;
  dataplane::Counter rebind_failed;
  // The session directory and the second chance (control/directory.h).
  dataplane::Counter directory_writes;       // entries written (installs and refreshes)
  dataplane::Counter directory_deletes;      // entries of ended sessions deleted
  dataplane::Counter directory_batches;      // commands those took (many keys each)
  dataplane::Counter directory_errors;       // commands not sent (Redis down) or failed
  dataplane::Counter second_chance_lookups;  // directory reads for flows with no session here
  dataplane::Counter
      second_chance_pending;  // packets dropped while their flow's owner was looked up
  dataplane::Counter second_chance_unknown;   // packets dropped: no other host owns their flow
  dataplane::Counter second_chance_overload;  // packets dropped: too many lookups or hops
  dataplane::Counter hops_installed;          // hop entries put in the flow table
  dataplane::Counter hops_ended;              // removed: idle, owner changed or gone
  dataplane::Counter hop_failed;              // an owner with no route, or no room in the table
};

// Takes the SRT packets of no session, not handshakes, that the workers'
// miss gate hands to the control lcore and no other feature took (the
// second chance between hosts). Owns m.
class MissedHandler {
 public:
  virtual ~MissedHandler() = default;
  virtual void on_missed(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now) = 0;
};

// Told of every session installed and ended (the session directory).
class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  virtual void on_session_installed(const dataplane::Session& s) = 0;
  // Before the session's keys leave the table.
  virtual void on_session_ended(const dataplane::Session& s) = 0;
};

// The SRT handshake state machine plugs in here.
class SrtHandler {
 public:
  virtual ~SrtHandler() = default;
  // A UDP packet addressed to us that no session took (handshakes). Owns m.
  virtual void on_packet(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now) = 0;
  virtual void on_tick(uint64_t /*now*/) {}
  virtual void on_session_end(dataplane::Session& /*s*/, EndReason /*why*/) {}
  // The session's caller side moved (caller NAT rebinding): s.spec holds
  // the new caller address and port, these the old.
  virtual void on_caller_moved(dataplane::Session& /*s*/, const net::IpAddr& /*old_ip*/,
                               uint16_t /*old_udp*/) {}
};

class ControlPlane {
 public:
  ControlPlane(dataplane::Dataplane& dp, const Options& opt);
  ~ControlPlane();

  // The control lcore's loop, until stop is set.
  void run(const std::atomic<bool>& stop);
  // One iteration (tests): slow path, events, and the timer work if due.
  unsigned poll_once(uint64_t now);

  void set_srt_handler(SrtHandler* h) { handler_ = h; }
  void set_session_observer(SessionObserver* o) { observer_ = o; }
  void set_missed_handler(MissedHandler* h) { missed_handler_ = h; }
  // Runs fn on the control lcore every period_ms (admin snapshots, ...).
  void add_timer(uint32_t period_ms, std::function<void(uint64_t now)> fn);

  // ---- the internal API ----
  using InstallDone = std::function<void(dataplane::Session*, InstallStatus)>;
  // Installs now if both next hops are known, else once they resolve (or
  // fails with kUnresolved). done runs on the control lcore, maybe before
  // this returns.
  void install_session(const SessionRequest& req, InstallDone done);
  void end_session(dataplane::Session& s, EndReason why);
  std::optional<Route> route(const net::IpAddr& dst) const;
  // Why route(dst) found none, for a log line: names the missing address
  // ("no IPv6 address on port 1 to reach origin 2001:2::5") when no port
  // that could reach dst has an address of its family.
  std::string no_route_reason(const net::IpAddr& dst) const;
  // Sends a UDP datagram from one of our addresses (e.g. an SRT handshake);
  // resolves the next hop unless dst_mac is given. False if unroutable or
  // out of mbufs (counted).
  bool send_udp(const net::IpAddr& src, uint16_t sport, const net::IpAddr& dst, uint16_t dport,
                std::span<const uint8_t> payload,
                std::optional<net::MacAddr> dst_mac = std::nullopt,
                std::optional<uint16_t> port_hint = std::nullopt);
  Neighbours& neighbours() { return neighbours_; }
  dataplane::Dataplane& dataplane() { return dp_; }
  const Options& options() const { return opt_; }
  // A config reload (SIGHUP), on the control lcore: the sweep applies it to
  // live sessions from its next pass.
  void set_idle_timeout_ms(uint32_t ms) { opt_.idle_timeout_ms = ms; }
  const ControlCounters& counters() const { return counters_; }
  // For the control lcore's own parts that count into ControlCounters (the
  // session directory); single writer, as all of them.
  ControlCounters& plugin_counters() { return counters_; }
  // Read by the admin thread (relaxed counters), as counters().
  const NeighbourCounters& neighbour_counters() const { return neighbours_.counters(); }
  uint64_t tsc_hz() const { return hz_; }
  uint64_t ms_to_tsc(uint64_t ms) const { return hz_ / 1000 * ms; }
  size_t pending_installs() const { return pending_.size(); }
  // Frees everything held (queued packets). Call before the leak check.
  void shutdown();

 private:
  struct Pending {
    SessionRequest req;
    InstallDone done;
    Route caller_route, backend_route;
    uint64_t deadline;
  };
  void handle_slow(rte_mbuf* m, uint64_t now);
  // The one place a missed SRT packet (not a handshake) is decided: a
  // feature that finds its session takes it, else it is dropped, counted.
  void handle_missed(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now);
  // Caller NAT rebinding: true if it took m (forwarded, or dropped and counted).
  bool try_rebind(rte_mbuf* m, net::FrameInfo& fi, uint64_t now);
  // Sends a missed packet as its session's direction d would have; false
  // (m untouched) when control cannot (a translated direction).
  bool forward_missed(rte_mbuf* m, net::FrameInfo& fi, const dataplane::Session& s,
                      dataplane::Direction d);
  bool is_listen_port(uint16_t p) const;
  void handle_arp(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now);
  void handle_icmp4(rte_mbuf* m, const net::FrameInfo& fi);
  void handle_icmp6(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now);
  void handle_event(uint64_t ev, uint64_t now);
  void tick(uint64_t now);
  void sweep(uint64_t now);
  void end_due_shutdowns(uint64_t now);
  void sweep_one(dataplane::Session& s, uint64_t now, uint64_t idle_tsc);
  void try_pending(uint64_t now);
  bool finish_install(Pending& p, const net::MacAddr& caller_mac, const net::MacAddr& backend_mac,
                      uint64_t now);
  void solicit(uint16_t port, const net::IpAddr& ip);
  void transmit(uint16_t port, rte_mbuf* m, const net::MacAddr& dst);
  // ip is the port's own address, or a VIP of it that the port announces
  // (announce_vips): what ARP, NDP and ICMP echo answer for.
  bool is_ours(uint16_t port, const net::IpAddr& ip) const;
  rte_mbuf* alloc();
  void release_spares() noexcept;

  dataplane::Dataplane& dp_;
  Options opt_;
  uint64_t hz_;
  Neighbours neighbours_;
  SrtHandler* handler_ = nullptr;
  SessionObserver* observer_ = nullptr;
  MissedHandler* missed_handler_ = nullptr;
  ControlCounters counters_;
  Rebinding rebinding_;
  LogLimiter rebind_log_{20};
  std::vector<Pending> pending_;
  uint64_t next_tick_ = 0;
  uint32_t sweep_cursor_ = 0;
  // Sessions to end when their SHUTDOWN grace passes, in the order they got
  // it (the grace is one setting, so mostly in due order): ended on the tick
  // they are due, not when the sweep next comes by (up to a pass later),
  // which held leg ports and records for 100-250 ms more under load.
  struct DueEnd {
    uint64_t due_tsc;
    uint32_t index;
  };
  std::deque<DueEnd> shutdown_due_;
  // Spare mbufs for the packets control sends, taken from the pool in bulk:
  // they come back cold from whichever core freed them, and one bulk alloc
  // overlaps those cache misses instead of stalling once per packet. Given
  // back when control idles and at shutdown.
  static constexpr unsigned kSpares = 16;
  rte_mbuf* spares_[kSpares];
  unsigned n_spares_ = 0;
  struct Timer {
    uint64_t period, next;
    std::function<void(uint64_t)> fn;
  };
  std::vector<Timer> timers_;
};

}  // namespace srtfwd::control

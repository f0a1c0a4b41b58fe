// Options of the control lcore: SRT listener, legs, timeouts, routing and the
// balancer. Built once from the config (app/) with these named defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "srtfwd/net/addr.h"

namespace srtfwd::control {

struct PortRoute {
  std::optional<net::IpAddr> gateway4;  // next hop for IPv4 outside the port's prefix
  std::optional<net::IpAddr> gateway6;
};

struct StaticBackend {
  net::IpAddr ip;
  uint16_t srt_port = 10080;
};

struct BalancerOptions {
  std::string type = "memory";  // "memory" or "redis"
  std::string redis_host = "127.0.0.1";
  uint16_t redis_port = 6379;
  std::string redis_password;
  int redis_db = 0;
  std::vector<StaticBackend> backends;
  // An origin whose heartbeat is older than this is not picked (the SRS
  // proxy's server keys live 300 s in Redis).
  uint32_t server_ttl_s = 300;
  // [balancer] unknown_stream_players: "route" (true), as the Go proxy, a
  // player of a stream no live origin hosts claims an origin like a
  // publisher and waits there for the stream; "reject" (false): 1404.
  bool route_unknown_players = true;
  // Put before every Redis key as "{prefix}:" (PROXY_REDIS_KEY_PREFIX); empty:
  // the Go proxy's keys as they are.
  std::string key_prefix;
  // Redis Sentinel ([balancer] sentinels, master_name, sentinel_password):
  // non-empty, the master is whatever these Sentinels name for master_name
  // (redis_host/redis_port unused); redis_password and redis_db apply to it.
  struct Sentinel {
    std::string host;
    uint16_t port = 0;
  };
  std::vector<Sentinel> sentinels;
  std::string master_name;
  std::string sentinel_password;  // the Sentinels' own AUTH
};

// [limits]: who may call, and how much of the listener one source may take.
// A source is an IPv4 address or an IPv6 /64 (one host's share of a
// subnet: a single IPv6 host can send from every address of its /64).
struct LimitsOptions {
  std::vector<net::Prefix> allow;          // non-empty: only these sources (then deny applies)
  std::vector<net::Prefix> deny;           // never these (1403 at INDUCTION)
  uint32_t max_handshakes_per_source = 0;  // handshakes in flight; beyond: 1402. 0: no cap
  uint32_t max_sessions_per_source = 0;    // sessions live or being set up; beyond: 1402. 0: no cap
  uint32_t inductions_per_source_s = 0;  // INDUCTIONs answered a second (burst: as many); 0: no cap
  // Per-source counts live in this many hashed slots (a fixed table, so a
  // flood of spoofed sources costs no memory); sources sharing a slot share
  // its caps.
  uint32_t source_slots = 65536;

  bool per_source() const {
    return max_handshakes_per_source != 0 || max_sessions_per_source != 0 ||
           inductions_per_source_s != 0;
  }
};

// [hooks]: SRS's http_hooks on_publish / on_play, asked before any origin
// is contacted (control/hooks.h).
struct HookOptions {
  std::string on_publish;       // http:// URL; empty: publishers are not checked
  std::string on_play;          // likewise for players
  uint32_t timeout_ms = 500;    // no answer by then: an error (on_error)
  bool allow_on_error = false;  // on_error = "allow": a hook that fails lets callers in
  uint32_t max_in_flight = 64;  // calls queued or running; beyond: 1402
  std::string server_id;        // the body's server_id (default: the host name)

  bool any() const { return !on_publish.empty() || !on_play.empty(); }
};

// [directory]: the session directory in Redis and the second chance between
// hosts behind one ECMP route (control/directory.h). Active with the Redis
// balancer only.
struct DirectoryOptions {
  bool enabled = true;
  // Our data address, the outer destination other hosts send hopped packets
  // to: one of our ports' IPv4 addresses (default: the first).
  std::optional<net::IpAddr> address;
  uint16_t port = 19523;  // UDP port of the encapsulated hop (IP-in-UDP)
  uint32_t ttl_s = 30;    // a directory entry's TTL; live sessions refresh it every ttl_s / 3
  // Who may send us hopped packets; empty: our data address's own subnet.
  std::vector<net::Prefix> peers;
};

// [srt] follow_rebinding: whether a caller that reappears from another
// 4-tuple keeps its session (control/rebinding.h).
enum class FollowRebinding : uint8_t {
  kOff,     // no: its session is lost (no_session), as libsrt's own
  kSameIp,  // when only its source port changed
  kAnyIp,   // from any source address (trusted networks only: see the README)
};

struct Options {
  std::vector<uint16_t> listen_ports{10080};  // UDP ports that accept SRT callers
  uint16_t leg_port_min = 20000;              // our ports toward backends
  uint16_t leg_port_max = 59999;
  uint32_t idle_timeout_ms = 5000;    // no packet either way: session ends
  uint32_t shutdown_grace_ms = 200;   // SHUTDOWN forwarded, then the session ends
  uint32_t backend_retry_ms = 250;    // backend handshake retransmission
  uint32_t backend_timeout_ms = 700;  // then 1502 GW: 3 tries, and the caller hears within 1 s
  uint32_t max_handshakes = 4096;     // in flight; beyond: 1402 OVERLOAD
  uint32_t cookie_bucket_s = 60;      // SYN cookie time bucket
  // The fleet's shared SYN cookie secret (srt/cookie_secret.h); empty: a
  // random secret of this process.
  std::string cookie_secret_file;
  uint32_t drain_timeout_ms = 2000;  // SIGTERM: wait this long for sessions to end
  // Routes a caller without a stream ID, as SRS reads one ("" refuses it
  // with 1400 instead).
  std::string default_streamid = "#!::r=live/livestream,m=publish";
  FollowRebinding follow_rebinding = FollowRebinding::kOff;
  // Rebinds a second over all sessions (the rest refused, reason rate); also
  // each worker's budget of session misses sent to control (the miss gate).
  uint32_t rebinding_per_s = 100;
  // Neighbour resolution (ARP / NDP).
  uint32_t neighbour_retry_ms = 1000;
  uint32_t neighbour_attempts = 3;
  uint32_t neighbour_reachable_ms = 300000;  // re-resolve after this
  uint32_t neighbour_queue = 16;             // packets held per unresolved neighbour
  std::vector<PortRoute> routes;             // per DPDK port, same order as the ports
  BalancerOptions balancer;
  LimitsOptions limits;
  HookOptions hooks;
  DirectoryOptions directory;
};

}  // namespace srtfwd::control

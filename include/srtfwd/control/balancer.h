// Backend choice: which origin server hosts a stream. One interface, two
// implementations: in-process (memory) and shared through Redis in the SRS
// Go proxy's schema (redis). Both run on the control lcore only and never
// block it: pick() answers through a callback, at once (memory) or when Redis
// replies (redis).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "srtfwd/control/options.h"
#include "srtfwd/net/addr.h"
#include "srtfwd/srt/stream_id.h"

struct redisReply;

namespace srtfwd::control {

// An SRS origin as the Go proxy stores it under srs-proxy-server:{key}
// (JSON fields ip, device_id, server_id, service_id, pid, rtmp, http, api,
// srt, rtc, update_at).
struct ServerInfo {
  std::string ip;
  std::string device_id, server_id, service_id, pid;
  std::vector<std::string> rtmp, http, api, srt, rtc;
  std::string update_at;  // as the origin / Go proxy wrote it
  uint64_t seen_ms = 0;   // our steady clock at the last heartbeat (0: static, never expires)

  // "srs-proxy-server:{server_id}-{service_id}-{pid}"
  std::string redis_key() const;
  // The SRT endpoint: srt[0] as "10080", "udp://:10080" or "udp://1.2.3.4:10080"
  // (an explicit address wins over ip). nullopt when absent or malformed.
  std::optional<std::pair<net::IpAddr, uint16_t>> srt_endpoint() const;
};

// JSON exactly as the Go proxy reads and writes it.
std::string to_json(const ServerInfo& s);
// Parses the Go proxy's / the SRS heartbeat's JSON; nullopt with *error set.
std::optional<ServerInfo> server_from_json(const std::string& text, std::string* error);
// Parses the body of POST /api/v1/srs/register (the SRS heartbeat).
std::optional<ServerInfo> server_from_register_body(const std::string& body, std::string* error);
// "udp://1.2.3.4:10080" / "udp://:10080" / "10080" -> (host or "", port)
std::optional<std::pair<std::string, uint16_t>> parse_listen_endpoint(const std::string& s);

// A stream and the key of the origin that hosts it (srs-proxy-url:{url}).
struct StreamMapping {
  std::string url;
  std::string server_key;
};

struct Pick {
  bool ok = false;
  net::IpAddr ip;
  uint16_t port = 0;
  std::string server_key;
  uint32_t reject_reason = 0;  // SRT_REJX_* when !ok
  std::string why;             // for the log
  // Non-zero when this pick created the stream's mapping (a claim): if the
  // caller's leg to the origin then fails, Balancer::unclaim() undoes it, so
  // the next caller is not sent to an origin that never took the stream.
  uint64_t claim = 0;
};

// What the Redis balancer counts about its store, copied into the SRT
// proxy's counters every tick (the memory balancer has none).
struct BalancerStats {
  uint64_t master_switches = 0;  // connected to another master than the last one (Sentinel)
  uint64_t sentinel_errors = 0;  // a Sentinel unreachable, or without an answer for the master
};

class Balancer {
 public:
  using Done = std::function<void(const Pick&)>;
  virtual ~Balancer() = default;
  // Chooses the origin for stream_url. A caller of a stream no live origin
  // hosts claims it on one (atomically, shared by every proxy on the same
  // store): a publisher (or bidirectional) always, a player too unless
  // unknown_stream_players is "reject" (then 1404). A caller of a mapped
  // stream goes where it is. A mapping lasts as long as its origin: a
  // reconnecting publisher finds the players that wait for it. done may run
  // before pick() returns. now_ms is the control lcore's steady clock.
  virtual void pick(const std::string& stream_url, srt::Mode mode, uint64_t now_ms, Done done) = 0;
  // The leg of a pick with a claim failed (the origin did not answer or
  // refused): the mapping goes back to what it was, unless it has changed
  // since (another caller's newer claim stays).
  virtual void unclaim(const std::string& stream_url, const std::string& server_key,
                       uint64_t claim) = 0;
  // An origin's heartbeat (POST /api/v1/srs/register), on the control lcore.
  virtual void register_server(const ServerInfo& s, uint64_t now_ms) = 0;
  // Replaces the static [[backend]] origins (a config reload). The memory
  // balancer's only; the Redis one takes its origins from Redis.
  virtual void set_static_backends(const std::vector<StaticBackend>& /*backends*/) {}
  // Drives I/O, refreshes, expiry. Called every control tick.
  virtual void poll(uint64_t /*now_ms*/) {}
  // Live servers, for the admin API.
  virtual std::vector<ServerInfo> servers(uint64_t now_ms) const = 0;
  // The stream -> origin mappings this process holds, for the admin API.
  // The Redis balancer keeps none (they are in Redis): empty.
  virtual std::vector<StreamMapping> streams() const { return {}; }
  // "memory", "redis connected", "redis down (...)": for logs and the API.
  virtual std::string state() const = 0;
  // Picks not answered yet (Redis round trips).
  virtual size_t in_flight() const { return 0; }
  // A command on the Redis balancer's connection for another part of the
  // control lcore (the session directory), so that one connection, its
  // reconnection and its stuck-command watch serve both. False, and cb never
  // runs, when the link is not up (and always for the memory balancer);
  // cb(nullptr) when the connection died before the reply.
  using RawReply = std::function<void(const redisReply*)>;
  virtual bool redis_command(const std::vector<std::string>& /*args*/, RawReply /*cb*/) {
    return false;
  }
  virtual BalancerStats stats() const { return {}; }
};

// The in-process balancer: static [[backend]] entries plus registered
// servers; stream stickiness in this process only.
std::unique_ptr<Balancer> make_memory_balancer(const BalancerOptions& opt);
// The Redis balancer (hiredis async, driven from poll()).
std::unique_ptr<Balancer> make_redis_balancer(const BalancerOptions& opt);

}  // namespace srtfwd::control

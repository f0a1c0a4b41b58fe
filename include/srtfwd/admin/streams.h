// Where streams are: GET /api/v1/streams and GET /api/v1/origins.
//
// The mappings (stream -> origin key) and the origins come from where the
// balancer keeps them: the control lcore's table in memory mode (through
// the AdminBridge snapshot), Redis itself in redis mode, read by the admin
// thread on its own short-lived connection, so that streams and origins of
// every srtfwd host and Go proxy on that Redis show. The publisher and the
// players are this host's sessions only: other hosts' are not in Redis.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "srtfwd/control/admin_bridge.h"
#include "srtfwd/control/balancer.h"
#include "srtfwd/control/options.h"

namespace srtfwd::admin {

struct OriginState {
  std::string key;                          // as the mappings name it
  std::optional<control::ServerInfo> info;  // nullopt: its record is gone (expired) or unreadable
  bool alive = false;
  int64_t ttl_s = -1;  // seconds its record has left; -1: none (static, or unknown)
};

struct StreamsSource {
  std::string source;  // "memory" or "redis HOST:PORT"
  std::vector<control::StreamMapping> mappings;
  std::vector<OriginState> origins;  // registered, and any a mapping names
  bool truncated = false;            // more mappings than the admin API lists
};

// The memory balancer's view, from the control lcore's snapshot.
StreamsSource memory_source(const control::StreamsState& s);

// Reads the mappings (SCAN srs-proxy-url:*) and the origins
// (srs-proxy-all-servers, each srs-proxy-server:* with its TTL) from Redis,
// with the balancer's address, password, database and key prefix. Blocks up
// to about `timeout` per round trip: admin thread only. Throws
// std::runtime_error("redis HOST:PORT: ...") when Redis cannot be read.
StreamsSource read_redis(const control::BalancerOptions& opt, std::chrono::milliseconds timeout);

// {"source", "sessions": "this host's", "streams": [{"url", "origin": {"key",
// "address", "alive"}, "publisher", "players", "since"}]}: every mapped
// stream and every stream a local session plays or publishes.
std::string streams_json(const StreamsSource& src,
                         const std::vector<control::StreamSession>& local);
// {"source", "origins": [{"key", "ip", "address", "server_id", "service_id",
// "pid", "update_at", "alive", "ttl_s", "streams"}]}.
std::string origins_json(const StreamsSource& src);

}  // namespace srtfwd::admin

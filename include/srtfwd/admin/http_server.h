// The admin listener: an HTTP server on its own thread (not an lcore).
//
//   POST /api/v1/srs/register   an SRS origin's heartbeat (the Go proxy's API);
//                               with a register token, 401 without it
//   GET  /api/v1/versions       {"signature":"srtfwd","version":"x.y.z"}
//   GET  /api/v1/health         {"state":"ready"} 200; "starting"/"draining" 503
//                               (admin/health.h)
//   GET  /api/v1/sessions       the control lcore's latest session snapshot
//   GET  /api/v1/backends       the origins the balancer knows, and its state
//   GET  /api/v1/streams        each stream, its origin, publisher and players
//   GET  /api/v1/origins        each origin, alive or not, and its stream count
//   GET  /metrics               Prometheus text format 0.0.4 (admin/metrics.h)
//
// It reads counters (relaxed atomics, safe from any thread) and the
// AdminBridge snapshots; registrations go to the control lcore through the
// bridge. Nothing here touches the balancer or the session table; in redis
// mode /api/v1/streams and /api/v1/origins read Redis on a connection of
// their own (admin/streams.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "srtfwd/admin/metrics.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/control/log_limiter.h"
#include "srtfwd/control/options.h"
#include "srtfwd/dataplane/counters.h"
#include "srtfwd/dataplane/dataplane.h"

namespace srtfwd::control {
class AdminBridge;
struct SrtProxyCounters;
}  // namespace srtfwd::control

namespace srtfwd::admin {

class AdminServer {
 public:
  // port 0 binds an ephemeral port (tests); see port().
  AdminServer(std::string host, uint16_t port, const dataplane::Dataplane& dp,
              const control::ControlPlane& cp, control::AdminBridge& bridge);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts serving. Throws std::runtime_error
  // ("admin.listen 127.0.0.1:12025: cannot bind: ...") when it cannot bind.
  void start();
  // Stops serving and joins the thread. Idempotent.
  void stop();
  // The bound port (after start()).
  uint16_t port() const { return bound_port_; }

  // Adds the SRT handshake counters to /metrics (before start()).
  void set_srt_counters(const control::SrtProxyCounters* c) { srt_ = c; }
  // The token /register requires ([admin] register_token; before start()).
  // Empty: anyone who reaches the API may register, as the Go proxy.
  void set_register_token(std::string t) { register_token_ = std::move(t); }
  // In redis mode /api/v1/streams and /api/v1/origins read Redis with these
  // options (before start()); without, they show the memory balancer's.
  void set_redis(const control::BalancerOptions& opt) { redis_ = opt; }
  // What GET /api/v1/health answers, and its rows in /metrics (before
  // start()). Without: 200 {"state":"ready"} while the server runs.
  void set_health(const Health* h) { health_ = h; }
  // The admin API's own counters, for the exit line and telemetry.
  const AdminCounters& counters() const { return counters_; }
  // The /metrics page (also for tests and the final log).
  std::string metrics_text() const;

 private:
  struct Impl;
  std::string host_;
  uint16_t port_;
  uint16_t bound_port_ = 0;
  const dataplane::Dataplane& dp_;
  const control::ControlPlane& cp_;
  control::AdminBridge& bridge_;
  const control::SrtProxyCounters* srt_ = nullptr;
  std::string register_token_;
  std::optional<control::BalancerOptions> redis_;
  const Health* health_ = nullptr;
  AdminCounters counters_;
  // Guards counters_ (two handler threads add) and the log limiter.
  std::mutex counters_mu_;
  control::LogLimiter unauthorized_log_{5};
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace srtfwd::admin

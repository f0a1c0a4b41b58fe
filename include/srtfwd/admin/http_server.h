// The admin listener: an HTTP server on its own thread (not an lcore).
//
//   POST /api/v1/srs/register   an SRS origin's heartbeat (the Go proxy's API)
//   GET  /api/v1/versions       {"signature":"srtfwd","version":"x.y.z"}
//   GET  /api/v1/sessions       the control lcore's latest session snapshot
//   GET  /api/v1/backends       the origins the balancer knows, and its state
//   GET  /metrics               Prometheus text format 0.0.4
//
// It reads counters (relaxed atomics, safe from any thread) and the
// AdminBridge snapshots; registrations go to the control lcore through the
// bridge. Nothing here touches the balancer or the session table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "srtfwd/control/control_plane.h"
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
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

// What /metrics shows, gathered from any thread.
struct MetricsInput {
  dataplane::CounterTotals totals;
  uint64_t control_tx = 0, control_tx_dropped = 0;
  const control::ControlCounters* control = nullptr;  // omitted when null
  const control::SrtProxyCounters* srt = nullptr;      // omitted when null
  uint64_t sessions_active = 0;
  uint64_t mbufs_in_use = 0;
  // Session table slots: live keys, retired (waiting for the RCU grace
  // period), free (probed through until their cluster shrinks).
  uint64_t slots_live = 0, slots_retired = 0, slots_free = 0;
  std::vector<dataplane::PortStats> ports;  // the drivers' own counters
  std::vector<dataplane::WorkerStats> workers;  // per worker lcore; they add up to totals
};
// Prometheus text format 0.0.4 for those values (no Dataplane needed: tests).
std::string prometheus_text(const MetricsInput& in);
// What /metrics shows right now (any thread; also DPDK telemetry's
// /srtfwd/stats, so that both give the same sums).
MetricsInput gather_metrics(const dataplane::Dataplane& dp, const control::ControlPlane& cp,
                            const control::SrtProxyCounters* srt);

}  // namespace srtfwd::admin

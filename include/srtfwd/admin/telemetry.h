// DPDK telemetry commands (rte_telemetry, the socket
// /var/run/dpdk/<file-prefix>/dpdk_telemetry.v2 that dpdk-telemetry.py reads):
//
//   /srtfwd/stats          every /metrics sample, summed over lcores, as
//                          {"rx_packets_total": n, "dropped_packets_total/no_session": n,
//                           "port_rx_missed_total/0": n, ...}: the metric name
//                          without "srtfwd_", label values appended after '/'
//   /srtfwd/lcores         {"fields": [...], "<lcore>": [one value per field]}
//   /srtfwd/lcores,<id>    one worker lcore's counters by name
//   /srtfwd/sessions       {"active", "listed", "sessions": ["<id> caller -> origin", ...]}
//   /srtfwd/sessions,<id>  one session by name
//   /srtfwd/backends       {"balancer", "count", "backends": ["<server_id> ip:srt", ...]}
//
// The callbacks run on DPDK's telemetry thread. They read what the admin
// thread reads for /metrics and /api/v1: relaxed-atomic counters summed the
// same way, and the AdminBridge snapshots the control lcore publishes.
// Nothing here touches the session table or the balancer.
#pragma once

#include <cstdint>

namespace srtfwd::dataplane {
class Dataplane;
}
namespace srtfwd::control {
class ControlPlane;
class AdminBridge;
struct SrtProxyCounters;
}  // namespace srtfwd::control

namespace srtfwd::admin {

struct AdminCounters;
struct Health;

// The commands are registered once per process (rte_telemetry cannot
// unregister); they answer from the Telemetry object attached at the time,
// and with an error when none is (before start, after stop).
class Telemetry {
 public:
  Telemetry(const dataplane::Dataplane& dp, const control::ControlPlane& cp,
            control::AdminBridge& bridge, const control::SrtProxyCounters* srt);
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // Registers the commands (first call in the process) and attaches this
  // object. Returns false (and logs why) when rte_telemetry refused them;
  // srtfwd runs on without them.
  bool start();
  // Adds the admin API's counters to /srtfwd/stats (before start()).
  void set_admin_counters(const AdminCounters* c) { admin_ = c; }
  // Adds the health state and [bgp] command counters (before start()).
  void set_health(const Health* h) { health_ = h; }
  // Detaches: waits for a callback in progress, later ones answer an error.
  // Call before the objects it reads go away. Idempotent.
  void stop();

  // The command bodies, also for tests; they fill an rte_tel_data.
  int stats(void* tel_data) const;
  int lcores(const char* params, void* tel_data) const;
  int sessions(const char* params, void* tel_data) const;
  int backends(void* tel_data) const;

 private:
  const dataplane::Dataplane& dp_;
  const control::ControlPlane& cp_;
  control::AdminBridge& bridge_;
  const control::SrtProxyCounters* srt_;
  const AdminCounters* admin_ = nullptr;
  const Health* health_ = nullptr;
  bool attached_ = false;
};

}  // namespace srtfwd::admin

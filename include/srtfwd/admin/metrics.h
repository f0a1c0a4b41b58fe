// Every counter and gauge srtfwd exports, defined once (kMetrics in
// src/admin/metrics.cc): its Prometheus name, help and type, its label
// dimension (none, a reason, a port, a worker lcore, ...), its key in the
// exit JSON, and where its value comes from in a MetricsInput. /metrics, the
// "final counters" JSON line, and the telemetry commands /srtfwd/stats and
// /srtfwd/lcores are all rendered from that table, so a counter added there
// shows everywhere, and one left out shows nowhere (the unit test fails).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "srtfwd/admin/health.h"
#include "srtfwd/dataplane/counters.h"
#include "srtfwd/dataplane/dataplane.h"

namespace srtfwd::control {
class ControlPlane;
struct ControlCounters;
struct NeighbourCounters;
struct SrtProxyCounters;
}  // namespace srtfwd::control

namespace srtfwd::admin {

// The admin API's own counters. Its handler threads add under the server's
// mutex (Counter::add is single-writer); anyone reads.
struct AdminCounters {
  dataplane::Counter registered;             // heartbeats queued for the balancer
  dataplane::Counter register_unauthorized;  // /register refused: token missing or wrong (401)
};

// One gathering of every value the table reads, from any thread.
struct MetricsInput {
  dataplane::CounterTotals totals;
  uint64_t control_tx = 0, control_tx_dropped = 0;
  const control::ControlCounters* control = nullptr;       // omitted when null
  const control::NeighbourCounters* neighbours = nullptr;  // omitted when null
  const control::SrtProxyCounters* srt = nullptr;          // omitted when null
  const AdminCounters* admin = nullptr;                    // omitted when null
  const Health* health = nullptr;                          // omitted when null
  // The handshake levels; gather_metrics takes the gauges the control lcore
  // publishes each tick, the exit line the exact sizes once it has stopped.
  uint64_t srt_in_flight = 0, srt_tracked = 0, srt_legs_in_use = 0;
  uint64_t sessions_active = 0;
  uint64_t mbufs_in_use = 0;
  // Session table slots: live keys, retired (waiting for the RCU grace
  // period), free (probed through until their cluster shrinks).
  uint64_t slots_live = 0, slots_retired = 0, slots_free = 0;
  std::vector<dataplane::PortStats> ports;      // the drivers' own counters
  std::vector<dataplane::WorkerStats> workers;  // per worker lcore; they add up to totals
  // Which worker polls which RX queue (the exit line lists them per worker).
  std::vector<dataplane::RxQueueOwner> rx_queue_map;
  // The live sessions' RTT and loss (link_stats.h), as of the control
  // lcore's last session list: /metrics renders them as histograms after
  // the table (kLinkHistograms in metrics.cc).
  dataplane::LinkHistograms::Snapshot link_hist;
};

enum class MetricType : uint8_t { kCounter, kGauge };

// What a metric's series are told apart by: its one label, and the label
// values (reason names, port ids, lcore ids).
enum class Dim : uint8_t {
  kNone,
  kDropReason,     // reason="<kDropReasonNames>"
  kEndReason,      // reason="<kEndReasonNames>"
  kRejectReason,   // reason="<kRejectReasons>"
  kSlotState,      // state="live|retired|free"
  kPort,           // port="<port id>", one per MetricsInput::ports entry
  kLcore,          // lcore="<lcore id>", one per MetricsInput::workers entry
  kHookOutcome,    // outcome="allowed|denied|error|timeout|late"
  kRebindRefusal,  // reason="<kRebindRefusalNames>"
};

// Where a metric sits in the exit JSON ("final counters: {...}").
enum class JsonSection : uint8_t {
  kTop,         // {"<key>": v}
  kControl,     // {"control": {"<key>": v}}
  kNeighbours,  // {"neighbours": {"<key>": v}}
  kSrt,         // {"srt": {"<key>": v}}
  kAdmin,       // {"admin": {"<key>": v}}
  kHealth,      // {"health": {"<key>": v}}
  kPort,        // {"ports": [{"port": id, "<key>": v}, ...]}
  kWorker,      // {"workers": [{"lcore": id, "<key>": v}, ...]}
};

// The source a metric is read from: absent sources (a null pointer, no port,
// no worker) leave their metrics out of every rendering.
enum class Source : uint8_t {
  kDataplane,
  kControl,
  kNeighbours,
  kSrt,
  kAdmin,
  kHealth,
  kPorts,
  kWorkers
};

struct Metric {
  std::string_view name;  // Prometheus family name, "srtfwd_..."
  std::string_view help;
  MetricType type;
  Dim dim;
  Source source;
  JsonSection section;
  // The exit JSON key. A reason or state dimension is an object under it
  // ({"dropped": {"no_session": n}}), or with json_flat keys "<key>_<label>";
  // json_total, if set, also carries the sum over the labels.
  std::string_view json_key;
  bool json_flat = false;
  std::string_view json_total = {};
  // The value of label index i (0 for kNone).
  uint64_t (*value)(const MetricsInput& in, size_t i) = nullptr;
};

// The table, in /metrics order.
std::span<const Metric> metrics_table();

// The label name of a dimension ("" for kNone), how many series it has in
// `in`, and the label value of series i.
std::string_view dim_label(Dim d);
size_t dim_size(Dim d, const MetricsInput& in);
std::string dim_value(Dim d, const MetricsInput& in, size_t i);
// False when the metric's source is absent from `in`.
bool present(const Metric& m, const MetricsInput& in);

// Prometheus text format 0.0.4. A family with no series is left out.
std::string prometheus_text(const MetricsInput& in);
// The exit line's JSON object (one line).
std::string counters_json(const MetricsInput& in);
// /srtfwd/stats: every /metrics series, keyed by the name without "srtfwd_"
// and with the label value appended after '/' (an lcore label summed away,
// as sum without (lcore) would), in table order.
std::vector<std::pair<std::string, uint64_t>> telemetry_stats(const MetricsInput& in);
// /srtfwd/lcores: the per worker lcore metrics' exit JSON keys, and their
// values for worker entry w.
std::vector<std::string_view> lcore_fields();
std::vector<uint64_t> lcore_values(const MetricsInput& in, size_t w);

// What /metrics shows right now (any thread; also DPDK telemetry's
// /srtfwd/stats, so that both give the same sums).
MetricsInput gather_metrics(const dataplane::Dataplane& dp, const control::ControlPlane& cp,
                            const control::SrtProxyCounters* srt);

}  // namespace srtfwd::admin

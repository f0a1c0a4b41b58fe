// The metrics table and its renderings: the /metrics text (Prometheus
// exposition format 0.0.4), the exit JSON line and telemetry's /srtfwd/stats.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <type_traits>

#include "srtfwd/admin/metrics.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/control/neighbours.h"
#include "srtfwd/control/srt_proxy.h"

namespace srtfwd::admin {
namespace {

TEST(Metrics, EveryFamilyHasHelpTypeAndSamples) {
  control::ControlCounters cc;
  cc.sessions_installed.add(7);
  cc.sessions_ended[static_cast<size_t>(control::EndReason::kIdle)].add(2);
  cc.rebinds.add(3);
  cc.rebind_refused[static_cast<size_t>(control::RebindRefusal::kRule)].add(5);
  cc.missed_packets.add(9);
  MetricsInput in;
  in.totals.rx_packets = 100;
  in.totals.forwarded = 90;
  in.totals.tx_packets = 89;
  in.totals.to_control = 4;
  in.totals.dropped[static_cast<size_t>(dataplane::DropReason::kNotUdp)] = 6;
  in.control = &cc;
  in.sessions_active = 3;
  in.mbufs_in_use = 12;
  in.slots_live = 6;
  in.slots_retired = 2;
  in.slots_free = 1;
  dataplane::PortStats p0, p1;
  p0.port_id = 0;
  p0.rx_packets = 1000;
  p0.rx_missed = 17;
  p0.rx_nombuf = 3;
  p1.port_id = 1;
  p1.tx_packets = 990;
  p1.tx_bytes = 123456;
  p1.tx_errors = 2;
  p1.rx_errors = 5;
  in.ports = {p0, p1};
  dataplane::WorkerStats w1, w2, w3;
  w1.lcore = 1;
  w1.rx_queues = 2;
  w1.counters.rx_packets = 60;
  w1.counters.forwarded = 55;
  w1.counters.dropped[static_cast<size_t>(dataplane::DropReason::kNotUdp)] = 4;
  w2.lcore = 2;
  w2.rx_queues = 1;
  w2.counters.rx_packets = 40;
  w2.counters.forwarded = 35;
  w2.counters.dropped[static_cast<size_t>(dataplane::DropReason::kNotUdp)] = 2;
  w3.lcore = 3;  // idle
  in.workers = {w1, w2, w3};
  // Three session directions' link quality: 0.5 ms / 0 %, 30 ms / 1.5 %, 2 s / 60 %.
  in.link_hist.add(500, 0);
  in.link_hist.add(30000, 1.5);
  in.link_hist.add(2000000, 60);
  const std::string text = prometheus_text(in);

  std::istringstream lines(text);
  std::string line;
  std::set<std::string> typed, histograms;
  std::map<std::string, std::string> samples;
  while (std::getline(lines, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      auto rest = line.substr(7);
      auto name = rest.substr(0, rest.find(' '));
      auto type = rest.substr(rest.find(' ') + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      if (type == "histogram") histograms.insert(name);
      EXPECT_TRUE(type != "counter" || name.ends_with("_total")) << line;
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice: " << name;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    ASSERT_NE(line[0], '#') << line;
    const auto sp = line.rfind(' ');
    const std::string series = line.substr(0, sp);
    std::string family = series.substr(0, series.find('{'));
    // A histogram's series: <family>_bucket{le=...}, _sum, _count.
    for (std::string_view suffix : {"_bucket", "_sum", "_count"})
      if (family.ends_with(suffix) &&
          histograms.count(family.substr(0, family.size() - suffix.size())))
        family = family.substr(0, family.size() - suffix.size());
    EXPECT_TRUE(typed.count(family)) << "sample before its TYPE: " << line;
    samples[series] = line.substr(sp + 1);
  }
  EXPECT_EQ(samples["srtfwd_rx_packets_total"], "100");
  EXPECT_EQ(samples["srtfwd_forwarded_packets_total"], "90");
  EXPECT_EQ(samples["srtfwd_tx_packets_total"], "89");
  EXPECT_EQ(samples["srtfwd_to_control_packets_total"], "4");
  EXPECT_EQ(samples["srtfwd_dropped_packets_total{reason=\"not_udp\"}"], "6");
  for (auto name : dataplane::kDropReasonNames)
    EXPECT_TRUE(samples.count("srtfwd_dropped_packets_total{reason=\"" + std::string(name) + "\"}"))
        << name;
  EXPECT_EQ(samples["srtfwd_sessions_installed_total"], "7");
  EXPECT_EQ(samples["srtfwd_rebinds_total"], "3");
  EXPECT_EQ(samples["srtfwd_rebind_refused_total{reason=\"rule\"}"], "5");
  for (auto name : control::kRebindRefusalNames)
    EXPECT_TRUE(samples.count("srtfwd_rebind_refused_total{reason=\"" + std::string(name) + "\"}"))
        << name;
  EXPECT_EQ(samples["srtfwd_missed_packets_total"], "9");
  EXPECT_EQ(samples["srtfwd_sessions_ended_total{reason=\"idle\"}"], "2");
  EXPECT_EQ(samples["srtfwd_sessions_ended_total{reason=\"shutdown\"}"], "0");
  EXPECT_EQ(samples["srtfwd_sessions_active"], "3");
  EXPECT_EQ(samples["srtfwd_mbufs_in_use"], "12");
  EXPECT_EQ(samples["srtfwd_session_slots{state=\"live\"}"], "6");
  EXPECT_EQ(samples["srtfwd_session_slots{state=\"retired\"}"], "2");
  EXPECT_EQ(samples["srtfwd_session_slots{state=\"free\"}"], "1");
  // The link quality histograms: cumulative buckets, sum, count.
  EXPECT_EQ(samples["srtfwd_session_rtt_seconds_bucket{le=\"0.001\"}"], "1");
  EXPECT_EQ(samples["srtfwd_session_rtt_seconds_bucket{le=\"0.02\"}"], "1");
  EXPECT_EQ(samples["srtfwd_session_rtt_seconds_bucket{le=\"0.05\"}"], "2");
  EXPECT_EQ(samples["srtfwd_session_rtt_seconds_bucket{le=\"1\"}"], "2");
  EXPECT_EQ(samples["srtfwd_session_rtt_seconds_bucket{le=\"+Inf\"}"], "3");
  EXPECT_EQ(samples["srtfwd_session_rtt_seconds_count"], "3");
  EXPECT_EQ(samples["srtfwd_session_rtt_seconds_sum"], "2.0305");
  EXPECT_EQ(samples["srtfwd_session_loss_percent_bucket{le=\"0.1\"}"], "1");
  EXPECT_EQ(samples["srtfwd_session_loss_percent_bucket{le=\"2\"}"], "2");
  EXPECT_EQ(samples["srtfwd_session_loss_percent_bucket{le=\"50\"}"], "2");
  EXPECT_EQ(samples["srtfwd_session_loss_percent_bucket{le=\"100\"}"], "3");
  EXPECT_EQ(samples["srtfwd_session_loss_percent_sum"], "61.5");
  // The drivers' counters, one series per port.
  EXPECT_EQ(samples["srtfwd_port_rx_packets_total{port=\"0\"}"], "1000");
  EXPECT_EQ(samples["srtfwd_port_rx_missed_total{port=\"0\"}"], "17");
  EXPECT_EQ(samples["srtfwd_port_rx_nombuf_total{port=\"0\"}"], "3");
  EXPECT_EQ(samples["srtfwd_port_rx_missed_total{port=\"1\"}"], "0");
  EXPECT_EQ(samples["srtfwd_port_rx_errors_total{port=\"1\"}"], "5");
  EXPECT_EQ(samples["srtfwd_port_tx_packets_total{port=\"1\"}"], "990");
  EXPECT_EQ(samples["srtfwd_port_tx_bytes_total{port=\"1\"}"], "123456");
  EXPECT_EQ(samples["srtfwd_port_tx_errors_total{port=\"1\"}"], "2");
  EXPECT_EQ(samples["srtfwd_port_tx_packets_total{port=\"0\"}"], "0");
  // Per worker lcore, next to the totals.
  EXPECT_EQ(samples["srtfwd_worker_rx_packets_total{lcore=\"1\"}"], "60");
  EXPECT_EQ(samples["srtfwd_worker_rx_packets_total{lcore=\"2\"}"], "40");
  EXPECT_EQ(samples["srtfwd_worker_rx_packets_total{lcore=\"3\"}"], "0");
  EXPECT_EQ(samples["srtfwd_worker_forwarded_packets_total{lcore=\"2\"}"], "35");
  EXPECT_EQ(samples["srtfwd_worker_dropped_packets_total{lcore=\"1\"}"], "4");
  EXPECT_EQ(samples["srtfwd_worker_rx_queues{lcore=\"1\"}"], "2");
  EXPECT_EQ(samples["srtfwd_worker_rx_queues{lcore=\"3\"}"], "0");
}

TEST(Metrics, NoPortFamiliesWithoutPortCounters) {
  // After the ports are closed (or before they start) there is nothing to
  // report: no family without samples.
  const std::string text = prometheus_text(MetricsInput{});
  EXPECT_EQ(text.find("srtfwd_port_"), std::string::npos) << text;
  EXPECT_EQ(text.find("srtfwd_worker_"), std::string::npos) << text;
  EXPECT_NE(text.find("srtfwd_rx_packets_total 0"), std::string::npos) << text;
}

// Gives every field of a counters struct its own value, base + its index:
// a table row that reads the wrong field shows as a wrong value, a field no
// row reads as a value no series has.
template <typename T, typename Field>
size_t fill(T& s, uint64_t base) {
  static_assert(std::is_standard_layout_v<T>);
  static_assert(sizeof(T) % sizeof(Field) == 0, "a field that is not a counter");
  const size_t n = sizeof(T) / sizeof(Field);
  auto* f = reinterpret_cast<Field*>(&s);
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<Field, uint64_t>)
      f[i] = base + i;
    else
      f[i].set(base + i);
  }
  return n;
}

// Series name -> value, from a /metrics text.
std::map<std::string, uint64_t> parse_prometheus(const std::string& text, size_t* families) {
  std::map<std::string, uint64_t> out;
  std::istringstream lines(text);
  std::string line;
  *families = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) ++*families;
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stoull(line.substr(sp + 1));
  }
  return out;
}

class MetricsTable : public ::testing::Test {
 protected:
  void SetUp() override {
    n_totals_ = fill<dataplane::CounterTotals, uint64_t>(in_.totals, 1000);
    n_control_ = fill<control::ControlCounters, dataplane::Counter>(control_, 2000);
    n_neighbours_ = fill<control::NeighbourCounters, dataplane::Counter>(neighbours_, 3000);
    n_srt_ = fill<control::SrtProxyCounters, dataplane::Counter>(srt_, 4000);
    n_admin_ = fill<AdminCounters, dataplane::Counter>(admin_, 8000);
    in_.admin = &admin_;
    n_bgp_ = fill<BgpCounters, dataplane::Counter>(health_.bgp, 9000);
    health_.set(HealthState::kReady);
    in_.health = &health_;
    in_.control = &control_;
    in_.neighbours = &neighbours_;
    in_.srt = &srt_;
    // As gather_metrics takes them: the gauges the control lcore publishes.
    in_.srt_in_flight = srt_.in_flight.get();
    in_.srt_tracked = srt_.tracked.get();
    in_.srt_legs_in_use = srt_.legs_in_use.get();
    in_.sessions_active = 5004;
    in_.mbufs_in_use = 5005;
    in_.slots_live = 5006;
    in_.slots_retired = 5007;
    in_.slots_free = 5008;
    in_.control_tx = 5009;
    in_.control_tx_dropped = 5010;
    for (uint16_t p = 0; p < 2; ++p) {
      dataplane::PortStats ps;
      ps.port_id = p;
      const uint64_t b = 6000 + 100 * p;
      ps.rx_packets = b + 1;
      ps.rx_bytes = b + 2;
      ps.tx_packets = b + 3;
      ps.tx_bytes = b + 4;
      ps.rx_missed = b + 5;
      ps.rx_errors = b + 6;
      ps.rx_nombuf = b + 7;
      ps.tx_errors = b + 8;
      ps.rx_queue_packets = {b + 1};
      in_.ports.push_back(ps);
    }
    for (unsigned w = 0; w < 2; ++w) {
      dataplane::WorkerStats ws;
      ws.lcore = 3 + w;
      ws.rx_queues = 1;
      fill<dataplane::CounterTotals, uint64_t>(ws.counters, 7000 + 100 * w);
      in_.workers.push_back(ws);
      in_.rx_queue_map.push_back({0, static_cast<uint16_t>(w), ws.lcore});
    }
  }

  MetricsInput in_;
  control::ControlCounters control_;
  control::NeighbourCounters neighbours_;
  control::SrtProxyCounters srt_;
  AdminCounters admin_;
  Health health_;
  size_t n_totals_ = 0, n_control_ = 0, n_neighbours_ = 0, n_srt_ = 0, n_admin_ = 0, n_bgp_ = 0;
};

// Done when every row of the table shows in /metrics, in the exit JSON and
// in /srtfwd/stats, with the value its accessor reads, and nothing else does.
TEST_F(MetricsTable, EveryRowInEveryRendering) {
  size_t families = 0;
  auto prom = parse_prometheus(prometheus_text(in_), &families);
  // The link quality histograms follow the table (their buckets are not
  // counters of it; Metrics.EveryFamilyHasHelpTypeAndSamples checks them):
  // /metrics only, two families.
  families -= 2;
  std::erase_if(prom, [](const auto& kv) {
    return kv.first.starts_with("srtfwd_session_rtt_seconds") ||
           kv.first.starts_with("srtfwd_session_loss_percent");
  });
  const auto exit_json = nlohmann::json::parse(counters_json(in_));
  std::map<std::string, uint64_t> tel;
  for (const auto& [k, v] : telemetry_stats(in_))
    EXPECT_TRUE(tel.emplace(k, v).second) << "twice: " << k;

  const auto table = metrics_table();
  EXPECT_EQ(families, table.size()) << "a family /metrics shows that the table has not, or twice";
  std::set<std::string> names, json_keys;
  size_t series = 0;
  for (const Metric& m : table) {
    const std::string name(m.name);
    SCOPED_TRACE(name);
    EXPECT_TRUE(names.insert(name).second) << "name twice";
    EXPECT_TRUE(name.starts_with("srtfwd_"));
    EXPECT_EQ(m.type == MetricType::kCounter, name.ends_with("_total"));
    EXPECT_FALSE(m.help.empty());
    ASSERT_NE(m.value, nullptr);
    ASSERT_TRUE(present(m, in_));
    EXPECT_TRUE(
        json_keys.insert(std::to_string(int(m.section)) + "/" + std::string(m.json_key)).second)
        << "exit JSON key twice in its section: " << m.json_key;

    const nlohmann::json* obj = &exit_json;
    switch (m.section) {
      case JsonSection::kControl: obj = &exit_json.at("control"); break;
      case JsonSection::kNeighbours: obj = &exit_json.at("neighbours"); break;
      case JsonSection::kSrt: obj = &exit_json.at("srt"); break;
      case JsonSection::kAdmin: obj = &exit_json.at("admin"); break;
      case JsonSection::kHealth: obj = &exit_json.at("health"); break;
      default: break;
    }
    const std::string key(m.json_key);
    const std::string tel_key = name.substr(7);
    const size_t n = dim_size(m.dim, in_);
    ASSERT_GT(n, 0u);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t v = m.value(in_, i);
      sum += v;
      ++series;
      const std::string label = dim_value(m.dim, in_, i);
      const std::string s =
          m.dim == Dim::kNone ? name
                              : name + "{" + std::string(dim_label(m.dim)) + "=\"" + label + "\"}";
      ASSERT_TRUE(prom.count(s)) << "not in /metrics: " << s;
      EXPECT_EQ(prom.at(s), v) << s;
      switch (m.section) {
        case JsonSection::kPort:
          EXPECT_EQ(exit_json.at("ports").at(i).at("port"), in_.ports[i].port_id);
          EXPECT_EQ(exit_json.at("ports").at(i).at(key), v) << key;
          break;
        case JsonSection::kWorker:
          EXPECT_EQ(exit_json.at("workers").at(i).at("lcore"), in_.workers[i].lcore);
          EXPECT_EQ(exit_json.at("workers").at(i).at(key), v) << key;
          break;
        default:
          if (m.dim == Dim::kNone) {
            EXPECT_EQ(obj->at(key), v) << key;
          } else if (m.json_flat) {
            EXPECT_EQ(obj->at(key + "_" + label), v) << key << "_" << label;
          } else {
            EXPECT_EQ(obj->at(key).at(label), v) << key << "." << label;
          }
      }
      if (m.dim != Dim::kNone && m.dim != Dim::kLcore) {
        ASSERT_TRUE(tel.count(tel_key + "/" + label)) << tel_key << "/" << label;
        EXPECT_EQ(tel.at(tel_key + "/" + label), v);
      }
    }
    if (m.dim == Dim::kNone || m.dim == Dim::kLcore) {
      // Per lcore: summed, as sum without (lcore) would.
      ASSERT_TRUE(tel.count(tel_key)) << tel_key;
      EXPECT_EQ(tel.at(tel_key), sum);
    }
    if (!m.json_total.empty()) { EXPECT_EQ(obj->at(std::string(m.json_total)), sum); }
  }
  EXPECT_EQ(prom.size(), series) << "a series /metrics shows that the table has not";
  // /srtfwd/stats: one entry per series, the lcore ones summed into one.
  size_t lcore_rows = 0;
  for (const Metric& m : table) lcore_rows += m.dim == Dim::kLcore;
  EXPECT_EQ(tel.size(), series - lcore_rows * (in_.workers.size() - 1));

  // /srtfwd/lcores' fields: the per worker keys of the exit JSON.
  const auto fields = lcore_fields();
  EXPECT_EQ(fields.size(), lcore_rows);
  for (size_t w = 0; w < in_.workers.size(); ++w) {
    const auto values = lcore_values(in_, w);
    ASSERT_EQ(values.size(), fields.size());
    for (size_t f = 0; f < fields.size(); ++f)
      EXPECT_EQ(exit_json.at("workers").at(w).at(std::string(fields[f])), values[f]) << fields[f];
  }
}

// Every counter that is written is exported: each field of the counter
// structs (filled with distinct values) is the value of some /metrics series.
TEST_F(MetricsTable, EveryWrittenCounterIsExported) {
  size_t families = 0;
  const auto prom = parse_prometheus(prometheus_text(in_), &families);
  std::set<uint64_t> shown;
  for (const auto& [series, v] : prom) shown.insert(v);
  auto check = [&](const char* what, uint64_t base, size_t n, std::set<size_t> except = {}) {
    for (size_t i = 0; i < n; ++i)
      if (!except.count(i)) {
        EXPECT_TRUE(shown.count(base + i)) << what << " field " << i << " is not exported";
      }
  };
  // CounterTotals::control_tx (the control lcore's packets the workers
  // relayed) is shown per worker only; the top-level control_tx is the
  // control lcore's own count of what it sent.
  constexpr size_t kTotalsControlTx =
      offsetof(dataplane::CounterTotals, control_tx) / sizeof(uint64_t);
  check("CounterTotals", 1000, n_totals_, {kTotalsControlTx});
  // Per worker, the drops are one sum (srtfwd_worker_dropped_packets_total);
  // by reason they are the totals' (srtfwd_dropped_packets_total).
  std::set<size_t> worker_drops;
  for (size_t r = 0; r < dataplane::kDropReasonNames.size(); ++r)
    worker_drops.insert(offsetof(dataplane::CounterTotals, dropped) / sizeof(uint64_t) + r);
  check("WorkerStats::counters", 7000, n_totals_, worker_drops);
  check("WorkerStats::counters", 7100, n_totals_, worker_drops);
  check("ControlCounters", 2000, n_control_);
  check("NeighbourCounters", 3000, n_neighbours_);
  check("SrtProxyCounters", 4000, n_srt_);
  check("AdminCounters", 8000, n_admin_);
  check("BgpCounters", 9000, n_bgp_);
  // The health gauge follows the state.
  EXPECT_EQ(prom.at("srtfwd_health_ready"), 1u);
  health_.set(HealthState::kDraining);
  EXPECT_EQ(nlohmann::json::parse(counters_json(in_))["health"]["ready"], 0u);
  health_.set(HealthState::kStarting);
  EXPECT_EQ(parse_prometheus(prometheus_text(in_), &families).at("srtfwd_health_ready"), 0u);
  // The exit line's srt.rejected is every rejection: in /metrics,
  // sum(srtfwd_srt_rejected_total).
  EXPECT_EQ(nlohmann::json::parse(counters_json(in_))["srt"]["rejected"], srt_.rejected_total());
}

TEST_F(MetricsTable, AbsentSourcesLeftOut) {
  in_.srt = nullptr;
  in_.admin = nullptr;
  in_.health = nullptr;
  in_.neighbours = nullptr;
  in_.control = nullptr;
  const std::string text = prometheus_text(in_);
  EXPECT_EQ(text.find("srtfwd_srt_"), std::string::npos);
  EXPECT_EQ(text.find("srtfwd_neighbour_"), std::string::npos);
  EXPECT_EQ(text.find("srtfwd_sessions_installed_total"), std::string::npos);
  const auto j = nlohmann::json::parse(counters_json(in_));
  EXPECT_FALSE(j.contains("srt"));
  EXPECT_FALSE(j.contains("admin"));
  EXPECT_EQ(text.find("srtfwd_admin_"), std::string::npos);
  EXPECT_FALSE(j.contains("health"));
  EXPECT_EQ(text.find("srtfwd_health_"), std::string::npos);
  EXPECT_EQ(text.find("srtfwd_bgp_"), std::string::npos);
  EXPECT_FALSE(j.contains("control"));
  EXPECT_FALSE(j.contains("neighbours"));
  EXPECT_EQ(j.at("rx_packets"), 1000u);
}

// The exit line's keys that tests, scripts and docs read (tests/e2e,
// tests/dataplane, scripts/bench.sh): renaming one breaks them.
TEST_F(MetricsTable, ExitJsonKeepsItsKeys) {
  const auto j = nlohmann::json::parse(counters_json(in_));
  for (const char* k : {"rx_packets",
                        "rx_bytes",
                        "forwarded",
                        "forwarded_bytes",
                        "tx_packets",
                        "tx_dropped",
                        "to_control",
                        "session_events",
                        "event_ring_full",
                        "control_tx",
                        "control_tx_dropped",
                        "sessions_active",
                        "dropped",
                        "session_slots",
                        "ports",
                        "workers",
                        "control",
                        "srt",
                        "hopped",
                        "decapsulated"})
    EXPECT_TRUE(j.contains(k)) << k;
  for (const char* k :
       {"slow_path_packets", "arp_replies_sent", "arp_ignored", "icmp_echo_replies", "icmp_ignored",
        "ndp_adverts_sent", "ndp_ignored", "fragments_dropped", "ip_options_dropped",
        "srt_unhandled", "sessions_installed", "install_failed", "sessions_ended_shutdown",
        "sessions_ended_idle", "directory_writes", "directory_errors", "hops_installed",
        "second_chance_pending"})
    EXPECT_TRUE(j["control"].contains(k)) << k;
  for (const char* k :
       {"inductions", "conclusions", "bad_cookie", "established", "rejected", "cached_answers",
        "backend_retries", "rejected_gateway", "rejected_overload", "rejected_no_route",
        "rejected_backend", "in_flight", "tracked", "legs_in_use", "balancer_master_switches",
        "balancer_sentinel_errors"})
    EXPECT_TRUE(j["srt"].contains(k)) << k;
  for (const char* k : {"live", "retired", "free"})
    EXPECT_TRUE(j["session_slots"].contains(k)) << k;
  EXPECT_TRUE(j["dropped"].contains("no_session"));
  const auto& w = j["workers"][0];
  for (const char* k : {"lcore", "rx_queues", "rx_packets", "rx_bytes", "forwarded",
                        "forwarded_bytes", "tx_packets", "tx_dropped", "to_control",
                        "session_events", "event_ring_full", "control_tx", "dropped"})
    EXPECT_TRUE(w.contains(k)) << k;
  EXPECT_EQ(w["rx_queues"], nlohmann::json::parse("[[0, 0]]"));
  const auto& p = j["ports"][1];
  for (const char* k : {"port", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_missed",
                        "rx_errors", "rx_nombuf", "tx_errors", "rx_queue_packets"})
    EXPECT_TRUE(p.contains(k)) << k;
}

}  // namespace
}  // namespace srtfwd::admin

// The /metrics text: Prometheus exposition format 0.0.4.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "srtfwd/admin/http_server.h"

namespace srtfwd::admin {
namespace {

TEST(Metrics, EveryFamilyHasHelpTypeAndSamples) {
  control::ControlCounters cc;
  cc.sessions_installed.add(7);
  cc.sessions_ended[static_cast<size_t>(control::EndReason::kIdle)].add(2);
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
  const std::string text = prometheus_text(in);

  std::istringstream lines(text);
  std::string line;
  std::set<std::string> typed;
  std::map<std::string, std::string> samples;
  while (std::getline(lines, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      auto rest = line.substr(7);
      auto name = rest.substr(0, rest.find(' '));
      auto type = rest.substr(rest.find(' ') + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      EXPECT_TRUE(type != "counter" || name.ends_with("_total")) << line;
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice: " << name;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    ASSERT_NE(line[0], '#') << line;
    const auto sp = line.rfind(' ');
    const std::string series = line.substr(0, sp);
    const std::string family = series.substr(0, series.find('{'));
    EXPECT_TRUE(typed.count(family)) << "sample before its TYPE: " << line;
    samples[series] = line.substr(sp + 1);
  }
  EXPECT_EQ(samples["srtfwd_rx_packets_total"], "100");
  EXPECT_EQ(samples["srtfwd_forwarded_packets_total"], "90");
  EXPECT_EQ(samples["srtfwd_tx_packets_total"], "89");
  EXPECT_EQ(samples["srtfwd_to_control_packets_total"], "4");
  EXPECT_EQ(samples["srtfwd_dropped_packets_total{reason=\"not_udp\"}"], "6");
  for (auto name : dataplane::kDropReasonNames)
    EXPECT_TRUE(samples.count("srtfwd_dropped_packets_total{reason=\"" + std::string(name) + "\"}")) << name;
  EXPECT_EQ(samples["srtfwd_sessions_installed_total"], "7");
  EXPECT_EQ(samples["srtfwd_sessions_ended_total{reason=\"idle\"}"], "2");
  EXPECT_EQ(samples["srtfwd_sessions_ended_total{reason=\"shutdown\"}"], "0");
  EXPECT_EQ(samples["srtfwd_sessions_active"], "3");
  EXPECT_EQ(samples["srtfwd_mbufs_in_use"], "12");
  EXPECT_EQ(samples["srtfwd_session_slots{state=\"live\"}"], "6");
  EXPECT_EQ(samples["srtfwd_session_slots{state=\"retired\"}"], "2");
  EXPECT_EQ(samples["srtfwd_session_slots{state=\"free\"}"], "1");
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

}  // namespace
}  // namespace srtfwd::admin

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
}

}  // namespace
}  // namespace srtfwd::admin

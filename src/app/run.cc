#include "srtfwd/app/run.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "srtfwd/app/config.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/dataplane/dataplane.h"

namespace srtfwd::app {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

void on_signal(int sig) {
  g_signal.store(sig, std::memory_order_relaxed);
  if (sig == SIGTERM || sig == SIGINT) g_stop.store(true, std::memory_order_relaxed);
}

nlohmann::json counters_json(dataplane::Dataplane& dp, control::ControlPlane& cp) {
  const auto t = dp.totals();
  nlohmann::json j;
  j["rx_packets"] = t.rx_packets;
  j["rx_bytes"] = t.rx_bytes;
  j["forwarded"] = t.forwarded;
  j["forwarded_bytes"] = t.forwarded_bytes;
  j["tx_packets"] = t.tx_packets;
  j["tx_dropped"] = t.tx_dropped;
  j["to_control"] = t.to_control;
  j["session_events"] = t.session_events;
  j["control_tx"] = dp.control_tx_packets();
  j["control_tx_dropped"] = dp.control_tx_dropped();
  nlohmann::json d;
  for (size_t i = 0; i < t.dropped.size(); ++i) d[std::string(dataplane::kDropReasonNames[i])] = t.dropped[i];
  j["dropped"] = d;
  const auto& c = cp.counters();
  nlohmann::json cj;
  cj["slow_path_packets"] = c.slow_path_packets.get();
  cj["arp_replies_sent"] = c.arp_replies_sent.get();
  cj["arp_ignored"] = c.arp_ignored.get();
  cj["icmp_echo_replies"] = c.icmp_echo_replies.get();
  cj["icmp_ignored"] = c.icmp_ignored.get();
  cj["ndp_adverts_sent"] = c.ndp_adverts_sent.get();
  cj["ndp_ignored"] = c.ndp_ignored.get();
  cj["fragments_dropped"] = c.fragments_dropped.get();
  cj["ip_options_dropped"] = c.ip_options_dropped.get();
  cj["srt_unhandled"] = c.srt_unhandled.get();
  cj["sessions_installed"] = c.sessions_installed.get();
  cj["install_failed"] = c.install_failed.get();
  for (size_t i = 0; i < c.sessions_ended.size(); ++i)
    cj[std::string("sessions_ended_") + control::kEndReasonNames[i]] = c.sessions_ended[i].get();
  j["control"] = cj;
  j["sessions_active"] = dp.sessions().active();
  return j;
}

}  // namespace

int run(int argc, char** argv, const Hooks& hooks) {
  auto logger = spdlog::stderr_color_mt("srtfwd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // EAL options come first (up to "--"); rte_eal_init consumes them.
  const int eal_args = rte_eal_init(argc, argv);
  if (eal_args < 0) {
    spdlog::critical("cannot initialise DPDK EAL: {} (check the EAL options before --)",
                     rte_strerror(rte_errno));
    return 1;
  }
  argc -= eal_args;
  argv += eal_args;

  CLI::App cli{"srtfwd: kernel-bypass SRT ingress forwarder"};
  std::string config_path, log_level = "info";
  cli.add_option("--config", config_path, "TOML configuration file")->required();
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  if (hooks.add_options) hooks.add_options(cli);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli.exit(e);
    rte_eal_cleanup();
    return rc;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));

  Config cfg;
  try {
    cfg = load_config(config_path);
    apply_environment(cfg);
  } catch (const ConfigError& e) {
    spdlog::critical("bad configuration: {}", e.what());
    rte_eal_cleanup();
    return 2;
  }

  int rc = 0;
  try {
    dataplane::Dataplane dp(cfg.dataplane);
    control::ControlPlane cp(dp, cfg.control);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGHUP, on_signal);
    if (hooks.on_ready) hooks.on_ready(cp);
    dp.launch_workers();
    spdlog::info("srtfwd ready: {} port(s), {} worker(s) forwarding of {} worker lcore(s), "
                 "control on lcore {}",
                 dp.ports().size(), dp.active_workers(), dp.worker_lcores(), rte_lcore_id());
    cp.run(g_stop);
    spdlog::info("stopping (signal {})", g_signal.load());
    dp.stop_workers();
    // Drain what the workers left for control, then give every mbuf back.
    for (int i = 0; i < 4; ++i) cp.poll_once(rte_rdtsc());
    cp.shutdown();
    dp.shutdown();
    spdlog::info("final counters: {}", counters_json(dp, cp).dump());
    const unsigned leaked = dp.mbufs_in_use();
    if (leaked != 0) {
      spdlog::error("mbufs in use at exit: {} (leak)", leaked);
      rc = 3;
    } else {
      spdlog::info("mbufs in use at exit: 0");
    }
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    rc = 1;
  }
  rte_eal_cleanup();
  return rc;
}

}  // namespace srtfwd::app

#include "srtfwd/app/run.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <sched.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "srtfwd/admin/health.h"
#include "srtfwd/admin/http_server.h"
#include "srtfwd/admin/metrics.h"
#include "srtfwd/admin/sessions.h"
#include "srtfwd/admin/telemetry.h"
#include "srtfwd/app/config.h"
#include "srtfwd/app/sd_notify.h"
#include "srtfwd/app/shell_command.h"
#include "srtfwd/control/admin_bridge.h"
#include "srtfwd/control/balancer.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/control/control_plane_host.h"
#include "srtfwd/control/directory.h"
#include "srtfwd/control/srt_proxy.h"
#include "srtfwd/dataplane/dataplane.h"

namespace srtfwd::app {

namespace {

// The Go proxy re-registers its default backend this often.
constexpr uint64_t kDefaultBackendRefreshMs = 30000;
// [bgp] ready_command is killed if still running this long after it started
// (a `birdc` that cannot reach BIRD); draining_command's deadline is the
// shutdown's own (withdraw_wait_ms + drain_timeout_ms after SIGTERM).
constexpr std::chrono::milliseconds kReadyCommandTimeout{30000};

// The default backend as an SRS heartbeat body: ids made up as the Go proxy
// makes them ("default-" and a random id, our pid), its other ports listed.
std::string default_backend_body(const DefaultBackend& d) {
  std::random_device rd;
  auto random_id = [&rd] {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    return std::string(buf);
  };
  nlohmann::json j = {{"ip", d.ip},
                      {"server", "default-" + random_id()},
                      {"service", random_id()},
                      {"pid", std::to_string(::getpid())},
                      {"rtmp", nlohmann::json::array({d.rtmp})},
                      {"api", nlohmann::json::array({d.api})},
                      {"rtc", nlohmann::json::array({d.rtc})},
                      {"srt", nlohmann::json::array({std::to_string(d.srt_port)})}};
  if (!d.http.empty()) j["http"] = nlohmann::json::array({d.http});
  return j.dump();
}

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

// sd_notify, a failure logged (systemd then times the start out and says so).
void notify(const std::string& state) {
  std::string error;
  if (!sd_notify(state, &error) && !error.empty()) spdlog::warn("sd_notify: {}", error);
}

void on_signal(int sig) {
  if (sig == SIGTERM || sig == SIGINT)
    g_stop.store(true, std::memory_order_relaxed);
  else
    g_signal.store(sig, std::memory_order_relaxed);
}

// SIGHUP, on the control lcore: re-reads the config file and applies what is
// reloadable ([[backend]], srt.idle_timeout_ms). A file that does not load
// changes nothing; a changed key that needs a restart is named and left as
// it runs.
void reload(const std::string& path, const std::string& running_text, const Config& running,
            control::ControlPlane& cp, control::Balancer& balancer) {
  Config next;
  std::vector<std::string> restart_only;
  try {
    const std::string text = read_config_text(path);
    next = parse_config(text, path);
    (void)apply_environment(next);  // logged at start; the same values now
    restart_only = restart_only_changes(running_text, text);
  } catch (const std::exception& e) {
    spdlog::error(
        "SIGHUP: {} not reloaded, the running configuration stays (fix the file and "
        "send SIGHUP again): {}",
        path, e.what());
    return;
  }
  for (const auto& key : restart_only)
    spdlog::warn("SIGHUP: {} changed in {}; it needs a restart, the running value stays", key,
                 path);
  cp.set_idle_timeout_ms(next.control.idle_timeout_ms);
  if (running.control.balancer.type == "memory") {
    balancer.set_static_backends(next.control.balancer.backends);
  } else if (!next.control.balancer.backends.empty()) {
    spdlog::warn(
        "SIGHUP: balancer redis: {} static [[backend]] entries ignored (origins register "
        "in Redis)",
        next.control.balancer.backends.size());
  }
  spdlog::info(
      "SIGHUP: reloaded {}: {} static backend(s), idle_timeout_ms {}, {} key(s) waiting "
      "for a restart",
      path, next.control.balancer.backends.size(), next.control.idle_timeout_ms,
      restart_only.size());
}

// `--check-config FILE` as the only argument, or as the only one after
// "--": the index of the option, or 0 when it is not there.
int check_config_index(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--check-config") != 0) continue;
    if (i == 1 || std::strcmp(argv[i - 1], "--") == 0) return i;
  }
  return 0;
}

// Validates the file as a start would (the TOML, every key, the PROXY_REDIS_*
// environment), without EAL: nothing but the config is checked, no device
// or memory is touched. One line either way.
int check_config(int argc, char** argv, int at) {
  if (at + 2 != argc) {
    std::fprintf(stderr, "usage: srtfwd --check-config FILE\n");
    return 2;
  }
  const std::string path = argv[at + 1];
  try {
    Config cfg = load_config(path);
    apply_environment(cfg);
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    std::fprintf(stderr, "%s%s\n", what.rfind(path, 0) == 0 ? "" : (path + ": ").c_str(),
                 what.c_str());
    return 2;
  }
  std::printf("%s: OK\n", path.c_str());
  return 0;
}

}  // namespace

int run(int argc, char** argv, const Hooks& hooks) {
  if (const int at = check_config_index(argc, argv); at != 0) return check_config(argc, argv, at);

  auto logger = spdlog::stderr_color_mt("srtfwd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // The CPUs we may run on, before EAL pins this thread to the main lcore's.
  cpu_set_t start_cpus;
  if (sched_getaffinity(0, sizeof start_cpus, &start_cpus) != 0) CPU_ZERO(&start_cpus);
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
  std::string running_text;  // what restart-only keys are compared with on SIGHUP
  try {
    cfg = load_config(config_path);
    for (const auto& line : apply_environment(cfg)) spdlog::info("environment: {}", line);
    running_text = read_config_text(config_path);
    if (hooks.on_config) hooks.on_config(cfg);
  } catch (const ConfigError& e) {
    spdlog::critical("bad configuration: {}", e.what());
    rte_eal_cleanup();
    return 2;
  }

  int rc = 0;
  try {
    if (hooks.after_eal) hooks.after_eal();
    // The session directory and the second chance: with the Redis balancer,
    // whose connection it shares, and an IPv4 data address to hop to.
    const auto& dir_opt = cfg.control.directory;
    const bool directory_on =
        dir_opt.enabled && cfg.control.balancer.type == "redis" && dir_opt.address.has_value();
    if (directory_on) {
      // The second chance needs the flows of no session here: the miss gate
      // open at least this wide (per worker and second; a flow needs one
      // packet through it, the hop entry takes the rest).
      constexpr uint32_t kSecondChanceMissesPerS = 1000;
      cfg.dataplane.miss_to_control_per_s =
          std::max(cfg.dataplane.miss_to_control_per_s, kSecondChanceMissesPerS);
      cfg.dataplane.hop_port = dir_opt.port;
      cfg.dataplane.hop_peers = dir_opt.peers;
      if (cfg.dataplane.hop_peers.empty())
        for (const auto& po : cfg.dataplane.ports)
          if (po.ipv4 && po.ipv4->addr == *dir_opt.address)
            cfg.dataplane.hop_peers.push_back(*po.ipv4);
    } else if (dir_opt.enabled && cfg.control.balancer.type == "redis") {
      spdlog::warn("directory: off, no IPv4 [[port]] to hop to");
    }
    dataplane::Dataplane dp(cfg.dataplane);
    control::ControlPlane cp(dp, cfg.control);
    auto balancer = cfg.control.balancer.type == "redis"
                        ? control::make_redis_balancer(cfg.control.balancer)
                        : control::make_memory_balancer(cfg.control.balancer);
    control::ControlPlaneHost srt_host(cp, *balancer);
    control::SrtProxy& proxy = srt_host.proxy();
    if (!cfg.control.cookie_secret_file.empty()) {
      const auto wall = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
      proxy.use_cookie_secret_file(cfg.control.cookie_secret_file, static_cast<uint64_t>(wall),
                                   rte_rdtsc());
    }
    // Health: "starting" until the ports are up and the control loop runs.
    admin::Health health;
    // The CPUs no lcore of ours is on (as DPDK's own control threads get);
    // all of ours if the lcores took every one.
    cpu_set_t command_cpus = start_cpus;
    {
      cpu_set_t free_cpus = command_cpus;
      unsigned lcore;
      RTE_LCORE_FOREACH(lcore) {
        const rte_cpuset_t used = rte_lcore_cpuset(lcore);
        for (int c = 0; c < CPU_SETSIZE; ++c)
          if (CPU_ISSET(c, &used)) CPU_CLR(c, &free_cpus);
      }
      if (CPU_COUNT(&free_cpus) > 0) command_cpus = free_cpus;
    }
    ShellCommands bgp_commands(health.bgp, &command_cpus);
    cp.set_srt_handler(&srt_host);
    std::unique_ptr<control::Directory> directory;
    if (directory_on) {
      directory = std::make_unique<control::Directory>(cp, *balancer, dir_opt,
                                                       cfg.control.balancer.key_prefix);
      cp.set_session_observer(directory.get());
      cp.set_missed_handler(directory.get());
      cp.add_timer(10, [&](uint64_t now) { directory->tick(now); });
      spdlog::info("directory: sessions in redis as {}, hops on UDP {} (peers {})",
                   dir_opt.address->to_string(), dir_opt.port, cfg.dataplane.hop_peers.size());
    }
    control::AdminBridge bridge;
    const uint64_t hz = cp.tsc_hz();
    // Origins' heartbeats reach the balancer on the control lcore; the admin
    // API reads snapshots the control lcore publishes.
    cp.add_timer(50, [&](uint64_t now) {
      for (auto& s : bridge.take_registrations()) balancer->register_server(s, now / (hz / 1000));
    });
    // PROXY_DEFAULT_BACKEND_* in redis mode: registered as the Go proxy
    // registers it and kept alive every 30 s as it does; tried every second
    // until Redis is there to take it.
    uint64_t default_written_ms = 0;
    bool default_written = false;
    if (cfg.default_backend && cfg.control.balancer.type == "redis") {
      const std::string body = default_backend_body(*cfg.default_backend);
      spdlog::info("default backend {} (srt {}) registers in Redis", cfg.default_backend->ip,
                   cfg.default_backend->srt_port);
      cp.add_timer(1000, [&, body](uint64_t now) {
        const uint64_t now_ms = now / (hz / 1000);
        const bool connected = balancer->state().ends_with(" connected");
        if (connected && default_written && now_ms - default_written_ms < kDefaultBackendRefreshMs)
          return;
        auto s = control::server_from_register_body(body, nullptr);  // update_at: now
        if (!s) return;
        balancer->register_server(*s, now_ms);
        if (connected) {
          default_written = true;
          default_written_ms = now_ms;
        }
      });
    }
    // Snapshots every 500 ms, and on an admin request (at most every
    // kMinDemandGapMs) so that a GET never answers with state older than itself.
    // Without the admin API only telemetry reads them: on demand only.
    uint64_t last_publish = 0;
    const bool periodic = cfg.admin.enabled;
    cp.add_timer(10, [&](uint64_t now) {
      const uint64_t since = now - last_publish;
      const bool due =
          (periodic && since >= 500 * (hz / 1000)) ||
          (bridge.wanted() && since >= control::AdminBridge::kMinDemandGapMs * (hz / 1000));
      if (!due) return;
      last_publish = now;
      const uint64_t as_of = bridge.requests();
      auto servers = balancer->servers(now / (hz / 1000));
      std::string backends = control::servers_to_json(servers);
      if (bridge.take_streams_request()) {
        const uint64_t wall_ms =
            static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
        bridge.set_streams({admin::stream_sessions(dp, hz, now, wall_ms, proxy.session_streams()),
                            balancer->streams(), std::move(servers)});
      }
      bridge.publish(admin::sessions_json(dp, hz, now, &proxy), std::move(backends),
                     balancer->state(), as_of);
    });
    std::unique_ptr<admin::AdminServer> admin_server;
    if (cfg.admin.enabled) {
      admin_server =
          std::make_unique<admin::AdminServer>(cfg.admin.host, cfg.admin.port, dp, cp, bridge);
      admin_server->set_srt_counters(&proxy.counters());
      admin_server->set_register_token(cfg.admin.register_token);
      admin_server->set_health(&health);
      if (cfg.control.balancer.type == "redis") admin_server->set_redis(cfg.control.balancer);
      admin_server->start();
      spdlog::info("admin API on http://{}:{}", cfg.admin.host, admin_server->port());
    }
    // The same counters and snapshots on DPDK's telemetry socket.
    admin::Telemetry telemetry(dp, cp, bridge, &proxy.counters());
    if (admin_server) telemetry.set_admin_counters(&admin_server->counters());
    telemetry.set_health(&health);
    if (telemetry.start())
      spdlog::info("telemetry: /srtfwd/stats, /srtfwd/lcores, /srtfwd/sessions, /srtfwd/backends");
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGHUP, on_signal);
    std::signal(SIGPIPE,
                SIG_IGN);  // a Redis or HTTP peer that went away is an error value, not a kill
    if (hooks.on_ready) hooks.on_ready(cp);
    dp.launch_workers();
    spdlog::info(
        "srtfwd ready: {} port(s), {} worker(s) forwarding of {} worker lcore(s), "
        "control on lcore {}, balancer {}",
        dp.ports().size(), dp.active_workers(), dp.worker_lcores(), rte_lcore_id(),
        balancer->state());
    // Under systemd (Type=notify) the unit is started now: the ports are up
    // and the control loop, which answers ARP and NDP, starts next.
    notify("READY=1\nSTATUS=forwarding");
    health.set(admin::HealthState::kReady);
    bgp_commands.run("bgp.ready_command", cfg.bgp.ready_command,
                     ShellCommands::Clock::now() + kReadyCommandTimeout);
    cp.add_timer(100, [&](uint64_t now) {
      if (g_signal.exchange(0) != SIGHUP) return;
      notify(sd_reloading_message());
      reload(config_path, running_text, cfg, cp, *balancer);
      proxy.reload_cookie_secret(now);
      notify("READY=1\nSTATUS=forwarding");
    });
    cp.run(g_stop);
    // SIGTERM. First the routers are told (health, draining_command) while
    // everything is still served, new callers too: until they have withdrawn
    // the route, callers keep arriving here.
    health.set(admin::HealthState::kDraining);
    notify("STOPPING=1\nSTATUS=draining");
    const auto stop_deadline =
        ShellCommands::Clock::now() +
        std::chrono::milliseconds(cfg.bgp.withdraw_wait_ms + cfg.control.drain_timeout_ms);
    bgp_commands.run("bgp.draining_command", cfg.bgp.draining_command, stop_deadline, true);
    if (cfg.bgp.withdraw_wait_ms > 0) {
      spdlog::info("withdrawing: health draining, serving on for {} ms (bgp.withdraw_wait_ms)",
                   cfg.bgp.withdraw_wait_ms);
      const uint64_t withdraw_end = rte_rdtsc() + cp.ms_to_tsc(cfg.bgp.withdraw_wait_ms);
      while (rte_rdtsc() < withdraw_end) {
        if (cp.poll_once(rte_rdtsc()) == 0) rte_delay_us_sleep(200);
      }
    }
    // Drain: new callers get 1503 while the established sessions go on, until
    // they have all ended or drain_timeout_ms has passed.
    proxy.set_draining(true);
    const uint64_t drain_end = rte_rdtsc() + cp.ms_to_tsc(cfg.control.drain_timeout_ms);
    spdlog::info("draining: {} session(s), up to {} ms", dp.sessions().active(),
                 cfg.control.drain_timeout_ms);
    while (dp.sessions().active() != 0 && rte_rdtsc() < drain_end) {
      if (cp.poll_once(rte_rdtsc()) == 0) rte_delay_us_sleep(200);
    }
    spdlog::info("stopping: {} session(s) still active", dp.sessions().active());
    // A draining_command still running has until the shutdown's deadline.
    bgp_commands.finish(stop_deadline);
    if (admin_server) admin_server->stop();
    telemetry.stop();
    dp.stop_workers();
    // Drain what the workers left for control, then give every mbuf back.
    for (int i = 0; i < 4; ++i) cp.poll_once(rte_rdtsc());
    cp.set_srt_handler(nullptr);
    cp.set_session_observer(nullptr);
    cp.set_missed_handler(nullptr);
    if (directory) directory->clear();
    cp.shutdown();
    // The drivers' counters while the ports are still open (TX buffers flushed).
    const auto port_stats = dp.port_stats();
    dp.shutdown();
    if (hooks.on_shutdown) hooks.on_shutdown();
    // The same table as /metrics; the ports as they were before they closed,
    // the handshake levels exact now that the control lcore has stopped.
    admin::MetricsInput final_in = admin::gather_metrics(dp, cp, &proxy.counters());
    final_in.ports = port_stats;
    final_in.srt_in_flight = proxy.in_flight();
    final_in.srt_tracked = proxy.tracked();
    final_in.srt_legs_in_use = proxy.legs_in_use();
    if (admin_server) final_in.admin = &admin_server->counters();
    final_in.health = &health;
    spdlog::info("final counters: {}", admin::counters_json(final_in));
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

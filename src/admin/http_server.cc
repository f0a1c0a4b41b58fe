#include "srtfwd/admin/http_server.h"
#include "srtfwd/control/srt_proxy.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "srtfwd/admin/register_auth.h"
#include "srtfwd/admin/streams.h"
#include "srtfwd/control/admin_bridge.h"
#include "srtfwd/control/balancer.h"
#include "srtfwd/dataplane/dataplane.h"
#include "srtfwd_version.h"

namespace srtfwd::admin {

namespace {

// An SRS heartbeat is well under 1 KiB; a body far larger is not one.
constexpr size_t kMaxBodyBytes = 64 * 1024;
// Admin clients are scrapers, origins and operators: two handler threads
// are plenty, and the host's cores belong to the lcores.
constexpr size_t kHandlerThreads = 2;
constexpr time_t kIoTimeoutS = 5;

constexpr const char* kJson = "application/json";
// How long a GET waits for the control lcore's snapshot of its own moment
// (normally <= AdminBridge::kMinDemandGapMs + 10 ms); then it gets the latest.
constexpr std::chrono::milliseconds kFreshWait{1000};
// Each round trip of a Redis read for /api/v1/streams and /api/v1/origins.
constexpr std::chrono::milliseconds kRedisTimeout{1000};
constexpr const char* kPrometheus = "text/plain; version=0.0.4; charset=utf-8";

std::string error_json(int code, const std::string& message) {
  nlohmann::json j;
  j["code"] = code;
  j["error"] = message;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

struct AdminServer::Impl {
  httplib::Server server;
};

AdminServer::AdminServer(std::string host, uint16_t port, const dataplane::Dataplane& dp,
                         const control::ControlPlane& cp, control::AdminBridge& bridge)
    : host_(std::move(host)), port_(port), dp_(dp), cp_(cp), bridge_(bridge) {}

AdminServer::~AdminServer() { stop(); }

std::string AdminServer::metrics_text() const {
  MetricsInput in = gather_metrics(dp_, cp_, srt_);
  in.admin = &counters_;
  in.health = health_;
  return prometheus_text(in);
}

void AdminServer::start() {
  if (impl_) return;
  impl_ = std::make_unique<Impl>();
  auto& svr = impl_->server;
  svr.new_task_queue = [] { return new httplib::ThreadPool(kHandlerThreads); };
  svr.set_payload_max_length(kMaxBodyBytes);
  svr.set_read_timeout(kIoTimeoutS, 0);
  svr.set_write_timeout(kIoTimeoutS, 0);
  // As the Go proxy's apiResponse: the server names itself.
  svr.set_default_headers({{"Server", std::string("srtfwd/") + SRTFWD_VERSION}});

  if (register_token_.empty())
    spdlog::warn(
        "admin API: POST /api/v1/srs/register is open: anyone who reaches {}:{} can register an "
        "origin and have streams sent to it; set [admin] register_token",
        host_, port_);
  // The token in the path is for SRS origins, whose heartbeat drops the
  // url's query: url http://HOST:PORT/api/v1/srs/register/TOKEN.
  auto register_handler = [this](const httplib::Request& req, httplib::Response& res,
                                 bool in_path) {
    if (!register_token_.empty()) {
      const bool has_query = req.has_param("token");
      const std::string query = has_query ? req.get_param_value("token") : std::string();
      const bool has_auth = req.has_header("Authorization");
      const std::string auth = has_auth ? req.get_header_value("Authorization") : std::string();
      const std::string path_token = in_path ? req.matches[1].str() : std::string();
      if (!register_authorized(register_token_, has_query ? &query : nullptr,
                               has_auth ? &auth : nullptr, in_path ? &path_token : nullptr)) {
        uint64_t left_out = 0;
        bool log = false;
        {
          std::lock_guard lock(counters_mu_);
          counters_.register_unauthorized.add();
          log = unauthorized_log_.allow(&left_out);
        }
        if (log)
          spdlog::warn(
              "admin API: /register from {}:{} refused (401): {}{}", req.remote_addr,
              req.remote_port, has_query || has_auth || in_path ? "wrong token" : "no token",
              left_out ? fmt::format(" ({} more refused since the last line)", left_out) : "");
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content(error_json(401, "register token missing or wrong"), kJson);
        return;
      }
    }
    std::string error;
    auto s = control::server_from_register_body(req.body, &error);
    if (!s) {
      res.status = 400;
      res.set_content(error_json(400, "parse body: " + error), kJson);
      return;
    }
    if (!bridge_.post_register(std::move(*s))) {
      res.status = 503;
      res.set_content(error_json(503, "too many registrations queued"), kJson);
      return;
    }
    {
      std::lock_guard lock(counters_mu_);
      counters_.registered.add();
    }
    // The Go proxy answers its own pid, as a string.
    nlohmann::json j;
    j["code"] = 0;
    j["pid"] = std::to_string(::getpid());
    res.set_content(j.dump(), kJson);
  };
  svr.Post("/api/v1/srs/register",
           [register_handler](const httplib::Request& req, httplib::Response& res) {
             register_handler(req, res, false);
           });
  svr.Post(R"(/api/v1/srs/register/([^/]+))",
           [register_handler](const httplib::Request& req, httplib::Response& res) {
             register_handler(req, res, true);
           });
  svr.Get("/api/v1/versions", [](const httplib::Request&, httplib::Response& res) {
    nlohmann::json j;
    j["signature"] = "srtfwd";
    j["version"] = SRTFWD_VERSION;
    res.set_content(j.dump(), kJson);
  });
  // Answered here from one atomic, never through the control lcore: a
  // health check must answer at once, whatever the control lcore is doing.
  svr.Get("/api/v1/health", [this](const httplib::Request&, httplib::Response& res) {
    const HealthState s = health_ != nullptr ? health_->get() : HealthState::kReady;
    nlohmann::json j;
    j["state"] = to_string(s);
    j["sessions"] = dp_.sessions().active();
    res.status = s == HealthState::kReady ? 200 : 503;
    res.set_content(j.dump(), kJson);
  });
  svr.Get("/api/v1/sessions", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(bridge_.fresh_snapshot(kFreshWait).sessions_json, kJson);
  });
  svr.Get("/api/v1/backends", [this](const httplib::Request&, httplib::Response& res) {
    const auto snap = bridge_.fresh_snapshot(kFreshWait);
    // The list is already JSON: wrap it without re-parsing.
    nlohmann::json state = snap.balancer_state;
    res.set_content(
        "{\"balancer\":" + state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
            ",\"backends\":" + snap.backends_json + "}",
        kJson);
  });
  // Where streams are: the mappings and origins from the balancer's store,
  // the sessions from this host's snapshot.
  auto source = [this](const control::AdminBridge::Snapshot& snap) {
    return redis_ ? read_redis(*redis_, kRedisTimeout) : memory_source(*snap.streams);
  };
  svr.Get("/api/v1/streams", [this, source](const httplib::Request&, httplib::Response& res) {
    bridge_.request_streams();
    const auto snap = bridge_.fresh_snapshot(kFreshWait);
    try {
      res.set_content(streams_json(source(snap), snap.streams->sessions), kJson);
    } catch (const std::exception& e) {
      res.status = 503;
      res.set_content(error_json(503, e.what()), kJson);
    }
  });
  svr.Get("/api/v1/origins", [this](const httplib::Request&, httplib::Response& res) {
    try {
      // No session in it: Redis alone answers in redis mode.
      if (!redis_) bridge_.request_streams();
      res.set_content(
          origins_json(redis_ ? read_redis(*redis_, kRedisTimeout)
                              : memory_source(*bridge_.fresh_snapshot(kFreshWait).streams)),
          kJson);
    } catch (const std::exception& e) {
      res.status = 503;
      res.set_content(error_json(503, e.what()), kJson);
    }
  });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(), kPrometheus);
  });

  const std::string where = "admin.listen " + host_ + ":" + std::to_string(port_);
  errno = 0;
  int bound = -1;
  if (port_ == 0) {
    bound = svr.bind_to_any_port(host_);
  } else if (svr.bind_to_port(host_, port_)) {
    bound = port_;
  }
  if (bound <= 0) {
    const std::string why = errno != 0 ? std::strerror(errno) : "address unusable";
    impl_.reset();
    throw std::runtime_error(where + ": cannot bind: " + why);
  }
  bound_port_ = static_cast<uint16_t>(bound);
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  spdlog::info("admin API listening on {}:{}", host_, bound_port_);
}

void AdminServer::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

}  // namespace srtfwd::admin

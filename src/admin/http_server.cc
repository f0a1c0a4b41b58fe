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

std::string AdminServer::metrics_text() const { return prometheus_text(gather_metrics(dp_, cp_, srt_)); }

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

  svr.Post("/api/v1/srs/register", [this](const httplib::Request& req, httplib::Response& res) {
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
    // The Go proxy answers its own pid, as a string.
    nlohmann::json j;
    j["code"] = 0;
    j["pid"] = std::to_string(::getpid());
    res.set_content(j.dump(), kJson);
  });
  svr.Get("/api/v1/versions", [](const httplib::Request&, httplib::Response& res) {
    nlohmann::json j;
    j["signature"] = "srtfwd";
    j["version"] = SRTFWD_VERSION;
    res.set_content(j.dump(), kJson);
  });
  svr.Get("/api/v1/sessions", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(bridge_.fresh_snapshot(kFreshWait).sessions_json, kJson);
  });
  svr.Get("/api/v1/backends", [this](const httplib::Request&, httplib::Response& res) {
    const auto snap = bridge_.fresh_snapshot(kFreshWait);
    // The list is already JSON: wrap it without re-parsing.
    nlohmann::json state = snap.balancer_state;
    res.set_content("{\"balancer\":" + state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                        ",\"backends\":" + snap.backends_json + "}",
                    kJson);
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

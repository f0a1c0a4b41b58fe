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

class Writer {
 public:
  void counter(const char* name, const char* help, uint64_t v) {
    header(name, help, "counter");
    sample(name, "", v);
  }
  void gauge(const char* name, const char* help, uint64_t v) {
    header(name, help, "gauge");
    sample(name, "", v);
  }
  void header(const char* name, const char* help, const char* type) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // labels: already formatted, e.g. reason="idle" (our own names: no escaping needed).
  void sample(const char* name, std::string_view labels, uint64_t v) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += std::to_string(v);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string reason_label(std::string_view r) { return "reason=\"" + std::string(r) + "\""; }

}  // namespace

std::string prometheus_text(const MetricsInput& in) {
  const auto& t = in.totals;
  Writer w;
  w.counter("srtfwd_rx_packets_total", "Packets received by the workers.", t.rx_packets);
  w.counter("srtfwd_rx_bytes_total", "Bytes received by the workers.", t.rx_bytes);
  w.counter("srtfwd_forwarded_packets_total", "Packets of sessions rewritten and queued for TX.",
            t.forwarded);
  w.counter("srtfwd_forwarded_bytes_total", "Bytes of sessions rewritten and queued for TX.",
            t.forwarded_bytes);
  w.counter("srtfwd_tx_packets_total", "Packets the NICs accepted for transmission.", t.tx_packets);
  w.counter("srtfwd_tx_dropped_packets_total", "Packets lost because a TX queue was full.",
            t.tx_dropped);
  w.header("srtfwd_dropped_packets_total", "Packets a worker freed, by reason.", "counter");
  for (size_t i = 0; i < t.dropped.size(); ++i)
    w.sample("srtfwd_dropped_packets_total", reason_label(dataplane::kDropReasonNames[i]), t.dropped[i]);
  w.counter("srtfwd_to_control_packets_total", "Packets handed to the control lcore (slow path).",
            t.to_control);
  w.counter("srtfwd_session_events_total", "SHUTDOWNs seen on live sessions.", t.session_events);
  w.counter("srtfwd_session_events_lost_total", "Session events lost because the ring was full.",
            t.event_ring_full);
  w.counter("srtfwd_control_tx_packets_total", "Packets sent by the control lcore.", in.control_tx);
  w.counter("srtfwd_control_tx_dropped_total", "Packets of the control lcore that could not be sent.",
            in.control_tx_dropped);
  if (in.control != nullptr) {
    const auto& c = *in.control;
    w.counter("srtfwd_slow_path_packets_total", "Packets the control lcore handled.",
              c.slow_path_packets.get());
    w.counter("srtfwd_arp_replies_total", "ARP requests for our addresses answered.",
              c.arp_replies_sent.get());
    w.counter("srtfwd_arp_ignored_total", "ARP packets not for us or malformed.", c.arp_ignored.get());
    w.counter("srtfwd_icmp_echo_replies_total", "ICMP and ICMPv6 echo requests answered.",
              c.icmp_echo_replies.get());
    w.counter("srtfwd_icmp_ignored_total", "Other ICMP, or ICMP not to us.", c.icmp_ignored.get());
    w.counter("srtfwd_ndp_adverts_total", "Neighbour advertisements sent.", c.ndp_adverts_sent.get());
    w.counter("srtfwd_ndp_ignored_total", "NDP packets ignored.", c.ndp_ignored.get());
    w.counter("srtfwd_fragments_dropped_total", "IP fragments dropped (not reassembled).",
              c.fragments_dropped.get());
    w.counter("srtfwd_ip_options_dropped_total", "Packets with IPv4 options or IPv6 extension headers dropped.",
              c.ip_options_dropped.get());
    w.counter("srtfwd_srt_unhandled_total", "SRT packets with no handler.", c.srt_unhandled.get());
    w.counter("srtfwd_sessions_installed_total", "Sessions installed.", c.sessions_installed.get());
    w.counter("srtfwd_session_install_failed_total", "Session installations that failed.",
              c.install_failed.get());
    w.header("srtfwd_sessions_ended_total", "Sessions ended, by reason.", "counter");
    for (size_t i = 0; i < c.sessions_ended.size(); ++i)
      w.sample("srtfwd_sessions_ended_total", reason_label(control::kEndReasonNames[i]),
               c.sessions_ended[i].get());
    w.counter("srtfwd_session_events_stale_total", "Events for sessions already gone.",
              c.events_stale.get());
  }
  if (in.srt != nullptr) {
    const auto& p = *in.srt;
    w.counter("srtfwd_srt_inductions_total", "Caller INDUCTIONs answered with a SYN cookie.",
              p.inductions.get());
    w.counter("srtfwd_srt_conclusions_total", "Caller CONCLUSIONs with a valid cookie.",
              p.conclusions.get());
    w.counter("srtfwd_srt_bad_cookie_total", "CONCLUSIONs ignored for a wrong or stale cookie.",
              p.bad_cookie.get());
    w.counter("srtfwd_srt_malformed_total", "Unparsable handshakes.", p.malformed.get());
    w.counter("srtfwd_srt_established_total", "Handshakes relayed to an origin and answered.",
              p.established.get());
    w.counter("srtfwd_srt_cached_answers_total", "Retransmitted CONCLUSIONs answered from cache.",
              p.cached_answers.get());
    w.counter("srtfwd_srt_backend_retries_total", "Handshake packets retransmitted to origins.",
              p.backend_retries.get());
    w.counter("srtfwd_srt_inductions_dropped_total",
              "Caller INDUCTIONs over their source's rate ([limits]), not answered.",
              p.dropped_inductions.get());
    w.counter("srtfwd_hook_calls_total", "[hooks] calls made (on_publish, on_play).", p.hook_calls.get());
    w.header("srtfwd_hook_answers_total",
             "[hooks] calls by outcome (late: answered after the caller's deadline, ignored).", "counter");
    w.sample("srtfwd_hook_answers_total", "outcome=\"allowed\"", p.hook_allowed.get());
    w.sample("srtfwd_hook_answers_total", "outcome=\"denied\"", p.hook_denied.get());
    w.sample("srtfwd_hook_answers_total", "outcome=\"error\"", p.hook_errors.get());
    w.sample("srtfwd_hook_answers_total", "outcome=\"timeout\"", p.hook_timeouts.get());
    w.sample("srtfwd_hook_answers_total", "outcome=\"late\"", p.hook_late.get());
    w.counter("srtfwd_hook_overflow_total", "Callers refused because max_in_flight hook calls were out.",
              p.hook_overflow.get());
    w.header("srtfwd_srt_rejected_total", "Callers rejected, by reason.", "counter");
    for (size_t i = 0; i < control::kRejectLabels.size(); ++i)
      w.sample("srtfwd_srt_rejected_total", reason_label(control::kRejectLabels[i].first),
               p.rejected_by[i].get());
    w.gauge("srtfwd_srt_handshakes_in_flight", "Handshakes waiting for the balancer or an origin.",
            p.in_flight.get());
    w.gauge("srtfwd_srt_tracked", "Callers with handshake state (in flight, established, rejected).",
            p.tracked.get());
    w.gauge("srtfwd_srt_legs_in_use", "Leg ports allocated.", p.legs_in_use.get());
  }
  // The drivers' own counters, per port: what the NIC lost before a worker
  // saw it (a worker that cannot keep up shows as rx_missed) is only here.
  struct PortMetric {
    const char* name;
    const char* help;
    uint64_t dataplane::PortStats::*field;
  };
  static constexpr PortMetric kPortMetrics[] = {
      {"srtfwd_port_rx_packets_total", "Packets the port received (its driver's count).",
       &dataplane::PortStats::rx_packets},
      {"srtfwd_port_rx_bytes_total", "Bytes the port received.", &dataplane::PortStats::rx_bytes},
      {"srtfwd_port_tx_packets_total", "Packets the port sent.", &dataplane::PortStats::tx_packets},
      {"srtfwd_port_tx_bytes_total", "Bytes the port sent.", &dataplane::PortStats::tx_bytes},
      {"srtfwd_port_rx_missed_total", "Packets the port dropped because its RX queue was full.",
       &dataplane::PortStats::rx_missed},
      {"srtfwd_port_rx_errors_total", "Erroneous frames the port received.",
       &dataplane::PortStats::rx_errors},
      {"srtfwd_port_rx_nombuf_total", "Receive failures for want of a packet buffer.",
       &dataplane::PortStats::rx_nombuf},
      {"srtfwd_port_tx_errors_total", "Frames the port failed to send.", &dataplane::PortStats::tx_errors},
  };
  if (!in.ports.empty()) {
    for (const auto& m : kPortMetrics) {
      w.header(m.name, m.help, "counter");
      for (const auto& p : in.ports)
        w.sample(m.name, "port=\"" + std::to_string(p.port_id) + "\"", p.*m.field);
    }
  }
  // Each worker lcore's share of the totals above (label lcore): how evenly
  // the RX queues spread the load, and which worker drops what.
  struct WorkerMetric {
    const char* name;
    const char* help;
    uint64_t dataplane::CounterTotals::*field;
  };
  static constexpr WorkerMetric kWorkerMetrics[] = {
      {"srtfwd_worker_rx_packets_total", "Packets received by this worker.",
       &dataplane::CounterTotals::rx_packets},
      {"srtfwd_worker_rx_bytes_total", "Bytes received by this worker.",
       &dataplane::CounterTotals::rx_bytes},
      {"srtfwd_worker_forwarded_packets_total", "Packets this worker rewrote and queued for TX.",
       &dataplane::CounterTotals::forwarded},
      {"srtfwd_worker_forwarded_bytes_total", "Bytes this worker rewrote and queued for TX.",
       &dataplane::CounterTotals::forwarded_bytes},
      {"srtfwd_worker_tx_packets_total", "Packets the NICs accepted from this worker.",
       &dataplane::CounterTotals::tx_packets},
      {"srtfwd_worker_tx_dropped_packets_total", "Packets this worker lost to a full TX queue.",
       &dataplane::CounterTotals::tx_dropped},
      {"srtfwd_worker_to_control_packets_total", "Packets this worker handed to the control lcore.",
       &dataplane::CounterTotals::to_control},
      {"srtfwd_worker_session_events_total", "SHUTDOWNs this worker saw on live sessions.",
       &dataplane::CounterTotals::session_events},
  };
  if (!in.workers.empty()) {
    auto lcore_label = [](const dataplane::WorkerStats& ws) {
      return "lcore=\"" + std::to_string(ws.lcore) + "\"";
    };
    for (const auto& m : kWorkerMetrics) {
      w.header(m.name, m.help, "counter");
      for (const auto& ws : in.workers) w.sample(m.name, lcore_label(ws), ws.counters.*m.field);
    }
    w.header("srtfwd_worker_dropped_packets_total", "Packets this worker freed (every reason).",
             "counter");
    for (const auto& ws : in.workers)
      w.sample("srtfwd_worker_dropped_packets_total", lcore_label(ws), ws.counters.dropped_total());
    w.header("srtfwd_worker_rx_queues", "RX queues this worker polls (0: it idles).", "gauge");
    for (const auto& ws : in.workers)
      w.sample("srtfwd_worker_rx_queues", lcore_label(ws), ws.rx_queues);
  }
  w.gauge("srtfwd_sessions_active", "Sessions in the table.", in.sessions_active);
  w.gauge("srtfwd_mbufs_in_use", "Packet buffers out of the pool.", in.mbufs_in_use);
  w.header("srtfwd_session_slots", "Session table slots by state (two live per session).", "gauge");
  w.sample("srtfwd_session_slots", "state=\"live\"", in.slots_live);
  w.sample("srtfwd_session_slots", "state=\"retired\"", in.slots_retired);
  w.sample("srtfwd_session_slots", "state=\"free\"", in.slots_free);
  return w.take();
}

struct AdminServer::Impl {
  httplib::Server server;
};

AdminServer::AdminServer(std::string host, uint16_t port, const dataplane::Dataplane& dp,
                         const control::ControlPlane& cp, control::AdminBridge& bridge)
    : host_(std::move(host)), port_(port), dp_(dp), cp_(cp), bridge_(bridge) {}

AdminServer::~AdminServer() { stop(); }

MetricsInput gather_metrics(const dataplane::Dataplane& dp, const control::ControlPlane& cp,
                            const control::SrtProxyCounters* srt) {
  MetricsInput in;
  // The workers first, then the totals: a worker counts on in between, so the
  // totals are at least the workers' sum, never less.
  in.workers = dp.worker_stats();
  in.totals = dp.totals();
  in.control_tx = dp.control_tx_packets();
  in.control_tx_dropped = dp.control_tx_dropped();
  in.control = &cp.counters();
  // SessionTable::active() is a relaxed atomic load; sessions() just has no
  // const overload.
  in.sessions_active = dp.sessions().active();
  in.mbufs_in_use = dp.mbufs_in_use();
  const dataplane::FlowTable& f = dp.sessions().flows();
  in.slots_live = f.live();
  in.slots_retired = f.retired();
  in.slots_free = f.free();
  in.srt = srt;
  in.ports = dp.port_stats();
  return in;
}

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

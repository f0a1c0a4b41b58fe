#include "srtfwd/admin/telemetry.h"

#include <rte_telemetry.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "srtfwd/admin/metrics.h"
#include "srtfwd/control/admin_bridge.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/control/srt_proxy.h"
#include "srtfwd/dataplane/dataplane.h"

namespace srtfwd::admin {

namespace {

// The DPDK limits: 256 dict entries, 512 array entries, 128-byte strings,
// 16 KiB per answer. Lists are capped well below what fits.
constexpr size_t kMaxListed = 100;
// As the admin API's GET: a snapshot at least as new as the request.
constexpr std::chrono::milliseconds kFreshWait{1000};

// Guards the attached object: a callback holds it while it reads, so stop()
// returns only once no callback uses the objects being torn down.
std::mutex g_mu;
const Telemetry* g_attached = nullptr;
std::once_flag g_registered;
bool g_register_ok = false;

rte_tel_data* td(void* p) { return static_cast<rte_tel_data*>(p); }

bool parse_u64(std::string_view s, uint64_t* v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

template <typename Fn>
int with_attached(Fn&& fn) {
  std::lock_guard lock(g_mu);
  if (g_attached == nullptr) return -ENODEV;  // not yet or no longer running
  return fn(*g_attached);
}

int cb_stats(const char*, const char*, rte_tel_data* d) {
  return with_attached([&](const Telemetry& t) { return t.stats(d); });
}
int cb_lcores(const char*, const char* params, rte_tel_data* d) {
  return with_attached([&](const Telemetry& t) { return t.lcores(params, d); });
}
int cb_sessions(const char*, const char* params, rte_tel_data* d) {
  return with_attached([&](const Telemetry& t) { return t.sessions(params, d); });
}
int cb_backends(const char*, const char*, rte_tel_data* d) {
  return with_attached([&](const Telemetry& t) { return t.backends(d); });
}

}  // namespace

Telemetry::Telemetry(const dataplane::Dataplane& dp, const control::ControlPlane& cp,
                     control::AdminBridge& bridge, const control::SrtProxyCounters* srt)
    : dp_(dp), cp_(cp), bridge_(bridge), srt_(srt) {}

Telemetry::~Telemetry() { stop(); }

bool Telemetry::start() {
  std::call_once(g_registered, [] {
    struct Cmd {
      const char* name;
      telemetry_cb fn;
      const char* help;
    };
    static constexpr Cmd kCmds[] = {
        {"/srtfwd/stats", cb_stats, "srtfwd counters and gauges, as /metrics. No parameters"},
        {"/srtfwd/lcores", cb_lcores,
         "Per worker lcore counters. Parameters: none (all, as arrays) or an lcore id"},
        {"/srtfwd/sessions", cb_sessions, "Sessions (first 100). Parameters: none or a session id"},
        {"/srtfwd/backends", cb_backends, "The balancer's state and origins. No parameters"},
    };
    g_register_ok = true;
    for (const auto& c : kCmds) {
      if (const int rc = rte_telemetry_register_cmd(c.name, c.fn, c.help); rc != 0) {
        spdlog::warn("telemetry: cannot register {}: {}", c.name, std::strerror(-rc));
        g_register_ok = false;
      }
    }
  });
  std::lock_guard lock(g_mu);
  g_attached = this;
  attached_ = true;
  return g_register_ok;
}

void Telemetry::stop() {
  std::lock_guard lock(g_mu);
  if (!attached_) return;
  if (g_attached == this) g_attached = nullptr;
  attached_ = false;
}

int Telemetry::stats(void* p) const {
  rte_tel_data* d = td(p);
  // The same gathering and table as /metrics, so the names and sums match.
  rte_tel_data_start_dict(d);
  MetricsInput in = gather_metrics(dp_, cp_, srt_);
  in.admin = admin_;
  in.health = health_;
  for (const auto& [key, v] : telemetry_stats(in)) rte_tel_data_add_dict_u64(d, key.c_str(), v);
  return 0;
}

int Telemetry::lcores(const char* params, void* p) const {
  rte_tel_data* d = td(p);
  // The per worker lcore metrics of the table, by their exit JSON keys.
  MetricsInput in;
  in.workers = dp_.worker_stats();
  const auto fields = lcore_fields();
  if (params != nullptr && *params != '\0') {
    uint64_t want = 0;
    if (!parse_u64(params, &want)) return -EINVAL;
    for (size_t w = 0; w < in.workers.size(); ++w) {
      const auto& l = in.workers[w];
      if (l.lcore != want) continue;
      rte_tel_data_start_dict(d);
      rte_tel_data_add_dict_u64(d, "lcore", l.lcore);
      const auto values = lcore_values(in, w);
      for (size_t f = 0; f < fields.size(); ++f)
        rte_tel_data_add_dict_u64(d, std::string(fields[f]).c_str(), values[f]);
      for (size_t i = 0; i < l.counters.dropped.size(); ++i)
        rte_tel_data_add_dict_u64(
            d, ("dropped/" + std::string(dataplane::kDropReasonNames[i])).c_str(),
            l.counters.dropped[i]);
      return 0;
    }
    return -ENOENT;  // not a worker lcore
  }
  rte_tel_data_start_dict(d);
  rte_tel_data* names = rte_tel_data_alloc();
  if (names == nullptr) return -ENOMEM;
  rte_tel_data_start_array(names, RTE_TEL_STRING_VAL);
  for (const auto f : fields) rte_tel_data_add_array_string(names, std::string(f).c_str());
  rte_tel_data_add_dict_container(d, "fields", names, 0);
  for (size_t w = 0; w < in.workers.size(); ++w) {
    rte_tel_data* row = rte_tel_data_alloc();
    if (row == nullptr) return -ENOMEM;
    rte_tel_data_start_array(row, RTE_TEL_U64_VAL);
    for (const uint64_t v : lcore_values(in, w)) rte_tel_data_add_array_u64(row, v);
    rte_tel_data_add_dict_container(d, std::to_string(in.workers[w].lcore).c_str(), row, 0);
  }
  return 0;
}

int Telemetry::sessions(const char* params, void* p) const {
  rte_tel_data* d = td(p);
  const auto snap = bridge_.fresh_snapshot(kFreshWait);
  const auto j = nlohmann::json::parse(snap.sessions_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return -EIO;
  const auto& list = j.value("sessions", nlohmann::json::array());
  auto str = [](const nlohmann::json& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [](const nlohmann::json& o, const char* k) -> uint64_t {
    auto it = o.find(k);
    return it != o.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
  };
  if (params != nullptr && *params != '\0') {
    uint64_t want = 0;
    if (!parse_u64(params, &want)) return -EINVAL;
    for (const auto& s : list) {
      if (num(s, "id") != want) continue;
      rte_tel_data_start_dict(d);
      rte_tel_data_add_dict_u64(d, "id", want);
      for (const char* k : {"caller", "vip", "backend", "leg"})
        rte_tel_data_add_dict_string(d, k, str(s, k).c_str());
      for (const char* k : {"caller_socket_id", "backend_socket_id", "age_ms"})
        rte_tel_data_add_dict_u64(d, k, num(s, k));
      for (const char* dir : {"from_caller", "from_backend"}) {
        const auto it = s.find(dir);
        if (it == s.end() || !it->is_object()) continue;
        for (const char* k : {"packets", "bytes", "idle_ms"})
          rte_tel_data_add_dict_u64(d, (std::string(dir) + "/" + k).c_str(), num(*it, k));
      }
      return 0;
    }
    return -ENOENT;  // no such session (or beyond the snapshot's listing cap)
  }
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "active", num(j, "active"));
  rte_tel_data* arr = rte_tel_data_alloc();
  if (arr == nullptr) return -ENOMEM;
  rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
  uint64_t listed = 0;
  for (const auto& s : list) {
    if (listed == kMaxListed) break;
    const std::string line =
        std::to_string(num(s, "id")) + " " + str(s, "caller") + " -> " + str(s, "backend");
    rte_tel_data_add_array_string(arr, line.c_str());
    ++listed;
  }
  rte_tel_data_add_dict_u64(d, "listed", listed);
  rte_tel_data_add_dict_container(d, "sessions", arr, 0);
  return 0;
}

int Telemetry::backends(void* p) const {
  rte_tel_data* d = td(p);
  const auto snap = bridge_.fresh_snapshot(kFreshWait);
  const auto j = nlohmann::json::parse(snap.backends_json, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return -EIO;
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "balancer", snap.balancer_state.c_str());
  rte_tel_data_add_dict_u64(d, "count", j.size());
  rte_tel_data* arr = rte_tel_data_alloc();
  if (arr == nullptr) return -ENOMEM;
  rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
  size_t listed = 0;
  for (const auto& s : j) {
    if (listed++ == kMaxListed) break;
    std::string line = s.value("server_id", std::string()) + " " + s.value("ip", std::string());
    if (auto it = s.find("srt");
        it != s.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
      line += ":" + (*it)[0].get<std::string>();
    rte_tel_data_add_array_string(arr, line.c_str());
  }
  rte_tel_data_add_dict_container(d, "backends", arr, 0);
  return 0;
}

}  // namespace srtfwd::admin

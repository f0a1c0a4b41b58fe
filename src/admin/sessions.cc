#include "srtfwd/admin/sessions.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "srtfwd/dataplane/dataplane.h"

namespace srtfwd::admin {

std::string sessions_json(dataplane::Dataplane& dp, uint64_t hz, uint64_t now) {
  constexpr uint32_t kMaxListed = 10000;
  auto& t = dp.sessions();
  nlohmann::json list = nlohmann::json::array();
  // The live sessions, not every record of the capacity; listed by index.
  std::vector<uint32_t> live(t.live_count());
  for (uint32_t i = 0; i < live.size(); ++i) live[i] = t.live_index(i);
  if (live.size() > kMaxListed) {
    std::nth_element(live.begin(), live.begin() + kMaxListed, live.end());
    live.resize(kMaxListed);
  }
  std::sort(live.begin(), live.end());
  for (uint32_t i : live) {
    const auto& s = *t.at(i);
    const auto& sp = s.spec;
    auto dir = [&](int k) {
      const dataplane::DirCounters& d = s.dir[k]->counters();
      // As of the control lcore's last sweep pass over this session.
      const uint64_t last = s.active_tsc[k].load(std::memory_order_relaxed);
      return nlohmann::json{{"packets", d.packets.get()},
                            {"bytes", d.bytes.get()},
                            {"idle_ms", now > last ? (now - last) / (hz / 1000) : 0}};
    };
    list.push_back({{"id", s.index},
                    {"caller", sp.caller_ip.to_string() + ":" + std::to_string(sp.caller_udp)},
                    {"vip", sp.vip.to_string() + ":" + std::to_string(sp.vip_udp)},
                    {"backend", sp.backend_ip.to_string() + ":" + std::to_string(sp.backend_udp)},
                    {"leg", sp.leg_ip.to_string() + ":" + std::to_string(sp.leg_udp)},
                    {"caller_socket_id", sp.caller_socket_id},
                    {"backend_socket_id", sp.backend_socket_id},
                    {"age_ms", now > s.installed_tsc ? (now - s.installed_tsc) / (hz / 1000) : 0},
                    {"from_caller", dir(dataplane::kFromCaller)},
                    {"from_backend", dir(dataplane::kFromBackend)}});
  }
  return nlohmann::json{{"active", t.active()}, {"listed", live.size()}, {"sessions", list}}.dump();
}

}  // namespace srtfwd::admin

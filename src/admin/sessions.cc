#include "srtfwd/admin/sessions.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "srtfwd/dataplane/dataplane.h"

namespace srtfwd::admin {

std::string_view api_mode(srt::Mode m) {
  switch (m) {
    case srt::Mode::Request: return "play";
    case srt::Mode::Publish: return "publish";
    case srt::Mode::Bidirectional: return "bidirectional";
  }
  return "unknown";
}

std::string sessions_json(dataplane::Dataplane& dp, uint64_t hz, uint64_t now,
                          const std::vector<control::SessionStream>& streams) {
  constexpr uint32_t kMaxListed = 10000;
  std::unordered_map<uint32_t, const control::SessionStream*> by_index;
  by_index.reserve(streams.size());
  for (const auto& ss : streams) by_index.emplace(ss.session, &ss);
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
    nlohmann::json j = {{"id", s.index},
                    {"caller", sp.caller_ip.to_string() + ":" + std::to_string(sp.caller_udp)},
                    {"vip", sp.vip.to_string() + ":" + std::to_string(sp.vip_udp)},
                    {"backend", sp.backend_ip.to_string() + ":" + std::to_string(sp.backend_udp)},
                    {"leg", sp.leg_ip.to_string() + ":" + std::to_string(sp.leg_udp)},
                    {"caller_socket_id", sp.caller_socket_id},
                    {"backend_socket_id", sp.backend_socket_id},
                    {"age_ms", now > s.installed_tsc ? (now - s.installed_tsc) / (hz / 1000) : 0},
                    {"from_caller", dir(dataplane::kFromCaller)},
                    {"from_backend", dir(dataplane::kFromBackend)}};
    // A session installed by other means than a handshake has no stream.
    const auto it = by_index.find(s.index);
    j["stream_url"] = it == by_index.end() ? nlohmann::json() : nlohmann::json(it->second->url);
    j["mode"] = it == by_index.end() ? nlohmann::json() : nlohmann::json(api_mode(it->second->mode));
    j["origin"] = it == by_index.end() ? nlohmann::json() : nlohmann::json(it->second->server_key);
    list.push_back(std::move(j));
  }
  return nlohmann::json{{"active", t.active()}, {"listed", live.size()}, {"sessions", list}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<control::StreamSession> stream_sessions(dataplane::Dataplane& dp, uint64_t hz, uint64_t now,
                                                    uint64_t now_unix_ms,
                                                    const std::vector<control::SessionStream>& streams) {
  auto& t = dp.sessions();
  std::vector<control::StreamSession> out;
  out.reserve(streams.size());
  for (const auto& ss : streams) {
    if (ss.session >= t.capacity()) continue;
    const auto& s = *t.at(ss.session);
    const auto& sp = s.spec;
    const uint64_t age_ms = now > s.installed_tsc ? (now - s.installed_tsc) / (hz / 1000) : 0;
    out.push_back({ss.session, ss.url, ss.mode, ss.server_key,
                   sp.caller_ip.to_string() + ":" + std::to_string(sp.caller_udp),
                   now_unix_ms > age_ms ? now_unix_ms - age_ms : 0});
  }
  return out;
}

}  // namespace srtfwd::admin

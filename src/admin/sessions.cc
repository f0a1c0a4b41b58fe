#include "srtfwd/admin/sessions.h"

#include <algorithm>
#include <nlohmann/json.hpp>
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
                          const control::SrtProxy* streams) {
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
    const auto ss = streams != nullptr ? streams->session_stream(s.index) : std::nullopt;
    j["stream_url"] = ss ? nlohmann::json(ss->url) : nlohmann::json();
    j["mode"] = ss ? nlohmann::json(api_mode(ss->mode)) : nlohmann::json();
    j["origin"] = ss ? nlohmann::json(ss->server_key) : nlohmann::json();
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

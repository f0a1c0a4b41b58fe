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
  // Every live session's rates and histograms, the listed ones or not:
  // once a second at most (a random read of four lines per session, with
  // 100,000 sessions a few tens of ms of the control lcore).
  dataplane::LinkHistograms& lh = t.link_histograms();
  const bool walk = lh.walked_tsc == 0 || now - lh.walked_tsc >= hz;
  if (walk) lh.walked_tsc = now;
  dataplane::LinkHistograms::Snapshot hist;
  for (uint32_t i = 0; walk && i < t.live_count(); ++i) {
    auto& s = *t.at(t.live_index(i));
    for (int k = 0; k < 2; ++k) {
      const dataplane::DirCounters& d = s.dir[k]->counters();
      const uint64_t pkts = d.packets.get();
      s.rate[k].update(now, hz, pkts, d.bytes.get());
      const dataplane::LinkStats& l = t.link(s.index, k);
      if (l.acks.get() != 0)
        hist.add(l.rtt_us.get(), dataplane::link_loss_percent(l.lost.get(), pkts));
    }
  }
  if (walk) lh.publish(hist);
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
      const uint64_t pkts = d.packets.get();
      // What this direction's receiver reports (its ACKs and NAKs travel
      // the other way), and the R flags of this direction's data.
      const dataplane::LinkStats& l = t.link(s.index, k);
      return nlohmann::json{{"packets", pkts},
                            {"bytes", d.bytes.get()},
                            {"idle_ms", now > last ? (now - last) / (hz / 1000) : 0},
                            {"rate_pps", s.rate[k].pps},
                            {"rate_bps", s.rate[k].bps},
                            {"acks", l.acks.get()},
                            {"rtt_us", l.rtt_us.get()},
                            {"rtt_var_us", l.rtt_var_us.get()},
                            {"avail_buf", l.avail_buf.get()},
                            {"recv_rate_pps", l.recv_rate_pps.get()},
                            {"recv_rate_bps", l.recv_rate_bps.get() * 8},
                            {"link_capacity_pps", l.link_capacity_pps.get()},
                            {"naks", l.naks.get()},
                            {"lost", l.lost.get()},
                            {"loss_percent", dataplane::link_loss_percent(l.lost.get(), pkts)},
                            {"retransmitted", l.retransmitted.get()}};
    };
    nlohmann::json j = {
        {"id", s.index},
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

std::vector<control::StreamSession> stream_sessions(
    dataplane::Dataplane& dp, uint64_t hz, uint64_t now, uint64_t now_unix_ms,
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

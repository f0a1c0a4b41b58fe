#include "srtfwd/admin/streams.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "srtfwd/admin/sessions.h"

namespace srtfwd::admin {

namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// "2026-12-06T07:54:00.123Z"
std::string iso_utc(uint64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03uZ", static_cast<unsigned>(unix_ms % 1000));
  return buf;
}

// The origin's SRT address, "ip:port" ("" when it has none).
std::string address(const OriginState* o) {
  if (o == nullptr || !o->info) return "";
  const auto ep = o->info->srt_endpoint();
  if (!ep) return "";
  return ep->first.to_string() + ":" + std::to_string(ep->second);
}

json session_json(const control::StreamSession& s) {
  return {{"id", s.session},
          {"caller", s.caller},
          {"mode", api_mode(s.mode)},
          {"since", iso_utc(s.since_unix_ms)},
          {"since_unix_ms", s.since_unix_ms}};
}

}  // namespace

StreamsSource memory_source(const control::StreamsState& s) {
  StreamsSource src;
  src.source = "memory";
  src.mappings = s.mappings;
  std::sort(src.mappings.begin(), src.mappings.end(),
            [](const auto& a, const auto& b) { return a.url < b.url; });
  // The balancer lists live origins only: it forgets an expired one.
  for (const auto& info : s.servers) {
    OriginState o;
    o.key = info.redis_key();
    o.alive = true;
    o.info = info;
    src.origins.push_back(std::move(o));
  }
  return src;
}

std::string streams_json(const StreamsSource& src,
                         const std::vector<control::StreamSession>& local) {
  std::map<std::string, const OriginState*> origins;
  for (const auto& o : src.origins) origins.emplace(o.key, &o);
  struct Stream {
    std::string origin_key;
    const control::StreamSession* publisher = nullptr;
    std::vector<const control::StreamSession*> players;
    uint64_t since = 0;  // the earliest local session's install
  };
  std::map<std::string, Stream> streams;  // by URL, in order
  for (const auto& m : src.mappings) streams[m.url].origin_key = m.server_key;
  for (const auto& s : local) {
    Stream& st = streams[s.url];
    // A stream whose mapping is gone (its origin expired) still shows where
    // its sessions went.
    if (st.origin_key.empty()) st.origin_key = s.server_key;
    if (s.mode == srt::Mode::Request) {
      st.players.push_back(&s);
    } else if (st.publisher == nullptr || s.since_unix_ms < st.publisher->since_unix_ms) {
      // An origin takes one publisher per stream: the first one here.
      st.publisher = &s;
    }
    if (st.since == 0 || s.since_unix_ms < st.since) st.since = s.since_unix_ms;
  }
  json list = json::array();
  for (const auto& [url, st] : streams) {
    const auto it = origins.find(st.origin_key);
    const OriginState* o = it == origins.end() ? nullptr : it->second;
    json players = json::array();
    for (const auto* p : st.players) players.push_back(session_json(*p));
    list.push_back(
        {{"url", url},
         {"origin",
          {{"key", st.origin_key}, {"address", address(o)}, {"alive", o != nullptr && o->alive}}},
         {"publisher", st.publisher ? session_json(*st.publisher) : json()},
         {"players", std::move(players)},
         // Redis keeps no time for a mapping: only a stream with
         // a session here has one.
         {"since", st.since ? json(iso_utc(st.since)) : json()}});
  }
  return dump({{"source", src.source},
               {"sessions", "this host's"},
               {"truncated", src.truncated},
               {"count", list.size()},
               {"streams", std::move(list)}});
}

std::string origins_json(const StreamsSource& src) {
  std::map<std::string, size_t> load;
  for (const auto& m : src.mappings) ++load[m.server_key];
  std::vector<const OriginState*> sorted;
  for (const auto& o : src.origins) sorted.push_back(&o);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->key < b->key; });
  json list = json::array();
  for (const OriginState* o : sorted) {
    const auto l = load.find(o->key);
    json j = {{"key", o->key},
              {"address", address(o)},
              {"alive", o->alive},
              {"ttl_s", o->ttl_s >= 0 ? json(o->ttl_s) : json()},
              {"streams", l == load.end() ? 0 : l->second}};
    if (o->info) {
      j["ip"] = o->info->ip;
      j["server_id"] = o->info->server_id;
      j["service_id"] = o->info->service_id;
      j["pid"] = o->info->pid;
      j["srt"] = o->info->srt;
      j["update_at"] = o->info->update_at;
      // seen_ms 0 is a [[backend]] from the config: no heartbeat, no expiry.
      j["static"] = src.source == "memory" && o->info->seen_ms == 0;
    } else {
      j["update_at"] = json();
    }
    list.push_back(std::move(j));
  }
  return dump({{"source", src.source},
               {"truncated", src.truncated},
               {"count", list.size()},
               {"origins", std::move(list)}});
}

}  // namespace srtfwd::admin

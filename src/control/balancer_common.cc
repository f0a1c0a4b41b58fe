// What both balancers share: the server record in the SRS Go proxy's JSON
// (proxy/srs.go, type SRSServer), the SRS heartbeat body it accepts on
// POST /api/v1/srs/register (proxy/api.go) and listen endpoints.
//
// Everything here parses input someone else wrote (an origin's heartbeat, a
// Redis value another proxy wrote), so nothing throws: nlohmann's parser
// runs without exceptions and every field is type-checked before use.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "srtfwd/control/balancer.h"
#include "srtfwd/net/endpoint.h"

namespace srtfwd::control {

namespace {

using Json = nlohmann::json;
// The Go proxy marshals SRSServer in struct order; keeping that order makes
// our records byte-comparable with theirs in redis-cli.
using OrderedJson = nlohmann::ordered_json;

// Bounds on what an origin may register: SRS sends a handful of short
// strings; anything far beyond is a broken or hostile client, and these
// values end up in Redis keys, logs and every admin API answer.
constexpr size_t kMaxIdLength = 256;
constexpr size_t kMaxEndpoints = 32;
constexpr size_t kMaxEndpointLength = 128;

// What Go's encoding/json writes for a zero time.Time: the Go proxy can
// unmarshal it, while an empty string would fail its whole record.
constexpr const char* kGoZeroTime = "0001-01-01T00:00:00Z";

bool has_control_char(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// Reads an optional string field; a null counts as absent (Go leaves the
// field untouched when it unmarshals null).
bool read_string(const Json& obj, const char* name, std::string* out, std::string* error) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_string()) {
    *error = std::string("field ") + name + " is not a string";
    return false;
  }
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > kMaxIdLength) {
    *error = std::string("field ") + name + " is too long";
    return false;
  }
  if (has_control_char(s)) {
    *error = std::string("field ") + name + " has a control character";
    return false;
  }
  *out = s;
  return true;
}

bool read_list(const Json& obj, const char* name, std::vector<std::string>* out,
               std::string* error) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_array()) {
    *error = std::string("field ") + name + " is not a list of strings";
    return false;
  }
  if (it->size() > kMaxEndpoints) {
    *error = std::string("field ") + name + " has too many entries";
    return false;
  }
  std::vector<std::string> v;
  for (const auto& e : *it) {
    if (!e.is_string()) {
      *error = std::string("field ") + name + " is not a list of strings";
      return false;
    }
    const auto& s = e.get_ref<const std::string&>();
    if (s.size() > kMaxEndpointLength || has_control_char(s)) {
      *error = std::string("field ") + name + " has a malformed entry";
      return false;
    }
    v.push_back(s);
  }
  *out = std::move(v);
  return true;
}

std::optional<Json> parse_object(const std::string& text, std::string* error) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *error = "not valid JSON";
    return std::nullopt;
  }
  if (!j.is_object()) {
    *error = "not a JSON object";
    return std::nullopt;
  }
  return j;
}

bool valid_scheme(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '-' || c == '.'))
      return false;
  return true;
}

// "host:port", ":port", "[v6]:port" or "port" (what follows "scheme://").
std::optional<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s) {
  auto ep = net::parse_endpoint(s, {.empty_host = true, .port_only = true});
  if (!ep) return std::nullopt;
  return std::pair{std::move(ep->host), ep->port};
}

// RFC 3339 with nanoseconds in UTC, which Go's time.Time unmarshals.
std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ns % 1000000000));
  return buf;
}

}  // namespace

std::string ServerInfo::redis_key() const {
  return "srs-proxy-server:" + server_id + "-" + service_id + "-" + pid;
}

std::optional<std::pair<net::IpAddr, uint16_t>> ServerInfo::srt_endpoint() const {
  if (srt.empty()) return std::nullopt;
  auto ep = parse_listen_endpoint(srt[0]);
  if (!ep) return std::nullopt;
  // An origin listening on a specific address is reached there; one that
  // listens on every address (empty, 0.0.0.0, ::) or names a host we cannot
  // use without a resolver is reached on its registered ip, which is all
  // the Go proxy ever uses.
  if (!ep->first.empty()) {
    if (auto host = net::IpAddr::parse(ep->first); host && !host->is_unspecified())
      return std::pair{*host, ep->second};
  }
  auto ip_addr = net::IpAddr::parse(ip);
  if (!ip_addr || ip_addr->is_unspecified() || ip_addr->is_multicast()) return std::nullopt;
  return std::pair{*ip_addr, ep->second};
}

std::string to_json(const ServerInfo& s) {
  // Field names and omitempty as SRSServer's json tags: empty strings and
  // empty lists are left out; update_at is always written (Go's omitempty
  // never omits a struct such as time.Time).
  OrderedJson j = OrderedJson::object();
  auto str = [&](const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
  };
  auto list = [&](const char* k, const std::vector<std::string>& v) {
    if (!v.empty()) j[k] = v;
  };
  str("ip", s.ip);
  str("device_id", s.device_id);
  str("server_id", s.server_id);
  str("service_id", s.service_id);
  str("pid", s.pid);
  list("rtmp", s.rtmp);
  list("http", s.http);
  list("api", s.api);
  list("srt", s.srt);
  list("rtc", s.rtc);
  j["update_at"] = s.update_at.empty() ? std::string(kGoZeroTime) : s.update_at;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<ServerInfo> server_from_json(const std::string& text, std::string* error) {
  std::string local_error;
  if (error == nullptr) error = &local_error;
  auto j = parse_object(text, error);
  if (!j) return std::nullopt;
  ServerInfo s;
  if (!read_string(*j, "ip", &s.ip, error) || !read_string(*j, "device_id", &s.device_id, error) ||
      !read_string(*j, "server_id", &s.server_id, error) ||
      !read_string(*j, "service_id", &s.service_id, error) ||
      !read_string(*j, "pid", &s.pid, error) || !read_list(*j, "rtmp", &s.rtmp, error) ||
      !read_list(*j, "http", &s.http, error) || !read_list(*j, "api", &s.api, error) ||
      !read_list(*j, "srt", &s.srt, error) || !read_list(*j, "rtc", &s.rtc, error) ||
      !read_string(*j, "update_at", &s.update_at, error))
    return std::nullopt;
  return s;
}

std::optional<ServerInfo> server_from_register_body(const std::string& body, std::string* error) {
  std::string local_error;
  if (error == nullptr) error = &local_error;
  // The Go proxy treats an empty body as an empty object, which then fails
  // on the first mandatory field: same answer here.
  auto j = body.empty() ? std::optional<Json>(Json::object()) : parse_object(body, error);
  if (!j) return std::nullopt;
  // The heartbeat names the ids "server" and "service" where the stored
  // record says "server_id" and "service_id". SRS also sends "summaries"
  // and "rtsp", which the Go proxy ignores, as we do.
  ServerInfo s;
  if (!read_string(*j, "ip", &s.ip, error) || !read_string(*j, "device_id", &s.device_id, error) ||
      !read_string(*j, "server", &s.server_id, error) ||
      !read_string(*j, "service", &s.service_id, error) || !read_string(*j, "pid", &s.pid, error) ||
      !read_list(*j, "rtmp", &s.rtmp, error) || !read_list(*j, "http", &s.http, error) ||
      !read_list(*j, "api", &s.api, error) || !read_list(*j, "srt", &s.srt, error) ||
      !read_list(*j, "rtc", &s.rtc, error))
    return std::nullopt;
  // The Go proxy's mandatory fields, in its order and words. rtmp is
  // mandatory there because its RTMP proxy reads RTMP[0] of any server it
  // picks: a record without it, written by us into a shared Redis, would
  // break the Go proxies beside us.
  if (s.ip.empty())
    *error = "empty ip";
  else if (s.server_id.empty())
    *error = "empty server";
  else if (s.service_id.empty())
    *error = "empty service";
  else if (s.pid.empty())
    *error = "empty pid";
  else if (s.rtmp.empty())
    *error = "empty rtmp";
  else {
    s.update_at = rfc3339_now();
    return s;
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, uint16_t>> parse_listen_endpoint(const std::string& s) {
  if (s.empty() || s.size() > kMaxEndpointLength) return std::nullopt;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return std::nullopt;
  const std::string_view v(s);
  if (const size_t sep = v.find("://"); sep != std::string_view::npos) {
    if (!valid_scheme(v.substr(0, sep))) return std::nullopt;
    return parse_host_port(v.substr(sep + 3));
  }
  // The Go proxy's legacy "protocol:ip:port" (exactly three parts).
  if (v.front() != '[') {
    const size_t first = v.find(':');
    const size_t last = v.rfind(':');
    if (first != std::string_view::npos && first != last &&
        v.substr(first + 1, last - first - 1).find(':') == std::string_view::npos) {
      if (!valid_scheme(v.substr(0, first))) return std::nullopt;
      return parse_host_port(v.substr(first + 1));
    }
  }
  return parse_host_port(v);
}

}  // namespace srtfwd::control

#include "srtfwd/control/hooks.h"

#include <nlohmann/json.hpp>

namespace srtfwd::control {

std::string hook_body(const HookRequest& r) {
  // SRS's vhost for a stream ID without h is its default vhost, and its
  // stream URL leaves the default vhost out (srs_generate_stream_url).
  const std::string vhost = r.id.vhost.empty() ? std::string(srt::kDefaultVhost) : r.id.vhost;
  std::string stream_url = vhost == srt::kDefaultVhost ? std::string() : vhost;
  stream_url += "/" + r.id.app + "/" + r.id.stream;
  nlohmann::json j;
  j["server_id"] = r.server_id;
  j["action"] = r.publish ? "on_publish" : "on_play";
  j["client_id"] = r.client_id;
  j["ip"] = r.ip.to_string();
  j["vhost"] = vhost;
  j["app"] = r.id.app;
  j["tcUrl"] = "srt://" + vhost + "/" + r.id.app;
  j["stream"] = r.id.stream;
  j["param"] = r.id.param.empty() ? std::string() : "?" + r.id.param;
  j["stream_url"] = stream_url;
  j["stream_id"] = r.stream_id;
  if (!r.publish) j["pageUrl"] = "";
  // The stream ID is checked UTF-8 before it gets here (parse_stream_id);
  // replace, never throw, whatever reaches us.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HookVerdict read_hook_answer(int status, std::string_view body) {
  if (status != 200) return HookVerdict::kDenied;
  // SRS compares the raw body with "0"; a trailing newline (echo 0) is
  // forgiven.
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' '))
    body.remove_suffix(1);
  if (body == "0") return HookVerdict::kAllowed;
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return HookVerdict::kDenied;
  const auto it = j.find("code");
  if (it == j.end() || !it->is_number_integer()) return HookVerdict::kDenied;
  return it->get<int64_t>() == 0 ? HookVerdict::kAllowed : HookVerdict::kDenied;
}

}  // namespace srtfwd::control

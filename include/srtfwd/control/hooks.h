// HTTP hooks with SRS's semantics ([hooks] on_publish / on_play): what the
// forwarder asks before it contacts any origin, and how it reads the answer.
//
// The request is SRS's own (trunk/src/app/srs_app_http_hooks.cpp,
// SrsHttpHooks::on_publish / on_play): a POST of a JSON object with action,
// client_id, ip, vhost, app, tcUrl, stream, param, stream_url (SRS's form:
// "/app/stream" on the default vhost, else "vhost/app/stream"), stream_id,
// server_id, and pageUrl for on_play. Where SRS sends its internal stream id
// in stream_id, srtfwd sends the caller's raw SRT stream ID: a hook behind a
// proxy wants what the caller asked for.
//
// The answer is read as SRS reads it (SrsHttpHooks::do_post): allowed only
// by HTTP 200 with a body of "0" or of a JSON object whose "code" is the
// integer 0. Any other answer refuses the caller (1403). No answer (hook
// down, unreachable, timed out) is an error, which [hooks] on_error turns
// into a refusal (1503) or a pass.
//
// No HTTP here: the call goes through HandshakeEnv::call_hook (HookClient on
// the control plane, a fake in the tests).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "srtfwd/net/addr.h"
#include "srtfwd/srt/stream_id.h"

namespace srtfwd::control {

enum class HookVerdict : uint8_t { kAllowed, kDenied, kError };

struct HookCall {
  std::string url;   // http://host[:port]/path
  std::string body;  // the JSON request
};
// The verdict and a word for the log (the HTTP status, the error).
using HookDone = std::function<void(HookVerdict, const std::string& detail)>;

struct HookRequest {
  bool publish = false;  // on_publish, else on_play
  std::string client_id;
  net::IpAddr ip;
  srt::StreamId id;
  std::string stream_id;  // the raw SRT stream ID
  std::string server_id;
};
std::string hook_body(const HookRequest& r);

// Allowed or denied, from an HTTP answer (never kError: that is no answer).
HookVerdict read_hook_answer(int status, std::string_view body);

}  // namespace srtfwd::control

// The session list the admin API (GET /api/v1/sessions) and the telemetry
// command /srtfwd/sessions serve: built on the control lcore, which owns the
// session table, and published through control::AdminBridge.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "srtfwd/control/admin_bridge.h"
#include "srtfwd/control/srt_proxy.h"

namespace srtfwd::dataplane {
class Dataplane;
}

namespace srtfwd::admin {

// {"active": n, "listed": m, "sessions": [...]}: every live session up to a
// cap (the table can hold millions), by index, with its addresses, socket
// IDs, age and per-direction counters, and with `streams` (the handshake
// relay, which records each session's stream) its stream_url, mode and
// origin key. hz is the TSC
// rate, now a TSC. Call on the control lcore only.
std::string sessions_json(dataplane::Dataplane& dp, uint64_t hz, uint64_t now,
                          const control::SrtProxy* streams = nullptr);

// The live sessions of `streams` with their caller and wall-clock install
// time (now_unix_ms is the wall clock at TSC now), for /api/v1/streams.
// Control lcore only.
std::vector<control::StreamSession> stream_sessions(
    dataplane::Dataplane& dp, uint64_t hz, uint64_t now, uint64_t now_unix_ms,
    const std::vector<control::SessionStream>& streams);

// A stream mode as the admin API names it: "publish", "play", "bidirectional".
std::string_view api_mode(srt::Mode m);

}  // namespace srtfwd::admin

// The session list the admin API (GET /api/v1/sessions) and the telemetry
// command /srtfwd/sessions serve: built on the control lcore, which owns the
// session table, and published through control::AdminBridge.
#pragma once

#include <cstdint>
#include <string>

namespace srtfwd::dataplane {
class Dataplane;
}

namespace srtfwd::admin {

// {"active": n, "listed": m, "sessions": [...]}: every live session up to a
// cap (the table can hold millions), by index, with its addresses, socket
// IDs, age and per-direction counters. hz is the TSC rate, now a TSC. Call
// on the control lcore only.
std::string sessions_json(dataplane::Dataplane& dp, uint64_t hz, uint64_t now);

}  // namespace srtfwd::admin

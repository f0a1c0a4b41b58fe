// srtfwd's state for whatever decides where traffic goes: GET /api/v1/health
// on the admin listener (200 when ready, 503 otherwise, so a load balancer or
// a BGP speaker's check can read the status code alone), /metrics, and the
// [bgp] commands (app/shell_command.h) that tell the host's BGP speaker.
//
//   starting  from start-up until the ports are up and the control loop runs
//   ready     serving; announce me
//   draining  SIGTERM: withdraw me. Everything is still served for [bgp]
//             withdraw_wait_ms (the routers converge), then the drain
//             refuses new callers (1503) while sessions go on.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "srtfwd/dataplane/counters.h"

namespace srtfwd::admin {

enum class HealthState : uint8_t { kStarting, kReady, kDraining };

constexpr std::string_view to_string(HealthState s) {
  switch (s) {
    case HealthState::kStarting: return "starting";
    case HealthState::kReady: return "ready";
    case HealthState::kDraining: return "draining";
  }
  return "starting";
}

// The [bgp] commands: started, ended other than with exit status 0 (or not
// started at all), killed at their deadline. Written by the command thread
// only (Counter is single-writer).
struct BgpCounters {
  dataplane::Counter commands, command_failures, command_timeouts;
};

struct Health {
  // Set by the main lcore's thread, read by the admin thread.
  std::atomic<HealthState> state{HealthState::kStarting};
  BgpCounters bgp;

  HealthState get() const { return state.load(std::memory_order_acquire); }
  void set(HealthState s) { state.store(s, std::memory_order_release); }
};

}  // namespace srtfwd::admin

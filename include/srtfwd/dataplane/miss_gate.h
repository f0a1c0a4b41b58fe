// The miss gate: a worker's budget of packets that missed the flow table
// and go to the control lcore anyway, for a feature that wants to see them
// ([srt] follow_rebinding: a caller whose NAT moved it to a new source port
// sends to a live session's socket ID from an unknown 4-tuple). Closed
// (budget 0) unless such a feature is on; then a non-handshake SRT packet
// with no session takes a token or is dropped and counted
// (DropReason::kMissOverBudget), so that a flood of random packets cannot
// fill the control ring or the control lcore's time.
//
// A GCRA token bucket over the TSC: one word of state, no floating point, and
// no timer; the worker reads the TSC only for a packet that reaches the gate.
// Plain C++ (no EAL), so that it is unit-tested alone.
#pragma once

#include <algorithm>
#include <cstdint>

namespace srtfwd::dataplane {

struct MissGate {
  // The most packets let through back to back: one burst's worth of a
  // rebound caller's stream reaches control at once; more is a flood.
  static constexpr uint32_t kMaxBurst = 32;

  uint64_t interval = 0;   // TSC cycles per token; 0: the gate is closed
  uint64_t tolerance = 0;  // (burst - 1) * interval: how far ahead tat may run
  uint64_t tat = 0;        // the theoretical arrival time of the next packet

  // per_s tokens a second (0: closed), hz: the TSC's frequency.
  void set(uint32_t per_s, uint64_t hz) noexcept {
    if (per_s == 0 || hz == 0) {
      interval = tolerance = tat = 0;
      return;
    }
    interval = std::max<uint64_t>(1, hz / per_s);
    tolerance = (std::min(per_s, kMaxBurst) - 1) * interval;
    tat = 0;
  }
  bool open() const noexcept { return interval != 0; }
  // One packet at TSC `now`: true if it may go to control.
  bool take(uint64_t now) noexcept {
    const uint64_t t = std::max(tat, now);
    if (t - now > tolerance) return false;
    tat = t + interval;
    return true;
  }
};

}  // namespace srtfwd::dataplane

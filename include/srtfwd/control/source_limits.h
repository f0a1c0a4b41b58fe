// Per-source admission for the SRT listener ([limits]): allow and deny
// lists, and caps on what one source may hold (handshakes in flight,
// sessions) and ask for (INDUCTIONs a second, a token bucket).
//
// The counts live in a fixed table of slots indexed by a keyed hash of the
// source (SipHash under a random key), so a flood from spoofed addresses
// creates nothing and cannot aim at a chosen slot; two sources that share a
// slot share its caps. A source is an IPv4 address or an IPv6 /64.
// Control lcore only; no locks.
#pragma once

#include <cstdint>
#include <vector>

#include "srtfwd/control/options.h"
#include "srtfwd/net/addr.h"
#include "srtfwd/srt/siphash.h"

namespace srtfwd::control {

class SourceLimits {
 public:
  SourceLimits(const LimitsOptions& opt, uint64_t tsc_hz);

  // Not denied, and allowed when an allow list is set.
  bool permitted(const net::IpAddr& src) const;
  // Anything per source to count (else slot() need not be called).
  bool per_source() const { return !slots_.empty(); }
  uint32_t slot(const net::IpAddr& src) const;

  // Takes one INDUCTION token of the slot; false: the bucket is empty.
  bool take_induction(uint32_t slot, uint64_t now);
  bool handshakes_full(uint32_t slot) const {
    return opt_.max_handshakes_per_source != 0 &&
           slots_[slot].handshakes >= opt_.max_handshakes_per_source;
  }
  bool sessions_full(uint32_t slot) const {
    return opt_.max_sessions_per_source != 0 &&
           slots_[slot].sessions >= opt_.max_sessions_per_source;
  }
  void add_handshake(uint32_t slot) { ++slots_[slot].handshakes; }
  void end_handshake(uint32_t slot) { --slots_[slot].handshakes; }
  void add_session(uint32_t slot) { ++slots_[slot].sessions; }
  void end_session(uint32_t slot) { --slots_[slot].sessions; }
  uint32_t handshakes(uint32_t slot) const { return slots_[slot].handshakes; }
  uint32_t sessions(uint32_t slot) const { return slots_[slot].sessions; }

 private:
  struct Slot {
    uint32_t handshakes = 0, sessions = 0;
    uint64_t tokens = 0;    // in thousandths of an INDUCTION
    uint64_t refilled = 0;  // TSC of the last refill; 0: never (a full bucket)
  };
  const LimitsOptions& opt_;
  uint64_t hz_;
  srt::SipHashKey key_{};
  std::vector<Slot> slots_;
};

}  // namespace srtfwd::control

#include "srtfwd/control/source_limits.h"

#include <algorithm>
#include <random>

namespace srtfwd::control {

SourceLimits::SourceLimits(const LimitsOptions& opt, uint64_t tsc_hz) : opt_(opt), hz_(tsc_hz) {
  std::random_device rd;
  for (auto& b : key_) b = static_cast<uint8_t>(rd());
  if (opt_.per_source()) slots_.resize(std::max<uint32_t>(opt_.source_slots, 1));
}

bool SourceLimits::permitted(const net::IpAddr& src) const {
  for (const auto& p : opt_.deny)
    if (p.contains(src)) return false;
  if (opt_.allow.empty()) return true;
  for (const auto& p : opt_.allow)
    if (p.contains(src)) return true;
  return false;
}

uint32_t SourceLimits::slot(const net::IpAddr& src) const {
  // IPv4: the whole address (its mapped form); IPv6: the /64.
  const size_t len = src.is_v4() ? 16 : 8;
  return static_cast<uint32_t>(srt::siphash24(key_, {src.b.data(), len}) % slots_.size());
}

bool SourceLimits::take_induction(uint32_t slot, uint64_t now) {
  const uint64_t rate = opt_.inductions_per_source_s;
  if (rate == 0) return true;
  Slot& s = slots_[slot];
  const uint64_t full = rate * 1000;  // a second's worth
  if (s.refilled == 0 || now < s.refilled || now - s.refilled >= hz_) {
    s.tokens = full;
  } else {
    // elapsed < hz_ here, so the product stays far from overflow.
    s.tokens = std::min(full, s.tokens + (now - s.refilled) * full / hz_);
  }
  s.refilled = now;
  if (s.tokens < 1000) return false;
  s.tokens -= 1000;
  return true;
}

}  // namespace srtfwd::control

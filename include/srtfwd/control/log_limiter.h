// Bounds how many lines a per-caller log site writes: a flood of bad
// handshakes must not turn into a flood of log lines (disk, journald, the
// control lcore's own time). Counters still count every event; the log shows
// the first ones of each second and then how many it left out.
#pragma once

#include <chrono>
#include <cstdint>

namespace srtfwd::control {

class LogLimiter {
 public:
  explicit LogLimiter(uint32_t lines_per_second) noexcept : limit_(lines_per_second) {}

  // True when a line may be written now. *suppressed then holds how many
  // lines were refused since the last one allowed (0 most of the time), for
  // the caller to mention.
  bool allow(uint64_t now_ms, uint64_t* suppressed) noexcept {
    if (now_ms - window_start_ms_ >= 1000) {
      window_start_ms_ = now_ms;
      used_ = 0;
    }
    if (used_ >= limit_) {
      ++suppressed_;
      return false;
    }
    ++used_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }
  bool allow(uint64_t* suppressed) noexcept {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    return allow(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()),
        suppressed);
  }

 private:
  uint32_t limit_;
  uint32_t used_ = 0;
  uint64_t window_start_ms_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace srtfwd::control

// HTTP hook calls off the control lcore: a small pool of threads posts each
// call with cpp-httplib and queues its verdict; the control lcore posts
// without waiting and collects verdicts each loop turn (poll). Calls queued
// or running are bounded ([hooks] max_in_flight): beyond, post() says no.
// Every call is bounded on connect, send and receive by [hooks] timeout_ms
// plus a little, so a hung hook holds a thread for a bounded time; the
// caller's own deadline (SrtProxy, timeout_ms) comes first and does not
// wait for it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "srtfwd/control/hooks.h"
#include "srtfwd/control/options.h"

namespace srtfwd::control {

class HookClient {
 public:
  struct Result {
    uint64_t ticket = 0;
    HookVerdict verdict = HookVerdict::kError;
    std::string detail;  // "HTTP 403", "connection refused", ...
  };

  explicit HookClient(const HookOptions& opt);
  ~HookClient();
  HookClient(const HookClient&) = delete;
  HookClient& operator=(const HookClient&) = delete;

  // Queues a call; false when max_in_flight calls are queued or running.
  bool post(uint64_t ticket, const HookCall& call);
  // Moves the verdicts that arrived since the last poll into out (appended).
  void poll(std::vector<Result>& out);

  // Splits "http://host[:port]/path?q" into "http://host[:port]" and
  // "/path?q"; false if it is not an http:// URL with a host.
  static bool split_url(const std::string& url, std::string* origin, std::string* path);

 private:
  struct Job {
    uint64_t ticket;
    HookCall call;
  };
  void worker();
  Result call(const Job& job) const;

  const HookOptions opt_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<Result> done_;
  size_t in_flight_ = 0;  // queued + running, under mu_
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace srtfwd::control

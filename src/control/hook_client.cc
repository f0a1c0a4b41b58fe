#include "srtfwd/control/hook_client.h"

#include <httplib.h>

#include <algorithm>
#include <utility>

namespace srtfwd::control {

namespace {
// Threads posting calls: a hook answers in a round trip or two, so a few
// cover thousands of callers a second; more only wait on a slow hook.
constexpr size_t kThreads = 4;
constexpr uint32_t kGraceMs = 200;
}  // namespace

HookClient::HookClient(const HookOptions& opt) : opt_(opt) {
  const size_t n = std::min<size_t>(kThreads, std::max<uint32_t>(opt_.max_in_flight, 1));
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { worker(); });
}

HookClient::~HookClient() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool HookClient::split_url(const std::string& url, std::string* origin, std::string* path) {
  constexpr std::string_view kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return false;
  const size_t slash = url.find('/', kScheme.size());
  *origin = url.substr(0, slash);
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  return origin->size() > kScheme.size();
}

bool HookClient::post(uint64_t ticket, const HookCall& call) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (in_flight_ >= opt_.max_in_flight) return false;
    ++in_flight_;
    jobs_.push_back(Job{ticket, call});
  }
  cv_.notify_one();
  return true;
}

void HookClient::poll(std::vector<Result>& out) {
  std::lock_guard<std::mutex> lk(mu_);
  if (done_.empty()) return;
  for (auto& r : done_) out.push_back(std::move(r));
  done_.clear();
}

void HookClient::worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Result r = call(job);
    std::lock_guard<std::mutex> lk(mu_);
    --in_flight_;
    done_.push_back(std::move(r));
  }
}

HookClient::Result HookClient::call(const Job& job) const {
  Result r;
  r.ticket = job.ticket;
  std::string origin, path;
  if (!split_url(job.call.url, &origin, &path)) {  // the config checks; kept safe anyway
    r.detail = "not an http:// URL";
    return r;
  }
  httplib::Client cli(origin);
  // A little past the caller's own deadline (SrtProxy decides a time-out,
  // counted as such, and answers the caller); this bound only frees the
  // thread from a hung hook.
  const uint32_t ms = opt_.timeout_ms + kGraceMs;
  const time_t sec = ms / 1000;
  const time_t usec = static_cast<time_t>(ms % 1000) * 1000;
  cli.set_connection_timeout(sec, usec);
  cli.set_read_timeout(sec, usec);
  cli.set_write_timeout(sec, usec);
  cli.set_keep_alive(false);
  auto res = cli.Post(path, job.call.body, "application/json");
  if (!res) {
    r.detail = httplib::to_string(res.error());
    return r;
  }
  r.verdict = read_hook_answer(res->status, res->body);
  r.detail = "HTTP " + std::to_string(res->status);
  return r;
}

}  // namespace srtfwd::control

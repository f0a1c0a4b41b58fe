#include "srtfwd/control/admin_bridge.h"

#include <algorithm>
#include <utility>

namespace srtfwd::control {

bool AdminBridge::post_register(ServerInfo s) {
  std::lock_guard lock(mu_);
  if (registrations_.size() >= kMaxQueuedRegistrations) return false;
  registrations_.push_back(std::move(s));
  return true;
}

std::vector<ServerInfo> AdminBridge::take_registrations() {
  std::vector<ServerInfo> out;
  std::lock_guard lock(mu_);
  out.swap(registrations_);
  return out;
}

void AdminBridge::set_streams(StreamsState s) {
  auto p = std::make_shared<const StreamsState>(std::move(s));
  std::lock_guard lock(mu_);
  next_streams_ = std::move(p);
}

void AdminBridge::publish(std::string sessions_json, std::string backends_json,
                          std::string balancer_state, uint64_t as_of) {
  {
    std::lock_guard lock(mu_);
    if (next_streams_) snap_.streams = std::move(next_streams_);
    snap_.sessions_json = std::move(sessions_json);
    snap_.backends_json = std::move(backends_json);
    snap_.balancer_state = std::move(balancer_state);
    ++snap_.published;
    served_.store(std::max(as_of, served_.load(std::memory_order_relaxed)),
                  std::memory_order_relaxed);
  }
  published_cv_.notify_all();
}

AdminBridge::Snapshot AdminBridge::fresh_snapshot(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mu_);
  const uint64_t mine = requested_.fetch_add(1, std::memory_order_acq_rel) + 1;
  const bool fresh = published_cv_.wait_for(
      lock, max_wait, [&] { return served_.load(std::memory_order_relaxed) >= mine; });
  Snapshot out = snap_;
  out.fresh = fresh;
  return out;
}

AdminBridge::Snapshot AdminBridge::snapshot() const {
  std::lock_guard lock(mu_);
  return snap_;
}

std::string AdminBridge::sessions_json() const {
  std::lock_guard lock(mu_);
  return snap_.sessions_json;
}

std::string AdminBridge::backends_json() const {
  std::lock_guard lock(mu_);
  return snap_.backends_json;
}

std::string AdminBridge::balancer_state() const {
  std::lock_guard lock(mu_);
  return snap_.balancer_state;
}

std::string servers_to_json(const std::vector<ServerInfo>& servers) {
  // Each element is already JSON: joining avoids a parse and a re-dump.
  std::string out = "[";
  for (size_t i = 0; i < servers.size(); ++i) {
    if (i != 0) out += ',';
    out += to_json(servers[i]);
  }
  out += ']';
  return out;
}

}  // namespace srtfwd::control

// The hand-off between the admin thread (HTTP API) and the control lcore.
//
//   admin thread --post_register()--> queue --take_registrations()--> control
//   control --publish() every ~250 ms--> snapshots --getters--> admin thread
//
// The balancer and the session table belong to the control lcore; the
// admin thread never touches them. A mutex guards the hand-off: neither side
// is on the data path, and each holds it for a move or a copy of a string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "srtfwd/control/balancer.h"

namespace srtfwd::control {

class AdminBridge {
 public:
  // Heartbeats queued at most (SRS sends one per origin every few seconds:
  // more than this between two control ticks is a flood, not a cluster).
  static constexpr size_t kMaxQueuedRegistrations = 4096;

  struct Snapshot {
    std::string sessions_json = "[]";
    std::string backends_json = "[]";
    std::string balancer_state;
    uint64_t published = 0;  // how many snapshots so far (0: none yet)
  };

  // Admin thread: queues an origin's heartbeat. False when the queue is full.
  bool post_register(ServerInfo s);
  // Control lcore: everything queued since the last call, oldest first.
  std::vector<ServerInfo> take_registrations();

  // Control lcore: replaces the snapshots the admin API serves.
  void publish(std::string sessions_json, std::string backends_json, std::string balancer_state);
  // Admin thread: copies of the latest snapshots.
  Snapshot snapshot() const;
  std::string sessions_json() const;
  std::string backends_json() const;
  std::string balancer_state() const;

 private:
  mutable std::mutex mu_;
  std::vector<ServerInfo> registrations_;
  Snapshot snap_;
};

// The origins as the admin API shows them: a JSON array of the Go proxy's
// server records (to_json), for publish(..., backends_json, ...).
std::string servers_to_json(const std::vector<ServerInfo>& servers);

}  // namespace srtfwd::control

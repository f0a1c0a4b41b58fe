// The hand-off between the admin thread (HTTP API) and the control lcore.
//
//   admin thread --post_register()--> queue --take_registrations()--> control
//   control --publish() every 500 ms--> snapshots --getters--> admin thread
//   admin --fresh_snapshot()--> request n --wanted()/requests()--> control
//   control --publish(..., as_of = n)--> admin
//
// fresh_snapshot() returns a snapshot the control lcore began building after
// the call began, so a client never reads state older than its own request
// (a session installed just before a GET is listed). The control lcore publishes on demand at
// most every kMinDemandGapMs: a client polling in a loop cannot make it spend
// its time serialising the session table.
//
// The balancer and the session table belong to the control lcore; the
// admin thread never touches them. A mutex guards the hand-off: neither side
// is on the data path, and each holds it for a move or a copy of a string.
#pragma once

#include <cstddef>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "srtfwd/control/balancer.h"

namespace srtfwd::control {

// A local session as GET /api/v1/streams lists it under its stream.
struct StreamSession {
  uint32_t session = 0;  // the session table index (its "id" in /api/v1/sessions)
  std::string url;
  srt::Mode mode = srt::Mode::Request;
  std::string server_key;
  std::string caller;          // "ip:port"
  uint64_t since_unix_ms = 0;  // wall clock at install
};

// What the control lcore knows of streams: its sessions' streams, and in
// memory mode the balancer's mappings and origins (the Redis balancer's are
// read from Redis by the admin thread).
struct StreamsState {
  std::vector<StreamSession> sessions;
  std::vector<StreamMapping> mappings;
  std::vector<ServerInfo> servers;
};

class AdminBridge {
 public:
  // Heartbeats queued at most (SRS sends one per origin every few seconds:
  // more than this between two control ticks is a flood, not a cluster).
  static constexpr size_t kMaxQueuedRegistrations = 4096;

  struct Snapshot {
    std::string sessions_json = "[]";
    std::string backends_json = "[]";
    std::string balancer_state;
    std::shared_ptr<const StreamsState> streams = std::make_shared<StreamsState>();
    uint64_t published = 0;  // how many snapshots so far (0: none yet)
    bool fresh = true;       // false: fresh_snapshot() timed out
  };

  // Admin thread: queues an origin's heartbeat. False when the queue is full.
  bool post_register(ServerInfo s);
  // Control lcore: everything queued since the last call, oldest first.
  std::vector<ServerInfo> take_registrations();

  // The control lcore's on-demand publishes are at least this far apart.
  static constexpr uint32_t kMinDemandGapMs = 100;

  // Control lcore: read before building a snapshot, handed to publish() as
  // as_of: the snapshot answers every request up to this one.
  uint64_t requests() const noexcept { return requested_.load(std::memory_order_acquire); }
  // Control lcore: whether an admin thread waits for a fresh snapshot (two
  // relaxed loads: cheap enough to ask every tick).
  bool wanted() const noexcept {
    return requested_.load(std::memory_order_relaxed) != served_.load(std::memory_order_relaxed);
  }
  // Control lcore: replaces the snapshots the admin API serves, and wakes
  // admin threads waiting in fresh_snapshot() for requests up to as_of.
  void publish(std::string sessions_json, std::string backends_json, std::string balancer_state,
               uint64_t as_of);
  // Admin thread: asks for the streams state in the next snapshot (call
  // before fresh_snapshot()). The control lcore builds it on demand only:
  // it lists every session, which the periodic snapshots cap.
  void request_streams() noexcept { streams_wanted_.store(true, std::memory_order_release); }
  // Control lcore: whether one was asked for since the last call; read
  // after requests(), so that a snapshot answering a request has it.
  bool take_streams_request() noexcept {
    return streams_wanted_.exchange(false, std::memory_order_acq_rel);
  }
  // Control lcore: the streams state the next publish() carries.
  void set_streams(StreamsState s);
  // Admin thread: a snapshot published after this call began, waiting up
  // to max_wait for it; the latest one if the control lcore did not publish
  // in time (it is stuck or stopping), with .fresh = false.
  Snapshot fresh_snapshot(std::chrono::milliseconds max_wait);
  // Admin thread: copies of the latest snapshots.
  Snapshot snapshot() const;
  std::string sessions_json() const;
  std::string backends_json() const;
  std::string balancer_state() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable published_cv_;
  std::atomic<uint64_t> requested_{0};  // fresh_snapshot() calls so far
  std::atomic<uint64_t> served_{0};     // as_of of the latest snapshot
  std::atomic<bool> streams_wanted_{false};
  std::vector<ServerInfo> registrations_;
  std::shared_ptr<const StreamsState> next_streams_;
  Snapshot snap_;
};

// The origins as the admin API shows them: a JSON array of the Go proxy's
// server records (to_json), for publish(..., backends_json, ...).
std::string servers_to_json(const std::vector<ServerInfo>& servers);

}  // namespace srtfwd::control

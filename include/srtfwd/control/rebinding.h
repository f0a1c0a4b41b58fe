// Caller NAT rebinding ([srt] follow_rebinding): a caller whose NAT mapping
// changed mid-stream (a mobile encoder, carrier-grade NAT) arrives from a new
// source port, or address, while every packet still names the socket ID of
// its live session. The workers send such a packet to control (the miss
// gate, dataplane/miss_gate.h); this index finds the session by that ID and
// judges whether it may move to the packet's 4-tuple:
//
//   unknown_socket  no live session on this listener has that socket ID
//   rule            same_ip: the packet's source address is not the caller's
//   rate            the session moved less than kSessionIntervalMs ago, or
//                   the listener's rebinds this second are over
//                   [srt] rebinding_per_s
//
// so that a sender that guesses socket IDs can neither churn sessions nor
// (with same_ip) take one to another address. Which ID: callers send to the
// socket ID the listener's answer named, and that answer is the origin's
// own (socket IDs are not rewritten): SessionSpec::backend_socket_id.
//
// Plain C++ over addresses and TSC values, no DPDK: unit-tested alone.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "srtfwd/control/options.h"
#include "srtfwd/dataplane/miss_gate.h"
#include "srtfwd/net/addr.h"

namespace srtfwd::control {

// Why a rebind was refused: the `reason` label of srtfwd_rebind_refused_total.
enum class RebindRefusal : uint8_t { kUnknownSocket, kRule, kRate, kCount };
inline constexpr std::array<std::string_view, static_cast<size_t>(RebindRefusal::kCount)>
    kRebindRefusalNames = {"unknown_socket", "rule", "rate"};

class Rebinding {
 public:
  // One session moves at most once in this long: a NAT rebinds rarely, and
  // two senders that share the caller's address (same_ip) and alternate
  // cannot bounce its return stream faster.
  static constexpr uint64_t kSessionIntervalMs = 1000;

  Rebinding(FollowRebinding mode, uint32_t per_s, uint64_t tsc_hz);
  bool enabled() const noexcept { return mode_ != FollowRebinding::kOff; }

  // A live session, by the socket ID its caller sends to, with the caller's
  // address and the listener (address, port) it called.
  void add(uint32_t socket_id, uint32_t session, const net::IpAddr& caller_ip,
           const net::IpAddr& vip, uint16_t vip_udp);
  void remove(uint32_t socket_id, uint32_t session);
  size_t size() const noexcept { return index_.size(); }

  struct Decision {
    bool move = false;
    RebindRefusal refusal = RebindRefusal::kUnknownSocket;  // when !move
    uint32_t session = 0;                                   // when move
  };
  // A packet of no session from src to (dst, dport) naming socket_id, at TSC
  // now. A move takes its rate tokens: the caller re-keys the session, then
  // reports it with moved().
  Decision decide(uint32_t socket_id, const net::IpAddr& src, const net::IpAddr& dst,
                  uint16_t dport, uint64_t now);
  void moved(uint32_t socket_id, uint32_t session, const net::IpAddr& caller_ip);

 private:
  struct Entry {
    uint32_t session;
    uint16_t vip_udp;
    net::IpAddr caller_ip, vip;
    uint64_t last_move_tsc;  // 0: never moved
  };
  FollowRebinding mode_;
  uint64_t session_interval_;
  // The listener's budget of moves, as the workers' miss gate: a GCRA bucket.
  dataplane::MissGate global_;
  // Socket IDs are the origins' and may collide between them: a multimap.
  std::unordered_multimap<uint32_t, Entry> index_;
};

}  // namespace srtfwd::control

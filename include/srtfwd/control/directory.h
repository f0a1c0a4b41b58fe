// The session directory and the second chance between hosts (issue 27).
//
// Several srtfwd hosts behind one ECMP route to a VIP: when the router's
// set of next hops changes, a caller's packets may be hashed to a host that
// has no session for them. Each host writes its sessions to Redis, keyed by
// the caller's 4-tuple, with its own data address:
//
//   srtfwd:session:{caller ip:port}-{vip:port}
//       {"owner":"198.18.2.1","hop_port":19523,"caller_socket_id":..,"backend_socket_id":..}
//       EX ttl_s, rewritten for every live session every ttl_s / 3
//
// ({prefix}:srtfwd:session:... with a key prefix, as the balancer's keys).
// Writes, refreshes and deletes go out batched, a script over many keys
// per command, on the balancer's own connection, from the control lcore:
// the data path pays nothing for the directory.
//
// A packet with no session that reaches the control lcore through the miss
// gate (a data packet to one of our addresses) is given a second chance:
// its owner is looked up (a local cache first, then Redis, asynchronously:
// the packet itself is dropped, counted, SRT retransmits it) and, when it
// is another host, a hop entry for its 4-tuple goes into the flow table.
// From then on the workers encapsulate every packet of the flow to the
// owner with no further lookup (net/encap.h); the owner's workers take the
// outer headers off and relay the inner packet as their own, so the
// origin's return path is unchanged. A packet never makes more than one
// hop: a decapsulated packet is never hopped again. Hop entries end when
// idle (as sessions do) and when the directory no longer names their owner;
// the packets of a flow whose owner is gone are then dropped (counted) and
// the caller's SRT times out.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "srtfwd/control/balancer.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/control/options.h"
#include "srtfwd/dataplane/session_table.h"
#include "srtfwd/net/parse.h"

struct rte_mbuf;

namespace srtfwd::control {

// The key of a session's caller 4-tuple ("srtfwd:session:198.18.100.2:40000-198.18.200.1:10080",
// IPv6 addresses in brackets), before any key prefix.
std::string directory_key(const net::IpAddr& caller, uint16_t caller_port, const net::IpAddr& vip,
                          uint16_t vip_port);
// An entry's value, and back (nullopt: not one of ours, or garbled).
struct DirectoryEntry {
  net::IpAddr owner;
  uint16_t hop_port = 0;
  uint32_t caller_socket_id = 0, backend_socket_id = 0;
};
std::string directory_value(const DirectoryEntry& e);
std::optional<DirectoryEntry> parse_directory_value(const std::string& text);

class Directory final : public SessionObserver, public MissedHandler {
 public:
  // opt.address must be set (config fills it in). key_prefix: the
  // balancer's ([balancer] / PROXY_REDIS_KEY_PREFIX).
  Directory(ControlPlane& cp, Balancer& redis, const DirectoryOptions& opt,
            const std::string& key_prefix);
  ~Directory() override;

  // SessionObserver (the control plane calls them).
  void on_session_installed(const dataplane::Session& s) override;
  void on_session_ended(const dataplane::Session& s) override;

  // A data packet no session took, addressed to us (the miss gate). Owns m:
  // always dropped, counted; the flow's later packets take the hop once
  // its owner is known.
  void on_missed(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now) override;
  // Every control tick: batched writes, refreshes, hop expiry.
  void tick(uint64_t now);
  // Hop entries in the flow table (a gauge).
  size_t hops() const { return hops_.size(); }
  // Removes every hop entry (shutdown).
  void clear();

 private:
  struct Op {
    bool put;  // else delete
    std::string key, value;
  };
  struct Owner {
    bool known = false;  // false: the directory has no other host for this flow
    DirectoryEntry entry;
    uint64_t expires_ms = 0;
  };
  struct Hop {
    uint32_t slot = 0;
    DirectoryEntry entry;
    uint64_t seen_packets = 0;
    uint64_t active_ms = 0;
    uint64_t checked_ms = 0;
    bool checking = false;
  };
  struct KeyHash {
    size_t operator()(const dataplane::SessionKey& k) const noexcept;
  };

  std::string prefixed(const std::string& key) const;
  std::string key_of(const dataplane::Session& s) const;
  void flush_ops();
  void refresh(uint64_t now_ms);
  void sweep_hops(uint64_t now_ms);
  void look_up(const dataplane::SessionKey& k, uint64_t now_ms);
  // The directory's answer for k: a hop entry when the owner is another
  // host we can reach, the cache either way.
  void learned(const dataplane::SessionKey& k, const std::optional<DirectoryEntry>& e,
               uint64_t now_ms);
  bool install_hop(const dataplane::SessionKey& k, const DirectoryEntry& e, uint64_t now_ms);
  void remove_hop(const dataplane::SessionKey& k);
  uint64_t ms(uint64_t tsc) const { return tsc / (cp_.tsc_hz() / 1000); }

  ControlPlane& cp_;
  Balancer& redis_;
  DirectoryOptions opt_;
  std::string key_prefix_;
  std::string owner_text_;  // our address, as the entries name it
  ControlCounters& c_;
  std::vector<Op> ops_;  // writes and deletes waiting for the next flush
  uint32_t refresh_cursor_ = 0;
  uint64_t refresh_due_ms_ = 0;  // the current pass's start
  uint64_t now_ms_ = 0;
  std::unordered_map<dataplane::SessionKey, Owner, KeyHash> cache_;
  std::unordered_map<dataplane::SessionKey, uint64_t, KeyHash> lookups_;  // in flight, by deadline
  std::unordered_map<dataplane::SessionKey, Hop, KeyHash> hops_;
  uint64_t next_sweep_ms_ = 0;
};

}  // namespace srtfwd::control

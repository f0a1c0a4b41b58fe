// The session table: one writer (the control lcore), many lock-free readers
// (the workers).
//
// Each session has two keys, both the 4-tuple of a packet as it arrives:
//   caller  -> VIP          (kFromCaller)
//   backend -> leg address  (kFromBackend; the leg port is allocated per session)
// Each key's slot in the FlowTable (flow_table.h) holds that direction's
// rewrite and counters next to the key, so a worker's hit costs one probe;
// both slots name one Session record, the control lcore's view of the
// session, which points at its two directions. The FlowTable is read
// lock-free; a removed key's slot, and the Session record, are reused only
// after every worker has passed a quiescent point (rte_rcu_qsbr), so a worker
// that matched a key just before removal still reads a valid slot. This is
// a lock-free table with RCU reclaim in place of rte_hash (docs/architecture.md).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "srtfwd/dataplane/counters.h"
#include "srtfwd/net/addr.h"
#include "srtfwd/net/rewrite.h"

#include "srtfwd/dataplane/flow_table.h"
#include "srtfwd/dataplane/link_stats.h"

struct rte_rcu_qsbr;

namespace srtfwd::dataplane {

// Everything the control lcore knows to install a session. Ports in host order.
struct SessionSpec {
  // Caller side, as the caller's packets arrive.
  uint16_t caller_port_id = 0;  // DPDK port the caller is reached on
  net::IpAddr caller_ip, vip;
  uint16_t caller_udp = 0, vip_udp = 0;
  net::MacAddr caller_next_hop;  // MAC of the caller or of its gateway
  // Backend side.
  uint16_t backend_port_id = 0;
  net::IpAddr backend_ip, leg_ip;
  uint16_t backend_udp = 0, leg_udp = 0;
  net::MacAddr backend_next_hop;
  // SRT socket IDs (for the API and logs; not rewritten).
  uint32_t caller_socket_id = 0, backend_socket_id = 0;
};

inline constexpr uint32_t kNoSlot = UINT32_MAX;

struct alignas(64) Session {
  // The two directions: the flow table slots of key[0] and key[1] (their
  // rewrite, port and counters). They stay readable (and unchanged but for
  // the counters) until the record is reused.
  FlowSlot* dir[2] = {nullptr, nullptr};
  uint32_t slot[2] = {kNoSlot, kNoSlot};
  // Control-lcore-only fields below.
  SessionKey key[2];
  SessionSpec spec;
  uint64_t installed_tsc = 0;
  uint64_t end_after_tsc = 0;  // non-zero: end at this time (SHUTDOWN grace)
  // Idle tracking by the sweep: the packet count it last saw per direction,
  // and when it last saw that count move (install time until then). Written
  // by the control lcore; atomics so the admin thread may read them.
  uint64_t seen_packets[2] = {0, 0};
  std::atomic<uint64_t> active_tsc[2] = {0, 0};
  // Per direction, the packet and byte rates the session list shows (the
  // control lcore's, from counter deltas between its snapshots).
  LinkRate rate[2];
  uint32_t index = 0;
  bool in_use = false;
};

enum class InstallError : uint8_t {
  kOk,
  kFull,            // no free session record
  kKeyExists,       // one of the two 4-tuples is already a session
  kFamilyMismatch,  // a leg's two addresses of different families (the legs may differ: translated)
  kProbeLimit,  // a key's probe window in the flow table is full (should not happen at load <= 1/2)
};
const char* to_string(InstallError e) noexcept;

class SessionTable {
 public:
  // Throws std::runtime_error with the reason (start-up only).
  SessionTable(const std::string& name, uint32_t capacity, int socket_id, rte_rcu_qsbr* qsv);
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // ---- Workers (lock-free readers) ----
  FlowTable& flows() noexcept { return flows_; }
  const FlowTable& flows() const noexcept { return flows_; }
  // The link quality record of a session's data direction (link_stats.h):
  // a worker writes the fields its queue owns; anyone reads them. Reset by
  // install() before the session's keys are published.
  LinkStats& link(uint32_t session, uint32_t dir) noexcept {
    return link_[size_t{session} * 2 + dir];
  }
  const LinkStats& link(uint32_t session, uint32_t dir) const noexcept {
    return link_[size_t{session} * 2 + dir];
  }
  // The live sessions' RTT and loss histograms (sessions_json builds them).
  LinkHistograms& link_histograms() noexcept { return link_hist_; }
  const LinkHistograms& link_histograms() const noexcept { return link_hist_; }

  // ---- Control lcore only (single writer) ----
  Session* install(const SessionSpec& spec, uint64_t now_tsc, InstallError* err);
  // Moves a live session's caller side to a new caller address and port
  // (a caller whose NAT rebound it, control/rebinding.h), reached on
  // port_id through next_hop: the new caller key, and the backend key again
  // with its rewrite sending to the new address, are published first, then
  // the old two slots retired (released after a grace period), so that a
  // worker finds the session at every moment, under the old rewrite or the
  // new. The directions' counters move along (a worker's packets counted
  // on an old slot in between are lost to them). On failure (kKeyExists:
  // the new 4-tuple is a session; kProbeLimit) the session is unchanged.
  bool rekey_caller(Session* s, const net::IpAddr& caller_ip, uint16_t caller_udp,
                    uint16_t caller_port_id, const net::MacAddr& next_hop, InstallError* err);
  // Deletes both keys now; the record is reused after a grace period.
  void remove(Session* s);
  // Returns records whose grace period has passed to the free list. Call
  // once per control loop.
  void reclaim() noexcept;
  // The session a key leads to (nullptr for none, and for a hop entry).
  Session* lookup(const SessionKey& k, Direction* dir) const noexcept;

  // Second-chance hop entries (control/directory.h): a caller's key whose
  // session lives on another host. install_hop() publishes it (outer: the
  // outer addresses, ports and next-hop MAC; id: the control lcore's entry,
  // kept in the slot) and returns its slot, or -1 when the key is taken or
  // its probe window full; remove_hop() retires it, the slot reused after
  // a grace period as a session's.
  int64_t install_hop(const SessionKey& k, uint32_t id, const net::Rewrite& outer,
                      uint16_t out_port) noexcept;
  void remove_hop(uint32_t slot) noexcept;
  Session* at(uint32_t index) noexcept { return &records_[index]; }
  uint32_t capacity() const noexcept { return capacity_; }
  uint32_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  // The records in use, densely, in no particular order: what a pass over
  // the live sessions walks instead of every record of the capacity (with
  // 1,000,000 configured and few in use, the sweep and the admin snapshot
  // scanning all records took 45 % of the control lcore). remove() moves
  // the last entry into the removed one's place.
  uint32_t live_count() const noexcept { return static_cast<uint32_t>(live_.size()); }
  uint32_t live_index(uint32_t i) const noexcept { return live_[i]; }

  static SessionKey caller_key(const SessionSpec& s) noexcept;
  static SessionKey backend_key(const SessionSpec& s) noexcept;

 private:
  struct Deferred {
    uint64_t token;
    uint32_t index;
  };
  rte_rcu_qsbr* qsv_ = nullptr;
  void* slot_mem_ = nullptr;  // rte_malloc'd FlowSlots (FlowTable::init sets them up)
  FlowTable flows_;
  Session* records_ = nullptr;  // rte_zmalloc'd array, capacity_ long
  LinkStats* link_ = nullptr;   // rte_zmalloc'd, two per record (by direction)
  LinkHistograms link_hist_;
  uint32_t capacity_ = 0;
  std::vector<uint32_t> free_;      // free record indexes (stack)
  std::vector<uint32_t> live_;      // record indexes in use
  std::vector<uint32_t> live_pos_;  // per record: its place in live_ while in use
  std::deque<Deferred> deferred_;
  // Single slots retired by rekey_caller(), released after their grace
  // period (index: the slot, not a record).
  std::deque<Deferred> deferred_slots_;
  // A session's two rewrites, from its spec.
  static bool make_rewrites(const SessionSpec& spec, net::Rewrite* rw0, net::Rewrite* rw1);
  std::atomic<uint32_t> active_{0};
};

}  // namespace srtfwd::dataplane

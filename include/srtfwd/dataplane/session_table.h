// The session table: one writer (the control lcore), many lock-free readers
// (the workers).
//
// Each session has two keys, both the 4-tuple of a packet as it arrives:
//   caller  -> VIP          (kFromCaller)
//   backend -> leg address  (kFromBackend; the leg port is allocated per session)
// and both map to one Session record that holds, per direction, the rewrite
// to apply and where to send the result. The rte_hash runs with lock-free
// read/write concurrency; a removed key's slot, and the Session record, are
// reused only after every worker has passed a quiescent point (rte_rcu_qsbr),
// so a worker that looked a key up just before removal still reads a valid
// record.
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

#include <rte_hash_crc.h>

struct rte_hash;
struct rte_rcu_qsbr;

namespace srtfwd::dataplane {

// A packet's 4-tuple as received; addresses as 16 bytes (IPv4 v4-mapped) so
// one key type serves both families. Ports in network byte order. 48 bytes,
// not 36: rte_hash compares 48-byte keys with a vector compare instead of a
// memcmp call (measured: 2 % of a worker's time went to memcmp at 40). The
// padding is always zero so hashing and comparing are deterministic.
struct SessionKey {
  net::IpAddr src;
  net::IpAddr dst;
  uint16_t sport_be = 0;
  uint16_t dport_be = 0;
  uint32_t zero = 0;
  uint64_t zero2 = 0;
};
static_assert(sizeof(SessionKey) == 48, "SessionKey must stay 48 bytes, no holes");

enum Direction : uint8_t { kFromCaller = 0, kFromBackend = 1 };

// What a worker needs for one direction: one cache line, so a packet of any
// of a million sessions costs one record miss, not two. The rewrite is
// read-only while the session lives; the counters are written only by the
// worker whose RX queue this direction hashes to. There is no per-packet
// timestamp: the control lcore's sweep sees the packet counter move and
// keeps the time of activity itself (Session::active_tsc).
struct alignas(64) SessionDirection {
  net::Rewrite rewrite;   // next-hop MAC, addresses, ports, checksum deltas
  uint16_t out_port = 0;  // DPDK port to send the rewritten packet on
  Counter packets;
  Counter bytes;
};
static_assert(sizeof(SessionDirection) == 64, "a session direction must stay one cache line");

// Everything the control lcore knows to install a session. Ports in host order.
struct SessionSpec {
  // Caller side, as the caller's packets arrive.
  uint16_t caller_port_id = 0;   // DPDK port the caller is reached on
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

struct alignas(64) Session {
  SessionDirection dir[2];
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
  uint32_t index = 0;
  bool in_use = false;
};

enum class InstallError : uint8_t {
  kOk,
  kFull,            // no free session record
  kKeyExists,       // one of the two 4-tuples is already a session
  kFamilyMismatch,  // caller and backend legs of different families (v4/v6 translation unsupported)
  kHashError,
};
const char* to_string(InstallError e) noexcept;

class SessionTable {
 public:
  // Throws std::runtime_error with the reason (start-up only).
  SessionTable(const std::string& name, uint32_t capacity, int socket_id,
               rte_rcu_qsbr* qsv);
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // ---- Workers (lock-free readers) ----
  // Looks up n (<= 64) keys at once, hashes[i] == hash(*keys[i]) computed
  // by the caller (the worker does it while the packet's headers are still in
  // registers). Bit i of the returned mask is set when keys[i] hit; data[i]
  // then carries a tagged session (see untag()).
  uint64_t lookup_bulk(const SessionKey** keys, uint32_t* hashes, unsigned n,
                       void** data) const noexcept;
  // The table's hash function: two independent CRC32-C chains over the six
  // 8-byte words (latency of three crc32 instructions, not six), mixed.
  // Not keyed: a keyed hash against crafted collisions belongs to hardening.
  static uint32_t hash(const SessionKey& k) noexcept {
    // Field by field, not as six words: the worker has just written the key
    // field by field, and a word load spanning several of those stores would
    // not forward from the store buffer.
    uint64_t w[6];
    std::memcpy(&w[0], k.src.b.data(), 8);
    std::memcpy(&w[1], k.src.b.data() + 8, 8);
    std::memcpy(&w[2], k.dst.b.data(), 8);
    std::memcpy(&w[3], k.dst.b.data() + 8, 8);
    w[4] = uint64_t{k.sport_be} | uint64_t{k.dport_be} << 16 | uint64_t{k.zero} << 32;
    w[5] = k.zero2;
    uint32_t a = rte_hash_crc_8byte(w[0], 0x9e3779b9u);
    uint32_t b = rte_hash_crc_8byte(w[3], 0x85ebca6bu);
    a = rte_hash_crc_8byte(w[1], a);
    b = rte_hash_crc_8byte(w[4], b);
    a = rte_hash_crc_8byte(w[2], a);
    b = rte_hash_crc_8byte(w[5], b);
    return a ^ ((b << 16) | (b >> 16));
  }
  static Session* untag(void* data, Direction* dir) noexcept {
    auto v = reinterpret_cast<uintptr_t>(data);
    *dir = static_cast<Direction>(v & 1u);
    return reinterpret_cast<Session*>(v & ~uintptr_t{1});
  }

  // ---- Control lcore only (single writer) ----
  Session* install(const SessionSpec& spec, uint64_t now_tsc, InstallError* err);
  // Deletes both keys now; the record is reused after a grace period.
  void remove(Session* s);
  // Returns records whose grace period has passed to the free list. Call
  // once per control loop.
  void reclaim() noexcept;
  Session* lookup(const SessionKey& k, Direction* dir) const noexcept;
  Session* at(uint32_t index) noexcept { return &records_[index]; }
  uint32_t capacity() const noexcept { return capacity_; }
  uint32_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  uint32_t awaiting_reclaim() const noexcept { return static_cast<uint32_t>(deferred_.size()); }

  static SessionKey caller_key(const SessionSpec& s) noexcept;
  static SessionKey backend_key(const SessionSpec& s) noexcept;

 private:
  struct Deferred {
    uint64_t token;
    uint32_t index;
  };
  rte_hash* hash_ = nullptr;
  rte_rcu_qsbr* qsv_ = nullptr;
  Session* records_ = nullptr;  // rte_zmalloc'd array, capacity_ long
  uint32_t capacity_ = 0;
  std::vector<uint32_t> free_;  // free record indexes (stack)
  std::deque<Deferred> deferred_;
  std::atomic<uint32_t> active_{0};
};

}  // namespace srtfwd::dataplane

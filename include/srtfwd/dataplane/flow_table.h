// The workers' lookup structure: an open-addressing table (linear probing)
// whose slot holds a key *and* the direction of the session that key leads
// to, at an address computed from the hash alone. An IPv4 key takes one
// cache line holding all that a hit on the fast path reads (key, prepared
// rewrite, counters); an IPv6 key takes two adjacent ones.
//
// Why not rte_hash: a hit there reads a bucket, then the key store, then
// the session record: three dependent cache misses, and about four and a
// half lines per packet (primary and secondary bucket, a 56-byte key slot
// that often straddles two lines, the record). With 100,000 sessions the
// working set is far larger than this host's 8 MiB L3, so each of those is
// a DRAM round trip. Here the worker prefetches a packet's home slot once
// it has parsed the burst and finds key and rewrite there: one round of
// one line (IPv4) or two (IPv6).
//
// Concurrency: one writer (the control lcore), lock-free readers (workers).
// A slot's state is published with release semantics after its key and
// direction are written, and read with acquire. A removed slot is only
// marked kRetired; it becomes reusable (kFree) when the caller has seen an
// RCU grace period pass (rte_rcu_qsbr in SessionTable), so a worker that
// matched it just before removal still reads a valid slot. Lookups probe
// through retired, free and tail slots and stop at an empty one; a free
// slot whose successor is empty turns empty itself (no live key can lie
// beyond it), so clusters shrink again as sessions end. An insert never
// leaves an empty slot between a key's home and its slot (an IPv6 key that
// passes over an empty slot, whose successor is taken, turns it free).
// Probing is bounded (kMaxProbe slots), for lookups and inserts alike.
//
// This header has no DPDK dependency beyond byte order and prefetch, so the
// table's logic is unit-tested without an EAL; memory comes from the owner.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "srtfwd/dataplane/counters.h"
#include "srtfwd/net/addr.h"
#include "srtfwd/net/rewrite.h"
#include "srtfwd/net/xlat.h"

#include <nmmintrin.h>
#include <rte_byteorder.h>
#include <rte_prefetch.h>

#ifndef __SSE4_2__
#error "the flow table's hash uses the SSE4.2 crc32 instruction (DPDK's -march gives it)"
#endif

namespace srtfwd::dataplane {

// A packet's 4-tuple as received; addresses as 16 bytes (IPv4 v4-mapped) so
// one key type serves both families. Ports in network byte order. Padded to
// 48 bytes so that an IPv6 head slot (16 bytes of state, new ports and
// record index, then the key) is exactly one cache line; the padding is
// always zero.
struct SessionKey {
  net::IpAddr src;
  net::IpAddr dst;
  uint16_t sport_be = 0;
  uint16_t dport_be = 0;
  uint32_t zero = 0;
  uint64_t zero2 = 0;

  bool operator==(const SessionKey& o) const noexcept {
    // Six words, compared branch-free; all padding is zero on both sides.
    // Word by word from both keys (copied whole into arrays, GCC staged
    // them through the stack).
    const auto* a = reinterpret_cast<const unsigned char*>(this);
    const auto* b = reinterpret_cast<const unsigned char*>(&o);
    auto word_diff = [&](std::size_t off) {
      uint64_t x, y;
      std::memcpy(&x, a + off, 8);
      std::memcpy(&y, b + off, 8);
      return x ^ y;
    };
    return (word_diff(0) | word_diff(8) | word_diff(16) | word_diff(24) | word_diff(32) |
            word_diff(40)) == 0;
  }
};
static_assert(sizeof(SessionKey) == 48, "SessionKey must stay 48 bytes, no holes");

// kHop is not a session's direction but a second-chance entry
// (control/directory.h): a caller's 4-tuple whose session lives on another
// host, its packets encapsulated and sent there (net/encap.h). It takes a
// head and tail like a translated direction, out of find_v4()'s sight, so it
// costs the IPv4 fast path nothing; the head's record index is the control
// lcore's hop entry, the tail's addresses the outer ones.
enum Direction : uint8_t { kFromCaller = 0, kFromBackend = 1, kHop = 2 };

// A direction's counters, written only by the worker whose RX queue this
// direction's 4-tuple hashes to. There is no per-packet timestamp: the
// control lcore's sweep sees the packet counter move and keeps the time of
// activity itself (Session::active_tsc).
struct DirCounters {
  Counter packets;
  Counter bytes;
};
static_assert(sizeof(DirCounters) == 16);

// The table's hash function: two independent CRC32-C chains over the six
// 8-byte words of a key (latency of three crc32 instructions, not six), then
// murmur3's 32-bit finaliser; an IPv4 key's hash is the same over the two
// words that hold all of its bits (addresses, ports: one crc32 per chain).
// CRC is linear over GF(2): keys that differ by
// the same bits (sequential ports, as our own legs and most NATs hand out)
// map to indices that differ by the same bits, and with linear probing that
// piles them into neighbouring slots: with 100,000 bench sessions 44 % of
// keys sat off their home slot (a dependent cache miss each) against the
// one in five that random hashing gives. The finaliser's multiplies break
// that structure.
//
// Keyed: the two chains start from a table's seed, drawn at random when the
// table is made (random_hash_seed()). With a fixed, published function a
// caller could work out offline which source ports share one probe window
// and fill it (kMaxProbe keys), so that every later session whose key lands
// there fails to install; with a secret seed it cannot tell which ports
// collide. hash_v4() takes an IPv4 key's words in registers (the worker's
// fast path loads them so); hash_key() takes a key of either family.
struct HashSeed {
  uint32_t a = 0x9e3779b9u;
  uint32_t b = 0x85ebca6bu;
};
// A seed from the kernel's random source (getentropy, as the SYN cookie secret);
// throws std::runtime_error when there is none.
HashSeed random_hash_seed();

// CRC32-C of one word, the instruction itself: DPDK's rte_hash_crc_8byte()
// checks at run time which implementation to use, three instructions per
// word for a choice the build (-march with SSE4.2) has already made.
inline uint32_t crc32c_u64(uint64_t data, uint32_t init) noexcept {
  return static_cast<uint32_t>(_mm_crc32_u64(init, data));
}

// The two chains' ends, combined and finalised.
inline uint32_t hash_finish(uint32_t a, uint32_t b) noexcept {
  uint32_t h = a ^ ((b << 16) | (b >> 16));
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// An IPv4 key as the fast path holds it: addresses and ports as their wire
// bytes load (IPv4 header bytes 12-19, UDP header bytes 0-3).
inline uint32_t hash_v4(HashSeed seed, uint64_t addrs, uint32_t ports) noexcept {
  return hash_finish(crc32c_u64(addrs, seed.a), crc32c_u64(ports, seed.b));
}

// A key is IPv4 when both its addresses are (IpAddr holds IPv4 v4-mapped;
// parse_frame refuses IPv6 packets with v4-mapped addresses, so no packet of
// the other family has such a key).
inline bool key_is_v4(const SessionKey& k) noexcept { return k.src.is_v4() && k.dst.is_v4(); }

// An IPv4 key's words as the fast path loads them.
inline uint64_t v4_addrs_of(const SessionKey& k) noexcept {
  uint32_t src, dst;
  std::memcpy(&src, k.src.b.data() + 12, 4);
  std::memcpy(&dst, k.dst.b.data() + 12, 4);
  return uint64_t{src} | uint64_t{dst} << 32;
}
inline uint32_t v4_ports_of(const SessionKey& k) noexcept {
  return uint32_t{k.sport_be} | uint32_t{k.dport_be} << 16;
}
static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "the key's words are laid out little-endian");

inline uint32_t hash_key(HashSeed seed, const SessionKey& k) noexcept {
  if (key_is_v4(k)) return hash_v4(seed, v4_addrs_of(k), v4_ports_of(k));
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
  uint32_t a = crc32c_u64(w[0], seed.a);
  uint32_t b = crc32c_u64(w[3], seed.b);
  a = crc32c_u64(w[1], a);
  b = crc32c_u64(w[4], b);
  a = crc32c_u64(w[2], a);
  b = crc32c_u64(w[5], b);
  return hash_finish(a, b);
}

enum SlotState : uint32_t {
  kSlotEmpty = 0,    // never used since the last cluster shrink: lookups stop here
  kSlotLive = 1,     // key and direction valid
  kSlotRetired = 2,  // removed; workers may still read it until a grace period passes
  kSlotFree = 3,     // reusable; lookups probe through it
  kSlotTail = 4,     // the second line of the IPv6 key in the slot before; lookups probe through it
};

// A slot is one cache line. An IPv4 key's slot holds everything the
// worker's IPv4 fast path needs: the key as the wire's words, the rewrite as
// the words the frame's fields are stored as (V4Patch::make() without the
// source MAC), the record index and the counters. A hit reads one line and
// prepares nothing per run but the out port's MAC. (With 100,000 sessions
// the slot used to be two lines, the second holding the full Rewrite for
// the control lcore: although a hit read only the first, the table was
// twice the bytes and the second line came along with the first; one-line
// slots forwarded 1.2 to 1.4 times as many packets.)
struct V4Hot {
  uint64_t addrs_key = 0;  // source, destination as their wire bytes load (IPv4 bytes 12-19)
  uint32_t ports_key = 0;  // the UDP header's first four bytes as they load
  uint32_t ports = 0;      // the new ones, as stored (UDP bytes 0-3)
  uint64_t dst_mac = 0;    // the next hop's MAC in the low six bytes (frame bytes 0-5)
  uint64_t addrs = 0;      // new source, destination as stored
  // The checksum deltas byte-swapped, as the fields load, the UDP one
  // complemented (see V4Patch).
  uint16_t ip_delta_raw = 0, udp_ndelta_raw = 0;
  uint32_t session = 0;  // the record index
  DirCounters c;
};
static_assert(sizeof(V4Hot) == 56);
// An IPv6 key takes two adjacent slots: the head (key, new ports, record
// index) and the tail (counters and the rest of the rewrite), whose state
// is kSlotTail. So does the key of a translated direction (IPv4 <-> IPv6,
// net/xlat.h), whichever its family: the tail's new addresses are then of
// the other family than the key's (FlowSlot::translates()), and an IPv4
// key there is out of the fast path's sight (find_v4() matches v4 slots
// only), so such packets cost the IPv4 fast path nothing. A head never sits in the table's last
// slot, so its tail is always the next one in memory.
struct V6Head {
  uint16_t sport_be = 0, dport_be = 0;  // the rewrite's new ports
  uint32_t session = 0;
  SessionKey key;
};
static_assert(sizeof(V6Head) == 56);
struct V6Tail {
  DirCounters c;
  net::IpAddr src, dst;  // the rewrite's new addresses
  net::MacAddr dst_mac;
  uint16_t udp_csum_delta = 0;
};
static_assert(sizeof(V6Tail) == 56);

struct alignas(64) FlowSlot {
  std::atomic<uint32_t> state{kSlotEmpty};
  uint8_t v4 = 0;   // 1: an IPv4 key (h4 is the live member), 0: an IPv6 head (h6) or tail (t6)
  uint8_t dir = 0;  // which of the session's directions this key is
  uint16_t out_port = 0;  // DPDK port to send the rewritten packet on
  union {
    V4Hot h4;
    V6Head h6;
    V6Tail t6;
  };

  FlowSlot() noexcept : h6() {}

  // An IPv6 head's tail.
  const V6Tail& tail() const noexcept { return (this + 1)->t6; }
  V6Tail& tail() noexcept { return (this + 1)->t6; }

  uint32_t session() const noexcept { return v4 ? h4.session : h6.session; }
  // A head whose packets change family on the way (a live head's tail is
  // written before it is published).
  bool translates() const noexcept { return !v4 && h6.key.src.is_v4() != tail().src.is_v4(); }
  bool hop() const noexcept { return dir == kHop; }
  DirCounters& counters() noexcept { return v4 ? h4.c : tail().c; }
  const DirCounters& counters() const noexcept { return v4 ? h4.c : tail().c; }
  // The rewrite and the key, rebuilt (the slow path, control and tests;
  // the IPv4 fast path uses the words).
  net::Rewrite rewrite() const noexcept;
  SessionKey key() const noexcept;
};
static_assert(offsetof(FlowSlot, h4) == 8);
static_assert(sizeof(FlowSlot) == 64, "a flow slot is one cache line");

// An IPv4 slot's rewrite as V4Patch::apply() takes it, with the out port's
// MAC as the source: V4Patch::make() of the slot's Rewrite, from loads of
// the slot's line.
inline net::V4Patch v4_patch(const V4Hot& h, const net::MacAddr& src_mac) noexcept {
  net::V4Patch p;
  p.macs_lo = h.dst_mac;
  p.set_src_mac(src_mac);
  p.ports = h.ports;
  p.addrs = h.addrs;
  p.ip_delta_raw = h.ip_delta_raw;
  p.udp_ndelta_raw = h.udp_ndelta_raw;
  return p;
}

inline net::Rewrite FlowSlot::rewrite() const noexcept {
  if (v4) return v4_patch(h4, net::MacAddr{}).rewrite();
  const V6Tail& t = tail();
  net::Rewrite rw;
  rw.dst_mac = t.dst_mac;
  rw.src = t.src;
  rw.dst = t.dst;
  rw.sport_be = h6.sport_be;
  rw.dport_be = h6.dport_be;
  rw.udp_csum_delta = t.udp_csum_delta;  // IPv6 has no header checksum: ip_csum_delta is 0
  // 6->4: the new IPv4 header's constant words (see make_xlat_rewrite()).
  if (t.src.is_v4() && !h6.key.src.is_v4())
    rw.ip_csum_delta = net::xlat_ipv4_header_base(t.src, t.dst);
  return rw;
}

inline SessionKey FlowSlot::key() const noexcept {
  if (!v4) return h6.key;
  SessionKey k;
  uint32_t src, dst;
  std::memcpy(&src, &h4.addrs_key, 4);
  std::memcpy(&dst, reinterpret_cast<const unsigned char*>(&h4.addrs_key) + 4, 4);
  k.src = net::IpAddr::from_v4(src);
  k.dst = net::IpAddr::from_v4(dst);
  std::memcpy(&k.sport_be, &h4.ports_key, 2);
  std::memcpy(&k.dport_be, reinterpret_cast<const unsigned char*>(&h4.ports_key) + 2, 2);
  return k;
}

class FlowTable {
 public:
  // Lookups and inserts look at most this many consecutive slots. At the
  // table's load (at most half the slots taken) a cluster this long is
  // vanishingly rare; an insert that meets one fails instead of degrading
  // every lookup.
  static constexpr uint32_t kMaxProbe = 64;

  // Slots for `keys` keys with at most half of them taken when every key is
  // IPv6 (two slots each): a power of two >= 4 * keys. IPv4 keys (one slot)
  // then fill at most a quarter: the same bytes as two-line slots at a load
  // of 1/2, and shorter probes.
  static uint32_t slots_for(uint32_t keys) noexcept {
    uint64_t n = 64;
    while (n < uint64_t{keys} * 4) n <<= 1;
    return static_cast<uint32_t>(n);
  }

  FlowTable() = default;
  FlowTable(void* mem, uint32_t slots, HashSeed seed) noexcept { init(mem, slots, seed); }
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;
  // `mem` holds `slots` (a power of two) FlowSlots, 64-byte aligned, zeroed
  // or not: init() initialises them, all empty. The owner frees it. Keys
  // are placed by their hash under `seed` (random_hash_seed() in service).
  void init(void* mem, uint32_t slots, HashSeed seed) noexcept;

  // The hash that find() and insert() take for a key: this table's.
  HashSeed seed() const noexcept { return seed_; }
  uint32_t hash(const SessionKey& k) const noexcept { return hash_key(seed_, k); }

  // ---- Readers (workers) ----
  // A key's home slot and the next (an IPv6 key's head and tail there). The
  // next may be one past the last slot: a prefetch never faults.
  void prefetch(uint32_t hash) const noexcept {
    const FlowSlot* s = &slots_[hash & mask_];
    rte_prefetch0(s);
    rte_prefetch0(s + 1);
  }
  // The home slot only: all an IPv4 hit reads.
  void prefetch_v4(uint32_t hash) const noexcept { rte_prefetch0(&slots_[hash & mask_]); }

  // An IPv4 key as the fast path holds it: addresses and ports as their
  // wire bytes load (v4_addrs_of() / v4_ports_of() of a SessionKey).
  FlowSlot* find_v4(uint64_t addrs, uint32_t ports, uint32_t hash) noexcept {
    uint32_t i = hash & mask_;
    for (uint32_t n = 0; n < kMaxProbe; ++n) {
      FlowSlot& s = slots_[i];
      const uint32_t st = s.state.load(std::memory_order_acquire);
      if (st == kSlotEmpty) return nullptr;
      if (st == kSlotLive && s.v4 && s.h4.addrs_key == addrs && s.h4.ports_key == ports) return &s;
      i = (i + 1) & mask_;
    }
    return nullptr;
  }
  // Any key, in either layout (control and tests; the worker's IPv6 runs).
  const FlowSlot* find(const SessionKey& k, uint32_t hash) const noexcept {
    if (key_is_v4(k)) {
      const FlowSlot* f =
          const_cast<FlowTable*>(this)->find_v4(v4_addrs_of(k), v4_ports_of(k), hash);
      return f != nullptr ? f : find_long(k, hash);
    }
    return find_long(k, hash);
  }
  // A key in a head and tail: an IPv6 key, or the IPv4 key of a translated
  // direction (4->6), which find_v4() does not see; the worker looks for
  // those after find_v4() missed, off the IPv4 fast path.
  const FlowSlot* find_long(const SessionKey& k, uint32_t hash) const noexcept {
    uint32_t i = hash & mask_;
    for (uint32_t n = 0; n < kMaxProbe; ++n) {
      const FlowSlot& s = slots_[i];
      const uint32_t st = s.state.load(std::memory_order_acquire);
      if (st == kSlotEmpty) return nullptr;
      if (st == kSlotLive && !s.v4 && s.h6.key == k) return &s;
      i = (i + 1) & mask_;
    }
    return nullptr;
  }
  // Workers write the counters of the direction they find (each direction
  // has one writer: the worker whose RX queue its 4-tuple hashes to).
  FlowSlot* find(const SessionKey& k, uint32_t hash) noexcept {
    return const_cast<FlowSlot*>(static_cast<const FlowTable*>(this)->find(k, hash));
  }
  FlowSlot* find_long(const SessionKey& k, uint32_t hash) noexcept {
    return const_cast<FlowSlot*>(static_cast<const FlowTable*>(this)->find_long(k, hash));
  }

  // ---- The single writer ----
  // Puts an absent key (the caller checked with find) in the first empty or
  // free slot of its probe window (an IPv6 key: the first such slot whose
  // successor is one too, not the table's last), with its direction, and
  // publishes it. Returns the (head) slot index, or -1 when the window
  // holds no usable slot.
  // A kHop entry always takes a head and tail (rw: the outer addresses, the
  // next hop's MAC, the outer ports).
  // `from`: counters the slot starts with (a session's direction moved to a
  // new slot, SessionTable::rekey_caller), else 0. The key may be live
  // already in another slot for as long as the caller then takes to retire
  // that one: a lookup meanwhile finds either, both valid.
  int64_t insert(const SessionKey& k, uint32_t hash, uint32_t session, Direction dir,
                 const net::Rewrite& rw, uint16_t out_port,
                 const DirCounters* from = nullptr) noexcept;
  // Live -> retired: lookups miss it from now on. (Both calls ignore a slot
  // not in the state they expect, so a repeated call changes nothing.)
  void retire(uint32_t slot) noexcept;
  // Retired -> free, once no reader can still hold it (after a grace
  // period), with an IPv6 head's tail; shrinks the cluster when it ends here.
  void release(uint32_t slot) noexcept;

  FlowSlot& slot(uint32_t i) noexcept { return slots_[i]; }
  const FlowSlot& slot(uint32_t i) const noexcept { return slots_[i]; }
  uint32_t size() const noexcept { return mask_ + 1; }
  // Slots in a state, by scanning the table. For tests.
  uint32_t count(SlotState st) const noexcept;
  // The same, kept by the writer as it goes (relaxed: any thread may read,
  // e.g. the admin thread for /metrics): live keys, retired keys waiting
  // for their grace period, and free slots that lookups still probe through.
  // With no session left, all three are 0: anything else is a leak.
  uint32_t live() const noexcept { return n_live_.load(std::memory_order_relaxed); }
  uint32_t retired() const noexcept { return n_retired_.load(std::memory_order_relaxed); }
  uint32_t free() const noexcept { return n_free_.load(std::memory_order_relaxed); }

 private:
  static void bump(std::atomic<uint32_t>& c, int32_t d) noexcept {
    c.store(c.load(std::memory_order_relaxed) + static_cast<uint32_t>(d),
            std::memory_order_relaxed);
  }
  FlowSlot* slots_ = nullptr;
  uint32_t mask_ = 0;
  HashSeed seed_;
  std::atomic<uint32_t> n_live_{0}, n_retired_{0}, n_free_{0};
};

}  // namespace srtfwd::dataplane

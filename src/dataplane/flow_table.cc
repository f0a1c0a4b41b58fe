#include "srtfwd/dataplane/flow_table.h"

#include <new>
#include <random>

namespace srtfwd::dataplane {

HashSeed random_hash_seed() {
  std::random_device rd("getentropy");  // the kernel's random source, as for the SYN cookie secret
  HashSeed s;
  s.a = rd();
  s.b = rd();
  return s;
}

void FlowTable::init(void* mem, uint32_t slots, HashSeed seed) noexcept {
  slots_ = static_cast<FlowSlot*>(mem);
  mask_ = slots - 1;
  seed_ = seed;
  for (uint32_t i = 0; i < slots; ++i) new (&slots_[i]) FlowSlot();
  n_live_.store(0);
  n_retired_.store(0);
  n_free_.store(0);
}

int64_t FlowTable::insert(const SessionKey& k, uint32_t hash, uint32_t session, Direction dir,
                          const net::Rewrite& rw, uint16_t out_port,
                          const DirCounters* from) noexcept {
  // An IPv4 key in one slot only when its packets stay IPv4: a translated
  // direction takes a head and tail (see V6Head).
  const bool v4 = key_is_v4(k) && rw.ipv4() && dir != kHop;
  auto usable = [](uint32_t st) { return st == kSlotEmpty || st == kSlotFree; };
  uint32_t i = hash & mask_;
  for (uint32_t n = 0; n < kMaxProbe; ++n, i = (i + 1) & mask_) {
    FlowSlot& s = slots_[i];
    const uint32_t st = s.state.load(std::memory_order_relaxed);
    if (!usable(st)) continue;
    // No reader looks past the state of an empty or free slot: the fields
    // can be written plainly, then published.
    if (v4) {
      V4Hot& h = *new (&s.h4) V4Hot();  // counters 0
      h.addrs_key = v4_addrs_of(k);
      h.ports_key = v4_ports_of(k);
      // The patch without the source MAC (the out port's, merged per run).
      const net::V4Patch p = net::V4Patch::make(rw, net::MacAddr{});
      h.dst_mac = p.macs_lo;
      h.addrs = p.addrs;
      h.ports = p.ports;
      h.ip_delta_raw = p.ip_delta_raw;
      h.udp_ndelta_raw = p.udp_ndelta_raw;
      h.session = session;
    } else {
      // Head here, tail in the next slot: both usable, and not past the
      // table's end (the tail must follow the head in memory).
      const uint32_t st_tail =
          i == mask_ ? kSlotLive : slots_[i + 1].state.load(std::memory_order_relaxed);
      if (!usable(st_tail)) {
        // Passed over. Left empty, it would end this key's lookups before
        // they reach its slot further on; a free slot is probed through.
        if (st == kSlotEmpty) {
          s.state.store(kSlotFree, std::memory_order_release);
          bump(n_free_, 1);
        }
        continue;
      }
      FlowSlot& t = slots_[i + 1];
      t.v4 = 0;
      V6Tail& tail = *new (&t.t6) V6Tail();  // counters 0
      tail.src = rw.src;
      tail.dst = rw.dst;
      tail.dst_mac = rw.dst_mac;
      tail.udp_csum_delta = rw.udp_csum_delta;
      t.state.store(kSlotTail, std::memory_order_release);
      if (st_tail == kSlotFree) bump(n_free_, -1);
      V6Head& h = *new (&s.h6) V6Head();
      h.sport_be = rw.sport_be;
      h.dport_be = rw.dport_be;
      h.session = session;
      h.key = k;
    }
    if (from != nullptr) {
      DirCounters& c = v4 ? s.h4.c : s.tail().c;
      c.packets.set(from->packets.get());
      c.bytes.set(from->bytes.get());
    }
    s.v4 = v4 ? 1 : 0;
    s.dir = dir;
    s.out_port = out_port;
    s.state.store(kSlotLive, std::memory_order_release);
    if (st == kSlotFree) bump(n_free_, -1);
    bump(n_live_, 1);
    return i;
  }
  return -1;
}

void FlowTable::retire(uint32_t slot) noexcept {
  if (slots_[slot].state.load(std::memory_order_relaxed) != kSlotLive) return;
  slots_[slot].state.store(kSlotRetired, std::memory_order_release);
  bump(n_live_, -1);
  bump(n_retired_, 1);
}

void FlowTable::release(uint32_t slot) noexcept {
  FlowSlot& s = slots_[slot];
  if (s.state.load(std::memory_order_relaxed) != kSlotRetired) return;
  s.state.store(kSlotFree, std::memory_order_relaxed);
  bump(n_retired_, -1);
  bump(n_free_, 1);
  uint32_t last = slot;
  if (!s.v4) {  // an IPv6 head: its tail is free too
    last = slot + 1;
    slots_[last].state.store(kSlotFree, std::memory_order_relaxed);
    bump(n_free_, 1);
  }
  // A free slot followed by an empty one ends its cluster: no live key can
  // lie beyond it in a probe sequence that passes through it (an insert
  // never leaves an empty slot between a key's home and its slot, and a
  // slot there only turns empty when its successor is). Emptying it, and
  // the free slots before it, shortens misses. A reader seeing either
  // state of such a slot reaches the same answer.
  if (slots_[(last + 1) & mask_].state.load(std::memory_order_relaxed) != kSlotEmpty) return;
  uint32_t i = last;
  for (uint32_t n = 0; n <= mask_; ++n, i = (i - 1) & mask_) {
    if (slots_[i].state.load(std::memory_order_relaxed) != kSlotFree) break;
    slots_[i].state.store(kSlotEmpty, std::memory_order_release);
    bump(n_free_, -1);
  }
}

uint32_t FlowTable::count(SlotState st) const noexcept {
  uint32_t n = 0;
  for (uint32_t i = 0; i <= mask_; ++i)
    n += slots_[i].state.load(std::memory_order_relaxed) == st ? 1 : 0;
  return n;
}

}  // namespace srtfwd::dataplane

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
                          const net::Rewrite& rw, uint16_t out_port) noexcept {
  uint32_t i = hash & mask_;
  for (uint32_t n = 0; n < kMaxProbe; ++n, i = (i + 1) & mask_) {
    FlowSlot& s = slots_[i];
    const uint32_t st = s.state.load(std::memory_order_relaxed);
    if (st != kSlotEmpty && st != kSlotFree) continue;
    // No reader looks past the state of an empty or free slot: the fields
    // can be written plainly, then published.
    s.dir = dir;
    s.out_port = out_port;
    if (key_is_v4(k)) {
      s.v4 = 1;
      V4Hot& h = *new (&s.h4) V4Hot();  // counters 0
      h.addrs_key = v4_addrs_of(k);
      h.ports_key = v4_ports_of(k);
      // The patch without the source MAC (the out port's, merged per run).
      const net::V4Patch p = net::V4Patch::make(rw, net::MacAddr{});
      h.dst_mac = p.macs_lo;
      h.addrs = p.addrs;
      h.ports = p.ports;
      h.ip_delta_raw = p.ip_delta_raw;
      h.udp_delta_raw = p.udp_delta_raw;
      new (&s.c4) V4Cold();
      s.c4.session = session;
      s.c4.rewrite = rw;
    } else {
      s.v4 = 0;
      new (&s.h6) V6Head();
      s.h6.hash = hash;
      s.h6.session = session;
      s.h6.key = k;
      new (&s.t6) V6Tail();  // counters 0
      s.t6.rewrite = rw;
    }
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
  if (slots_[slot].state.load(std::memory_order_relaxed) != kSlotRetired) return;
  slots_[slot].state.store(kSlotFree, std::memory_order_relaxed);
  bump(n_retired_, -1);
  bump(n_free_, 1);
  // A free slot followed by an empty one ends its cluster: no live key can
  // lie beyond it in a probe sequence that passes through it (an insert
  // only ever fills the first usable slot from its home, and every slot
  // between home and key was non-empty then and only turns empty when its
  // successor is). Emptying it, and the free slots before it, shortens
  // misses. A reader seeing either state of such a slot reaches the same
  // answer.
  if (slots_[(slot + 1) & mask_].state.load(std::memory_order_relaxed) != kSlotEmpty) return;
  uint32_t i = slot;
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

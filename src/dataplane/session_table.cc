#include "srtfwd/dataplane/session_table.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <new>
#include <stdexcept>

namespace srtfwd::dataplane {

const char* to_string(InstallError e) noexcept {
  switch (e) {
    case InstallError::kOk: return "ok";
    case InstallError::kFull: return "session table full (raise [dataplane] sessions)";
    case InstallError::kKeyExists: return "4-tuple already in a session";
    case InstallError::kFamilyMismatch: return "a leg's two addresses are of different families";
    case InstallError::kProbeLimit:
      return "flow table probe window full (a cluster of colliding 4-tuples; a larger "
             "[dataplane] sessions lowers the table's load)";
  }
  return "?";
}

SessionTable::SessionTable(const std::string& name, uint32_t capacity, int socket_id,
                           rte_rcu_qsbr* qsv)
    : qsv_(qsv), capacity_(capacity) {
  if (capacity == 0) throw std::runtime_error("session capacity must be > 0");
  // Two keys per session, at most one key per two slots.
  const uint32_t slots = FlowTable::slots_for(capacity * 2);
  const size_t slot_bytes = sizeof(FlowSlot) * size_t{slots};
  slot_mem_ =
      rte_malloc_socket((name + "_flows").c_str(), slot_bytes, alignof(FlowSlot), socket_id);
  records_ = static_cast<Session*>(rte_zmalloc_socket((name + "_records").c_str(),
                                                      sizeof(Session) * size_t{capacity},
                                                      alignof(Session), socket_id));
  link_ = static_cast<LinkStats*>(rte_zmalloc_socket((name + "_link").c_str(),
                                                     sizeof(LinkStats) * 2 * size_t{capacity},
                                                     alignof(LinkStats), socket_id));
  if (slot_mem_ == nullptr || records_ == nullptr || link_ == nullptr) {
    rte_free(slot_mem_);
    rte_free(records_);
    rte_free(link_);
    throw std::runtime_error(
        "cannot allocate " + std::to_string(capacity) + " sessions (" +
        std::to_string(
            (slot_bytes + (sizeof(Session) + 2 * sizeof(LinkStats)) * size_t{capacity}) >> 20) +
        " MiB): lower [dataplane] sessions or give more memory (-m)");
  }
  flows_.init(slot_mem_, slots, random_hash_seed());
  free_.reserve(capacity);
  live_.reserve(capacity);
  live_pos_.assign(capacity, 0);
  for (uint32_t i = 0; i < capacity; ++i) {
    new (&records_[i]) Session();
    records_[i].index = i;
  }
  for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
}

SessionTable::~SessionTable() {
  rte_free(slot_mem_);  // FlowSlots are trivially destructible apart from atomics
  rte_free(link_);      // so are LinkStats
  if (records_ != nullptr) {
    for (uint32_t i = 0; i < capacity_; ++i) records_[i].~Session();
    rte_free(records_);
  }
}

Session* SessionTable::lookup(const SessionKey& k, Direction* dir) const noexcept {
  const FlowSlot* f = flows_.find(k, flows_.hash(k));
  if (f == nullptr || f->hop()) return nullptr;
  *dir = static_cast<Direction>(f->dir);
  return &records_[f->session()];
}

SessionKey SessionTable::caller_key(const SessionSpec& s) noexcept {
  SessionKey k{};
  k.src = s.caller_ip;
  k.dst = s.vip;
  k.sport_be = rte_cpu_to_be_16(s.caller_udp);
  k.dport_be = rte_cpu_to_be_16(s.vip_udp);
  return k;
}

SessionKey SessionTable::backend_key(const SessionSpec& s) noexcept {
  SessionKey k{};
  k.src = s.backend_ip;
  k.dst = s.leg_ip;
  k.sport_be = rte_cpu_to_be_16(s.backend_udp);
  k.dport_be = rte_cpu_to_be_16(s.leg_udp);
  return k;
}

bool SessionTable::make_rewrites(const SessionSpec& spec, net::Rewrite* rw0, net::Rewrite* rw1) {
  // Caller -> backend: the caller's packet leaves from our leg toward the backend.
  // A caller of one family and an origin of the other: both directions
  // translate.
  auto make = spec.caller_ip.is_v4() == spec.backend_ip.is_v4() ? net::make_rewrite
                                                                : net::make_xlat_rewrite;
  auto r0 = make(spec.caller_ip, spec.vip, spec.caller_udp, spec.vip_udp, spec.leg_ip,
                 spec.backend_ip, spec.leg_udp, spec.backend_udp, spec.backend_next_hop);
  // Backend -> caller: the backend's packet leaves from the VIP toward the caller.
  auto r1 = make(spec.backend_ip, spec.leg_ip, spec.backend_udp, spec.leg_udp, spec.vip,
                 spec.caller_ip, spec.vip_udp, spec.caller_udp, spec.caller_next_hop);
  if (!r0 || !r1) return false;
  *rw0 = *r0;
  *rw1 = *r1;
  return true;
}

Session* SessionTable::install(const SessionSpec& spec, uint64_t now_tsc, InstallError* err) {
  auto fail = [err](InstallError e) -> Session* {
    if (err) *err = e;
    return nullptr;
  };
  // Each leg in one family; the two legs may differ (net/xlat.h).
  if (spec.caller_ip.is_v4() != spec.vip.is_v4() || spec.backend_ip.is_v4() != spec.leg_ip.is_v4())
    return fail(InstallError::kFamilyMismatch);
  if (free_.empty()) {
    reclaim();
    if (free_.empty()) return fail(InstallError::kFull);
  }
  const SessionKey k0 = caller_key(spec);
  const SessionKey k1 = backend_key(spec);
  const uint32_t h0 = flows_.hash(k0), h1 = flows_.hash(k1);
  if (k0 == k1 || flows_.find(k0, h0) != nullptr || flows_.find(k1, h1) != nullptr)
    return fail(InstallError::kKeyExists);

  Session* s = &records_[free_.back()];
  // The previous session's figures go before any worker can find the new
  // keys (the inserts below publish them with release semantics).
  link(s->index, kFromCaller).reset();
  link(s->index, kFromBackend).reset();
  s->rate[0] = s->rate[1] = LinkRate{};
  net::Rewrite rw0, rw1;
  if (!make_rewrites(spec, &rw0, &rw1)) return fail(InstallError::kFamilyMismatch);

  // Each key's slot gets its direction; FlowTable::insert publishes a slot
  // with release semantics, so a worker that finds it sees everything
  // written before, including the record fields it reads (the index).
  const int64_t f0 = flows_.insert(k0, h0, s->index, kFromCaller, rw0, spec.backend_port_id);
  if (f0 < 0) return fail(InstallError::kProbeLimit);
  const int64_t f1 = flows_.insert(k1, h1, s->index, kFromBackend, rw1, spec.caller_port_id);
  if (f1 < 0) {
    // A worker may have matched k0 already: its slot is reused after grace.
    flows_.retire(static_cast<uint32_t>(f0));
    free_.pop_back();
    s->slot[0] = static_cast<uint32_t>(f0);
    s->slot[1] = kNoSlot;
    deferred_.push_back({qsv_ ? rte_rcu_qsbr_start(qsv_) : 0, s->index});
    return fail(InstallError::kProbeLimit);
  }
  free_.pop_back();
  for (int d = 0; d < 2; ++d) {
    s->slot[d] = static_cast<uint32_t>(d == 0 ? f0 : f1);
    s->dir[d] = &flows_.slot(s->slot[d]);
    s->seen_packets[d] = 0;
    s->active_tsc[d].store(now_tsc, std::memory_order_relaxed);
  }
  s->key[0] = k0;
  s->key[1] = k1;
  s->spec = spec;
  s->installed_tsc = now_tsc;
  s->end_after_tsc = 0;
  s->in_use = true;
  live_pos_[s->index] = static_cast<uint32_t>(live_.size());
  live_.push_back(s->index);
  active_.fetch_add(1, std::memory_order_relaxed);
  if (err) *err = InstallError::kOk;
  return s;
}

bool SessionTable::rekey_caller(Session* s, const net::IpAddr& caller_ip, uint16_t caller_udp,
                                uint16_t caller_port_id, const net::MacAddr& next_hop,
                                InstallError* err) {
  auto fail = [err](InstallError e) {
    if (err) *err = e;
    return false;
  };
  if (s == nullptr || !s->in_use) return fail(InstallError::kKeyExists);
  SessionSpec spec = s->spec;
  spec.caller_ip = caller_ip;
  spec.caller_udp = caller_udp;
  spec.caller_port_id = caller_port_id;
  spec.caller_next_hop = next_hop;
  if (spec.caller_ip.is_v4() != spec.vip.is_v4()) return fail(InstallError::kFamilyMismatch);
  const SessionKey k0 = caller_key(spec);
  const uint32_t h0 = flows_.hash(k0), h1 = flows_.hash(s->key[1]);
  if (k0 == s->key[1] || flows_.find(k0, h0) != nullptr) return fail(InstallError::kKeyExists);
  net::Rewrite rw0, rw1;
  if (!make_rewrites(spec, &rw0, &rw1)) return fail(InstallError::kFamilyMismatch);
  // New slots first, each with its direction's counters: the caller key's
  // (its rewrite unchanged), then the backend key's again, sending to the
  // new caller. Until the old ones retire, a worker may find either.
  const uint32_t old0 = s->slot[0], old1 = s->slot[1];
  const int64_t f0 = flows_.insert(k0, h0, s->index, kFromCaller, rw0, spec.backend_port_id,
                                   &s->dir[0]->counters());
  if (f0 < 0) return fail(InstallError::kProbeLimit);
  const int64_t f1 = flows_.insert(s->key[1], h1, s->index, kFromBackend, rw1, spec.caller_port_id,
                                   &s->dir[1]->counters());
  if (f1 < 0) {
    flows_.retire(static_cast<uint32_t>(f0));
    deferred_slots_.push_back({qsv_ ? rte_rcu_qsbr_start(qsv_) : 0, static_cast<uint32_t>(f0)});
    return fail(InstallError::kProbeLimit);
  }
  flows_.retire(old0);
  flows_.retire(old1);
  const uint64_t token = qsv_ ? rte_rcu_qsbr_start(qsv_) : 0;
  deferred_slots_.push_back({token, old0});
  deferred_slots_.push_back({token, old1});
  s->slot[0] = static_cast<uint32_t>(f0);
  s->slot[1] = static_cast<uint32_t>(f1);
  s->dir[0] = &flows_.slot(s->slot[0]);
  s->dir[1] = &flows_.slot(s->slot[1]);
  s->key[0] = k0;
  s->spec = spec;
  if (err) *err = InstallError::kOk;
  return true;
}

void SessionTable::remove(Session* s) {
  if (s == nullptr || !s->in_use) return;
  flows_.retire(s->slot[0]);
  flows_.retire(s->slot[1]);
  s->in_use = false;
  const uint32_t at = live_pos_[s->index], last = live_.back();
  live_[at] = last;
  live_pos_[last] = at;
  live_.pop_back();
  active_.fetch_sub(1, std::memory_order_relaxed);
  deferred_.push_back({qsv_ ? rte_rcu_qsbr_start(qsv_) : 0, s->index});
}

int64_t SessionTable::install_hop(const SessionKey& k, uint32_t id, const net::Rewrite& outer,
                                  uint16_t out_port) noexcept {
  const uint32_t h = flows_.hash(k);
  if (flows_.find(k, h) != nullptr) return -1;
  return flows_.insert(k, h, id, kHop, outer, out_port);
}

void SessionTable::remove_hop(uint32_t slot) noexcept {
  if (flows_.slot(slot).state.load(std::memory_order_relaxed) != kSlotLive) return;
  flows_.retire(slot);
  deferred_slots_.push_back({qsv_ ? rte_rcu_qsbr_start(qsv_) : 0, slot});
}

void SessionTable::reclaim() noexcept {
  while (!deferred_slots_.empty()) {
    const Deferred& d = deferred_slots_.front();
    if (qsv_ != nullptr && rte_rcu_qsbr_check(qsv_, d.token, false) != 1) break;
    flows_.release(d.index);
    deferred_slots_.pop_front();
  }
  while (!deferred_.empty()) {
    const Deferred& d = deferred_.front();
    if (qsv_ != nullptr && rte_rcu_qsbr_check(qsv_, d.token, false) != 1) break;
    Session& s = records_[d.index];
    for (uint32_t slot : s.slot)
      if (slot != kNoSlot) flows_.release(slot);
    s.slot[0] = s.slot[1] = kNoSlot;
    free_.push_back(d.index);
    deferred_.pop_front();
  }
}

}  // namespace srtfwd::dataplane

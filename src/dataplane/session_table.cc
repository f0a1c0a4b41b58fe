#include "srtfwd/dataplane/session_table.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <new>
#include <stdexcept>

namespace srtfwd::dataplane {

const char* to_string(InstallError e) noexcept {
  switch (e) {
    case InstallError::kOk: return "ok";
    case InstallError::kFull: return "session table full";
    case InstallError::kKeyExists: return "4-tuple already in a session";
    case InstallError::kFamilyMismatch: return "caller and backend address families differ";
    case InstallError::kHashError: return "hash insert failed";
  }
  return "?";
}

namespace {
// rte_hash calls this for add/delete and for lookups without a hash; it
// must equal SessionTable::hash, which the workers compute themselves.
uint32_t key_hash(const void* key, uint32_t /*key_len*/, uint32_t /*init*/) {
  return SessionTable::hash(*static_cast<const SessionKey*>(key));
}
}  // namespace

SessionTable::SessionTable(const std::string& name, uint32_t capacity,
                           int socket_id, rte_rcu_qsbr* qsv)
    : qsv_(qsv), capacity_(capacity) {
  if (capacity == 0) throw std::runtime_error("session capacity must be > 0");
  rte_hash_parameters p{};
  p.name = name.c_str();
  // Two keys per session; rte_hash wants at least 8 entries.
  p.entries = capacity * 2 < 8 ? 8 : capacity * 2;
  p.key_len = sizeof(SessionKey);
  p.hash_func = key_hash;
  p.hash_func_init_val = 0;
  p.socket_id = socket_id;
  // Lock-free readers with one writer; the extendable bucket table makes the
  // capacity a guarantee instead of a hope when a bucket fills up.
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  hash_ = rte_hash_create(&p);
  if (hash_ == nullptr)
    throw std::runtime_error("cannot create session hash for " + std::to_string(capacity) +
                             " sessions: " + rte_strerror(rte_errno));
  if (qsv_ != nullptr) {
    rte_hash_rcu_config rc{};
    rc.v = qsv_;
    rc.mode = RTE_HASH_QSBR_MODE_DQ;  // key slots freed after the grace period, by the writer
    if (rte_hash_rcu_qsbr_add(hash_, &rc) != 0) {
      rte_hash_free(hash_);
      throw std::runtime_error(std::string("cannot attach RCU to session hash: ") +
                               rte_strerror(rte_errno));
    }
  }
  records_ = static_cast<Session*>(
      rte_zmalloc_socket("srtfwd_sessions", sizeof(Session) * size_t{capacity},
                         alignof(Session), socket_id));
  if (records_ == nullptr) {
    rte_hash_free(hash_);
    throw std::runtime_error("cannot allocate " + std::to_string(capacity) +
                             " session records (" +
                             std::to_string(sizeof(Session) * size_t{capacity} >> 20) +
                             " MiB): lower [dataplane] sessions or give more memory (-m)");
  }
  free_.reserve(capacity);
  for (uint32_t i = 0; i < capacity; ++i) {
    new (&records_[i]) Session();
    records_[i].index = i;
  }
  for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
}

SessionTable::~SessionTable() {
  if (hash_ != nullptr) rte_hash_free(hash_);
  if (records_ != nullptr) {
    for (uint32_t i = 0; i < capacity_; ++i) records_[i].~Session();
    rte_free(records_);
  }
}

uint64_t SessionTable::lookup_bulk(const SessionKey** keys, uint32_t* hashes, unsigned n,
                                   void** data) const noexcept {
  uint64_t hits = 0;
  if (n == 0) return 0;
  rte_hash_lookup_with_hash_bulk_data(hash_, reinterpret_cast<const void**>(keys), hashes, n,
                                      &hits, data);
  return hits;
}

Session* SessionTable::lookup(const SessionKey& k, Direction* dir) const noexcept {
  void* data = nullptr;
  if (rte_hash_lookup_data(hash_, &k, &data) < 0) return nullptr;
  return untag(data, dir);
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

Session* SessionTable::install(const SessionSpec& spec, uint64_t now_tsc,
                               InstallError* err) {
  auto fail = [err](InstallError e) -> Session* {
    if (err) *err = e;
    return nullptr;
  };
  if (spec.caller_ip.is_v4() != spec.vip.is_v4() ||
      spec.backend_ip.is_v4() != spec.leg_ip.is_v4() ||
      spec.caller_ip.is_v4() != spec.backend_ip.is_v4())
    return fail(InstallError::kFamilyMismatch);
  if (free_.empty()) {
    reclaim();
    if (free_.empty()) return fail(InstallError::kFull);
  }
  const SessionKey k0 = caller_key(spec);
  const SessionKey k1 = backend_key(spec);
  if (rte_hash_lookup(hash_, &k0) >= 0 || rte_hash_lookup(hash_, &k1) >= 0)
    return fail(InstallError::kKeyExists);

  Session* s = &records_[free_.back()];
  // Caller -> backend: the caller's packet leaves from our leg toward the backend.
  auto rw0 = net::make_rewrite(spec.caller_ip, spec.vip, spec.caller_udp, spec.vip_udp,
                               spec.leg_ip, spec.backend_ip, spec.leg_udp, spec.backend_udp,
                               spec.backend_next_hop);
  // Backend -> caller: the backend's packet leaves from the VIP toward the caller.
  auto rw1 = net::make_rewrite(spec.backend_ip, spec.leg_ip, spec.backend_udp, spec.leg_udp,
                               spec.vip, spec.caller_ip, spec.vip_udp, spec.caller_udp,
                               spec.caller_next_hop);
  if (!rw0 || !rw1) return fail(InstallError::kFamilyMismatch);
  free_.pop_back();

  s->dir[kFromCaller].rewrite = *rw0;
  s->dir[kFromCaller].out_port = spec.backend_port_id;
  s->dir[kFromBackend].rewrite = *rw1;
  s->dir[kFromBackend].out_port = spec.caller_port_id;
  for (int d = 0; d < 2; ++d) {
    s->dir[d].packets.reset();
    s->dir[d].bytes.reset();
    s->seen_packets[d] = 0;
    s->active_tsc[d].store(now_tsc, std::memory_order_relaxed);
  }
  s->key[0] = k0;
  s->key[1] = k1;
  s->spec = spec;
  s->installed_tsc = now_tsc;
  s->end_after_tsc = 0;
  s->in_use = true;

  // rte_hash_add_key_data publishes the record with release semantics: a
  // worker that finds the key sees the fields written above.
  auto tag = [s](Direction d) {
    return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(s) | d);
  };
  if (rte_hash_add_key_data(hash_, &k0, tag(kFromCaller)) != 0) {
    s->in_use = false;
    free_.push_back(s->index);
    return fail(InstallError::kHashError);
  }
  if (rte_hash_add_key_data(hash_, &k1, tag(kFromBackend)) != 0) {
    rte_hash_del_key(hash_, &k0);
    s->in_use = false;
    // A worker may have seen k0 already: reuse the record only after grace.
    deferred_.push_back({qsv_ ? rte_rcu_qsbr_start(qsv_) : 0, s->index});
    return fail(InstallError::kHashError);
  }
  active_.fetch_add(1, std::memory_order_relaxed);
  if (err) *err = InstallError::kOk;
  return s;
}

void SessionTable::remove(Session* s) {
  if (s == nullptr || !s->in_use) return;
  rte_hash_del_key(hash_, &s->key[0]);
  rte_hash_del_key(hash_, &s->key[1]);
  s->in_use = false;
  active_.fetch_sub(1, std::memory_order_relaxed);
  deferred_.push_back({qsv_ ? rte_rcu_qsbr_start(qsv_) : 0, s->index});
}

void SessionTable::reclaim() noexcept {
  while (!deferred_.empty()) {
    const Deferred& d = deferred_.front();
    if (qsv_ != nullptr && rte_rcu_qsbr_check(qsv_, d.token, false) != 1) break;
    free_.push_back(d.index);
    deferred_.pop_front();
  }
  // Key slots are reclaimed by rte_hash itself (RCU DQ mode) on later
  // add/delete calls; nothing else to do here.
}

}  // namespace srtfwd::dataplane

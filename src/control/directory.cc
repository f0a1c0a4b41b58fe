#include "srtfwd/control/directory.h"

#include <hiredis/hiredis.h>
#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace srtfwd::control {

namespace {

using dataplane::Session;
using dataplane::SessionKey;

// Keys per command: a script over this many keys is one round trip, and
// short enough not to hold Redis up for others.
constexpr size_t kBatch = 256;
// How long an answer of the directory (an owner, or none) is trusted before
// it is asked again: a flow whose owner is unknown costs one read per this
// long, whatever its packet rate.
constexpr uint64_t kCacheMs = 2000;
// A read without an answer by then is given up (the next packet asks again).
constexpr uint64_t kLookupTimeoutMs = 500;
// Reads in flight at most: a flood of packets of unknown flows cannot queue
// unbounded work on Redis.
constexpr size_t kMaxLookups = 1024;
// Hop entries at most, and how often their idleness is checked.
constexpr size_t kMaxHops = 65536;
constexpr uint64_t kHopSweepMs = 100;
// The outer UDP source ports carry the inner flow's hash in this range.
constexpr uint16_t kEntropyPortBase = 49152;

// KEYS[i] gets ARGV[i + 1] for ARGV[1] seconds.
constexpr const char* kPutScript = R"lua(
for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[i + 1], 'EX', ARGV[1]) end
return #KEYS
)lua";
// Deletes the KEYS that still name us (ARGV[1] is our owner field): a
// session another host installed for the same 4-tuple since stays.
constexpr const char* kDeleteScript = R"lua(
local n = 0
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and string.find(v, ARGV[1], 1, true) then
    redis.call('DEL', k)
    n = n + 1
  end
end
return n
)lua";

std::string endpoint(const net::IpAddr& ip, uint16_t port) {
  return (ip.is_v4() ? ip.to_string() : "[" + ip.to_string() + "]") + ":" + std::to_string(port);
}

}  // namespace

std::string directory_key(const net::IpAddr& caller, uint16_t caller_port, const net::IpAddr& vip,
                          uint16_t vip_port) {
  return "srtfwd:session:" + endpoint(caller, caller_port) + "-" + endpoint(vip, vip_port);
}

std::string directory_value(const DirectoryEntry& e) {
  nlohmann::json j = {{"owner", e.owner.to_string()},
                      {"hop_port", e.hop_port},
                      {"caller_socket_id", e.caller_socket_id},
                      {"backend_socket_id", e.backend_socket_id}};
  return j.dump();
}

std::optional<DirectoryEntry> parse_directory_value(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto owner = j.find("owner");
  auto port = j.find("hop_port");
  if (owner == j.end() || !owner->is_string() || port == j.end() || !port->is_number_unsigned())
    return std::nullopt;
  auto ip = net::IpAddr::parse(owner->get<std::string>());
  const uint64_t p = port->get<uint64_t>();
  if (!ip || !ip->is_v4() || p == 0 || p > 65535) return std::nullopt;
  DirectoryEntry e;
  e.owner = *ip;
  e.hop_port = static_cast<uint16_t>(p);
  auto sid = [&](const char* name) -> uint32_t {
    auto it = j.find(name);
    return it != j.end() && it->is_number_unsigned() ? it->get<uint32_t>() : 0;
  };
  e.caller_socket_id = sid("caller_socket_id");
  e.backend_socket_id = sid("backend_socket_id");
  return e;
}

size_t Directory::KeyHash::operator()(const SessionKey& k) const noexcept {
  // Not the flow table's seed: this map only holds flows that reached
  // control, and std::hash over the bytes is enough for it.
  return std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char*>(&k), sizeof(SessionKey)));
}

Directory::Directory(ControlPlane& cp, Balancer& redis, const DirectoryOptions& opt,
                     const std::string& key_prefix)
    : cp_(cp),
      redis_(redis),
      opt_(opt),
      key_prefix_(key_prefix),
      owner_text_("\"owner\":\"" + opt.address->to_string() + "\""),
      c_(cp.plugin_counters()) {}

Directory::~Directory() = default;

std::string Directory::prefixed(const std::string& key) const {
  return key_prefix_.empty() ? key : key_prefix_ + ":" + key;
}

std::string Directory::key_of(const Session& s) const {
  return prefixed(directory_key(s.spec.caller_ip, s.spec.caller_udp, s.spec.vip, s.spec.vip_udp));
}

void Directory::on_session_installed(const Session& s) {
  DirectoryEntry e;
  e.owner = *opt_.address;
  e.hop_port = opt_.port;
  e.caller_socket_id = s.spec.caller_socket_id;
  e.backend_socket_id = s.spec.backend_socket_id;
  ops_.push_back({true, key_of(s), directory_value(e)});
  // A hop entry for the same 4-tuple (the flow came back to this host and
  // made a session here) would hide it from no one, but is stale now.
  remove_hop(s.key[0]);
}

void Directory::on_session_ended(const Session& s) { ops_.push_back({false, key_of(s), {}}); }

void Directory::flush_ops() {
  size_t i = 0;
  while (i < ops_.size()) {
    // A run of one kind, at most kBatch keys: one command.
    const bool put = ops_[i].put;
    std::vector<std::string> args{"EVAL", put ? kPutScript : kDeleteScript, "0"};
    size_t n = 0;
    const size_t first = i;
    for (; i < ops_.size() && ops_[i].put == put && n < kBatch; ++i, ++n)
      args.push_back(ops_[i].key);
    args[2] = std::to_string(n);
    if (put) {
      args.push_back(std::to_string(opt_.ttl_s));
      for (size_t k = first; k < i; ++k) args.push_back(std::move(ops_[k].value));
    } else {
      args.push_back(owner_text_);
    }
    const bool sent = redis_.redis_command(args, [this, n, put](const redisReply* r) {
      if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
        c_.directory_errors.add();
        return;
      }
      (put ? c_.directory_writes : c_.directory_deletes).add(n);
    });
    if (sent)
      c_.directory_batches.add();
    else
      c_.directory_errors.add();  // Redis down: the next refresh writes the live ones again
  }
  ops_.clear();
}

void Directory::refresh(uint64_t now_ms) {
  auto& table = cp_.dataplane().sessions();
  const uint32_t live = table.live_count();
  const uint64_t period = uint64_t{opt_.ttl_s} * 1000 / 3;
  if (refresh_cursor_ == 0) {
    // A pass starts every ttl_s / 3: one behind keeps its entries alive.
    if (now_ms < refresh_due_ms_) return;
    refresh_due_ms_ = now_ms + period;
  }
  // The pass spread over its period's ticks (~100 per second), a batch at least.
  const uint64_t per_tick =
      std::max<uint64_t>(kBatch, live * 10 / std::max<uint64_t>(period, 1) + 1);
  for (uint64_t k = 0; k < per_tick && refresh_cursor_ < table.live_count(); ++k) {
    const Session& s = *table.at(table.live_index(refresh_cursor_++));
    DirectoryEntry e;
    e.owner = *opt_.address;
    e.hop_port = opt_.port;
    e.caller_socket_id = s.spec.caller_socket_id;
    e.backend_socket_id = s.spec.backend_socket_id;
    ops_.push_back({true, key_of(s), directory_value(e)});
  }
  if (refresh_cursor_ >= table.live_count()) refresh_cursor_ = 0;
}

void Directory::tick(uint64_t now) {
  now_ms_ = ms(now);
  refresh(now_ms_);
  if (!ops_.empty()) flush_ops();
  if (now_ms_ >= next_sweep_ms_) {
    next_sweep_ms_ = now_ms_ + kHopSweepMs;
    sweep_hops(now_ms_);
    for (auto it = lookups_.begin(); it != lookups_.end();)
      it = now_ms_ >= it->second ? lookups_.erase(it) : std::next(it);
    for (auto it = cache_.begin(); it != cache_.end();)
      it = now_ms_ >= it->second.expires_ms ? cache_.erase(it) : std::next(it);
  }
}

void Directory::on_missed(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now) {
  now_ms_ = ms(now);
  rte_pktmbuf_free(m);
  if (!fi.src.is_v4()) {
    c_.second_chance_unknown.add();  // hops are IPv4 only
    return;
  }
  SessionKey k{};
  k.src = fi.src;
  k.dst = fi.dst;
  k.sport_be = rte_cpu_to_be_16(fi.sport);
  k.dport_be = rte_cpu_to_be_16(fi.dport);
  if (hops_.count(k) != 0) {
    // Queued before its hop entry went in.
    c_.second_chance_pending.add();
    return;
  }
  if (auto it = cache_.find(k); it != cache_.end() && now_ms_ < it->second.expires_ms) {
    if (!it->second.known) {
      c_.second_chance_unknown.add();
      return;
    }
    // Known owner, no entry yet (its next hop was resolving): try again.
    c_.second_chance_pending.add();
    install_hop(k, it->second.entry, now_ms_);
    return;
  }
  c_.second_chance_pending.add();
  look_up(k, now_ms_);
}

void Directory::look_up(const SessionKey& k, uint64_t now_ms) {
  if (lookups_.count(k) != 0) return;
  if (lookups_.size() >= kMaxLookups) {
    c_.second_chance_overload.add();
    return;
  }
  const std::string key = prefixed(
      directory_key(k.src, rte_be_to_cpu_16(k.sport_be), k.dst, rte_be_to_cpu_16(k.dport_be)));
  const bool sent = redis_.redis_command({"GET", key}, [this, k](const redisReply* r) {
    if (lookups_.erase(k) == 0) return;  // given up
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
      c_.directory_errors.add();
      return;
    }
    std::optional<DirectoryEntry> e;
    if (r->type == REDIS_REPLY_STRING) e = parse_directory_value(std::string(r->str, r->len));
    learned(k, e, now_ms_);
  });
  if (!sent) {
    c_.directory_errors.add();
    return;
  }
  c_.second_chance_lookups.add();
  lookups_[k] = now_ms + kLookupTimeoutMs;
}

void Directory::learned(const SessionKey& k, const std::optional<DirectoryEntry>& e,
                        uint64_t now_ms) {
  Owner& o = cache_[k];
  o.expires_ms = now_ms + kCacheMs;
  // No entry, or one naming us (a session here that has ended since): no
  // other host to send the flow to.
  o.known = e && e->owner != *opt_.address;
  if (o.known) o.entry = *e;
  auto h = hops_.find(k);
  if (h != hops_.end()) {
    h->second.checking = false;
    h->second.checked_ms = now_ms;
    if (!o.known) {
      spdlog::info("second chance: {} -> owner gone from the directory, hop removed",
                   endpoint(k.src, rte_be_to_cpu_16(k.sport_be)));
      remove_hop(k);
    } else if (h->second.entry.owner != e->owner || h->second.entry.hop_port != e->hop_port) {
      remove_hop(k);  // moved: the next packet takes the new hop
      install_hop(k, *e, now_ms);
    }
    return;
  }
  if (!o.known) {
    c_.second_chance_unknown.add();
    return;
  }
  install_hop(k, *e, now_ms);
}

bool Directory::install_hop(const SessionKey& k, const DirectoryEntry& e, uint64_t now_ms) {
  if (hops_.count(k) != 0) return true;
  if (hops_.size() >= kMaxHops) {
    c_.second_chance_overload.add();
    return false;
  }
  auto route = cp_.route(e.owner);
  if (!route) {
    c_.hop_failed.add();
    return false;
  }
  auto mac = cp_.neighbours().lookup(route->port, route->next_hop);
  if (!mac) {
    // The next packet of the flow, once resolved, installs it (from the cache).
    cp_.neighbours().resolve(route->port, route->next_hop, cp_.ms_to_tsc(now_ms));
    return false;
  }
  auto& table = cp_.dataplane().sessions();
  net::Rewrite outer;
  outer.dst_mac = *mac;
  outer.src = *opt_.address;
  outer.dst = e.owner;
  outer.sport_be = rte_cpu_to_be_16(
      static_cast<uint16_t>(kEntropyPortBase + table.flows().hash(k) % (65536 - kEntropyPortBase)));
  outer.dport_be = rte_cpu_to_be_16(e.hop_port);
  const int64_t slot = table.install_hop(k, 0, outer, route->port);
  if (slot < 0) {
    c_.hop_failed.add();
    return false;
  }
  Hop& h = hops_[k];
  h.slot = static_cast<uint32_t>(slot);
  h.entry = e;
  h.active_ms = h.checked_ms = now_ms;
  c_.hops_installed.add();
  spdlog::info("second chance: {} -> {} hops to {}", endpoint(k.src, rte_be_to_cpu_16(k.sport_be)),
               endpoint(k.dst, rte_be_to_cpu_16(k.dport_be)), e.owner.to_string());
  return true;
}

void Directory::remove_hop(const SessionKey& k) {
  auto it = hops_.find(k);
  if (it == hops_.end()) return;
  cp_.dataplane().sessions().remove_hop(it->second.slot);
  hops_.erase(it);
  c_.hops_ended.add();
}

void Directory::sweep_hops(uint64_t now_ms) {
  auto& flows = cp_.dataplane().sessions().flows();
  const uint64_t idle = cp_.options().idle_timeout_ms;
  const uint64_t recheck = uint64_t{opt_.ttl_s} * 1000 / 3;
  std::vector<SessionKey> idle_keys;
  for (auto& [k, h] : hops_) {
    const uint64_t p = flows.slot(h.slot).counters().packets.get();
    if (p != h.seen_packets) {
      h.seen_packets = p;
      h.active_ms = now_ms;
    }
    if (now_ms - h.active_ms > idle) {
      idle_keys.push_back(k);
    } else if (!h.checking && now_ms - h.checked_ms > recheck) {
      // Is the owner still the owner? (Gone: its entry expired.)
      h.checking = true;
      const std::string key = prefixed(
          directory_key(k.src, rte_be_to_cpu_16(k.sport_be), k.dst, rte_be_to_cpu_16(k.dport_be)));
      const SessionKey kk = k;
      const bool sent = redis_.redis_command({"GET", key}, [this, kk](const redisReply* r) {
        auto it = hops_.find(kk);
        if (it == hops_.end()) return;
        if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
          it->second.checking = false;  // Redis down: the hop stays, asked again later
          c_.directory_errors.add();
          return;
        }
        std::optional<DirectoryEntry> e;
        if (r->type == REDIS_REPLY_STRING) e = parse_directory_value(std::string(r->str, r->len));
        learned(kk, e, now_ms_);
      });
      if (sent)
        c_.second_chance_lookups.add();
      else
        h.checking = false;
    }
  }
  for (const auto& k : idle_keys) remove_hop(k);
}

void Directory::clear() {
  while (!hops_.empty()) remove_hop(hops_.begin()->first);
}

}  // namespace srtfwd::control

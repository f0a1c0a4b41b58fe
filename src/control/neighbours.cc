#include "srtfwd/control/neighbours.h"

#include <rte_mbuf.h>

namespace srtfwd::control {

Neighbours::Neighbours(unsigned nb_ports, const Params& p, Solicit solicit, Release release)
    : tables_(nb_ports), p_(p), solicit_(std::move(solicit)), release_(std::move(release)) {}

Neighbours::~Neighbours() { clear(); }

std::optional<net::MacAddr> Neighbours::lookup(uint16_t port, const net::IpAddr& ip) const {
  if (port >= tables_.size()) return std::nullopt;
  auto it = tables_[port].find(ip);
  if (it == tables_[port].end() || !it->second.known) return std::nullopt;
  return it->second.mac;
}

void Neighbours::learn(uint16_t port, const net::IpAddr& ip, const net::MacAddr& mac,
                       uint64_t now) {
  if (port >= tables_.size() || mac.is_multicast() || mac.is_zero()) return;
  Entry& e = tables_[port][ip];
  if (e.is_static) return;
  if (!e.known || e.mac != mac) counters_.learned.add();
  e.mac = mac;
  e.known = true;
  e.failed = false;
  e.attempts = 0;
  e.stale_at = now + ms(p_.reachable_ms);
  while (!e.waiting.empty()) {
    rte_mbuf* m = e.waiting.front();
    e.waiting.pop_front();
    release_(port, m, mac);
  }
}

void Neighbours::set_static(uint16_t port, const net::IpAddr& ip, const net::MacAddr& mac) {
  if (port >= tables_.size()) return;
  Entry& e = tables_[port][ip];
  e.mac = mac;
  e.known = true;
  e.is_static = true;
  e.failed = false;
  while (!e.waiting.empty()) {
    release_(port, e.waiting.front(), mac);
    e.waiting.pop_front();
  }
}

void Neighbours::ask(uint16_t port, const net::IpAddr& ip, Entry& e, uint64_t now) {
  ++e.attempts;
  e.next_try = now + ms(p_.retry_ms);
  counters_.requests_sent.add();
  solicit_(port, ip);
}

void Neighbours::resolve(uint16_t port, const net::IpAddr& ip, uint64_t now) {
  if (port >= tables_.size()) return;
  Entry& e = tables_[port][ip];
  if (e.known || e.attempts != 0) return;  // known, or already asking
  e.failed = false;
  ask(port, ip, e, now);
}

bool Neighbours::failed(uint16_t port, const net::IpAddr& ip) const {
  if (port >= tables_.size()) return true;
  auto it = tables_[port].find(ip);
  return it != tables_[port].end() && it->second.failed;
}

void Neighbours::send_or_queue(uint16_t port, const net::IpAddr& ip, rte_mbuf* m, uint64_t now) {
  if (port >= tables_.size()) {
    rte_pktmbuf_free(m);
    counters_.unresolved.add();
    return;
  }
  Entry& e = tables_[port][ip];
  if (e.known) {
    release_(port, m, e.mac);
    return;
  }
  if (e.waiting.size() >= p_.queue) {
    counters_.queue_full.add();
    rte_pktmbuf_free(m);
  } else {
    counters_.queued.add();
    e.waiting.push_back(m);
  }
  if (e.attempts == 0) {
    e.failed = false;
    ask(port, ip, e, now);
  }
}

void Neighbours::tick(uint64_t now) {
  for (uint16_t port = 0; port < tables_.size(); ++port) {
    for (auto it = tables_[port].begin(); it != tables_[port].end();) {
      Entry& e = it->second;
      if (e.is_static) {
        ++it;
        continue;
      }
      if (e.known) {
        // Stale: ask again, keep using the MAC meanwhile; forget it if
        // nobody answers after every attempt.
        if (now >= e.stale_at && now >= e.next_try) {
          if (e.attempts >= p_.attempts) {
            it = tables_[port].erase(it);
            continue;
          }
          ask(port, it->first, e, now);
        }
      } else if (e.attempts != 0 && now >= e.next_try) {
        if (e.attempts >= p_.attempts) {
          counters_.unresolved.add(e.waiting.size());
          for (auto* m : e.waiting) rte_pktmbuf_free(m);
          e.waiting.clear();
          e.failed = true;
          e.attempts = 0;
        } else {
          ask(port, it->first, e, now);
        }
      }
      ++it;
    }
  }
}

void Neighbours::clear() {
  for (auto& t : tables_)
    for (auto& [ip, e] : t) {
      for (auto* m : e.waiting) rte_pktmbuf_free(m);
      e.waiting.clear();
    }
}

}  // namespace srtfwd::control

// Neighbour tables (ARP for IPv4, NDP for IPv6), one per port, owned by the
// control lcore. A packet toward an unresolved next hop waits in a small
// bounded queue while we ask (retried, then given up and counted); answers
// and requests we see refresh entries; a reachable entry is asked again
// after neighbour_reachable_ms.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "srtfwd/dataplane/counters.h"
#include "srtfwd/net/addr.h"

struct rte_mbuf;

namespace srtfwd::control {

struct NeighbourCounters {
  dataplane::Counter requests_sent;  // ARP who-has / NDP NS we sent
  dataplane::Counter learned;        // entries created or changed
  dataplane::Counter queued;         // packets that waited for resolution
  dataplane::Counter queue_full;     // dropped: too many waiting for one neighbour
  dataplane::Counter unresolved;     // dropped: the neighbour never answered
};

class Neighbours {
 public:
  // Sends a resolution request for ip on port (ARP who-has or NDP NS).
  using Solicit = std::function<void(uint16_t port, const net::IpAddr& ip)>;
  // Sends a queued frame whose destination MAC is now known (writes it).
  using Release = std::function<void(uint16_t port, rte_mbuf* m, const net::MacAddr& mac)>;

  struct Params {
    uint64_t tsc_hz = 1;
    uint32_t retry_ms = 1000;
    uint32_t attempts = 3;
    uint32_t reachable_ms = 300000;
    uint32_t queue = 16;
  };

  Neighbours(unsigned nb_ports, const Params& p, Solicit solicit, Release release);
  ~Neighbours();

  // The MAC of ip on port, if known and not stale.
  std::optional<net::MacAddr> lookup(uint16_t port, const net::IpAddr& ip) const;
  // Learns (or refreshes) a mapping from a packet we received.
  void learn(uint16_t port, const net::IpAddr& ip, const net::MacAddr& mac, uint64_t now);
  // A static entry never expires and is never asked for.
  void set_static(uint16_t port, const net::IpAddr& ip, const net::MacAddr& mac);
  // Sends m to ip now if known (via Release), else queues it and asks.
  // The mbuf is always consumed.
  void send_or_queue(uint16_t port, const net::IpAddr& ip, rte_mbuf* m, uint64_t now);
  // Starts resolving ip if unknown (no packet waiting).
  void resolve(uint16_t port, const net::IpAddr& ip, uint64_t now);
  // True once resolving ip has failed (no answer after every retry); false
  // while it runs, once it is known, and for an address never asked for.
  bool failed(uint16_t port, const net::IpAddr& ip) const;
  // Retries, expiries, give-ups. Call on the control loop's timer.
  void tick(uint64_t now);
  // Frees every queued packet (shutdown).
  void clear();
  const NeighbourCounters& counters() const { return counters_; }

  struct Entry {
    net::MacAddr mac;
    bool known = false;
    bool is_static = false;
    bool failed = false;
    uint32_t attempts = 0;
    uint64_t next_try = 0;  // tsc of the next request
    uint64_t stale_at = 0;  // tsc after which a known entry is asked again
    std::deque<rte_mbuf*> waiting;
  };

 private:
  uint64_t ms(uint32_t v) const { return p_.tsc_hz / 1000 * v; }
  void ask(uint16_t port, const net::IpAddr& ip, Entry& e, uint64_t now);
  std::vector<std::unordered_map<net::IpAddr, Entry>> tables_;
  Params p_;
  Solicit solicit_;
  Release release_;
  NeighbourCounters counters_;
};

}  // namespace srtfwd::control

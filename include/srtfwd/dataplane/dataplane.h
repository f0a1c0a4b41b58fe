// The data plane: mempool, ports and queues, the session table, the worker
// lcores and the rings that connect them to the control lcore.
//
//   NIC rxq --> worker (each RX queue has one; a worker may poll several)
//                  --hit--> rewrite --> worker's own txq on the output port
//                  '--slow path--> to_control ring --> control lcore
//   control lcore --> its own txq per port, or, when the port has no spare TX
//                     queue, a ring drained by worker 0 into its TX buffer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "srtfwd/dataplane/counters.h"
#include "srtfwd/dataplane/session_table.h"
#include "srtfwd/net/addr.h"

struct rte_mempool;
struct rte_mbuf;
struct rte_ring;
struct rte_rcu_qsbr;
struct rte_eth_dev_tx_buffer;

namespace srtfwd::dataplane {

inline constexpr unsigned kMaxPorts = 8;
inline constexpr unsigned kMaxWorkers = 64;
inline constexpr unsigned kBurst = 32;
// RX queues one worker may poll (over all ports).
inline constexpr unsigned kMaxWorkerRxQueues = 64;
// [directory] peers: prefixes a hop packet may come from.
inline constexpr unsigned kMaxHopPeers = 8;
// Virtual addresses one port may answer SRT on besides its own (PortOptions::vips).
inline constexpr unsigned kMaxVips = 16;

struct PortOptions {
  std::optional<net::Prefix> ipv4;  // address and prefix we answer on
  std::optional<net::Prefix> ipv6;
  // 802.1Q VLAN ID 1..4094 of every frame the port takes and sends; 0
  // (net::kNoVlan): untagged (net/vlan.h).
  uint16_t vlan = 0;
  // Addresses (no prefix) the port takes SRT on as its own, several hosts
  // sharing them behind a router's ECMP route (at most kMaxVips). A session
  // a caller opens to one answers from it.
  std::vector<net::IpAddr> vips;
  // ARP, NDP and ICMP echo answered for the VIPs too; off, the router
  // reaches them through a route (BGP next hop) to the port's address.
  bool announce_vips = false;
};

// Named defaults: they fit the documented `--no-huge -m 1024` start.
struct Options {
  std::vector<PortOptions> ports;
  uint32_t sessions = 65536;  // session records (two flow-table keys each)
  uint32_t mbufs = 16383;     // pool size; 2^n - 1 is optimal for rte_mempool
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  uint32_t control_ring = 4096;  // worker -> control slow-path ring, per worker
  uint32_t event_ring = 1024;    // worker -> control session events, per worker
  // Back-off of an lcore that finds nothing: after idle_polls empty polls it
  // sleeps idle_sleep_us per loop. 0 disables sleeping (dedicated host).
  uint32_t idle_polls = 300;
  uint32_t idle_sleep_us = 50;
  // The second chance's hop (net/encap.h): the UDP port hop packets arrive
  // on (0: none) and the IPv4 prefixes they may come from.
  uint16_t hop_port = 0;
  std::vector<net::Prefix> hop_peers;
  // Per worker, the SRT packets a second that missed the flow table, are not
  // handshakes and go to the control lcore anyway (the miss gate,
  // miss_gate.h), for a feature that looks for their session by socket ID
  // ([srt] follow_rebinding). 0: dropped as no_session, as without one.
  uint32_t miss_to_control_per_s = 0;
};

// Session events, worker -> control (packed into one ring word).
enum class SessionEvent : uint8_t { kShutdown = 1 };
inline uint64_t pack_event(uint32_t session, Direction d, SessionEvent e) noexcept {
  return (uint64_t{session} << 16) | (uint64_t(e) << 1) | d;
}
inline void unpack_event(uint64_t v, uint32_t* session, Direction* d, SessionEvent* e) noexcept {
  *session = static_cast<uint32_t>(v >> 16);
  *d = static_cast<Direction>(v & 1);
  *e = static_cast<SessionEvent>((v >> 1) & 0x7fff);
}

// What a worker and the control lcore know of one port.
struct PortInfo {
  uint16_t port_id = 0;
  std::string name;
  net::MacAddr mac;
  std::optional<net::Prefix> ipv4, ipv6;
  uint16_t vlan = 0;              // PortOptions::vlan
  std::vector<net::IpAddr> vips;  // PortOptions::vips
  bool announce_vips = false;
  uint16_t rx_queues = 0, tx_queues = 0;
  bool tx_cksum_offload = false;  // IPv4 header + UDP checksums by the NIC
  bool control_has_txq = false;   // else control TX goes through ctl_tx ring
  uint16_t control_txq = 0;
  rte_ring* ctl_tx = nullptr;  // control -> worker 0 TX (when !control_has_txq)

  bool is_vip(const net::IpAddr& ip) const noexcept {
    for (const auto& v : vips)
      if (v == ip) return true;
    return false;
  }
};

// A port's own counters as its driver keeps them (rte_eth_stats_get): what
// the NIC took in and sent, and what it lost before any worker saw it. A
// worker that cannot keep up shows here (rx_missed), not in its counters.
struct PortStats {
  uint16_t port_id = 0;
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  uint64_t rx_missed = 0;  // dropped by the NIC: its RX queue was full
  uint64_t rx_errors = 0;  // erroneous frames
  uint64_t rx_nombuf = 0;  // receive failures for want of an mbuf
  uint64_t tx_errors = 0;  // frames the NIC failed to send
  // Packets received per RX queue, as far as the driver counts them (the
  // first RTE_ETHDEV_QUEUE_STAT_CNTRS queues).
  std::vector<uint64_t> rx_queue_packets;
};

// Which lcore polls one RX queue (every queue of every port has one).
struct RxQueueOwner {
  uint16_t port_id = 0;
  uint16_t queue = 0;
  unsigned lcore = 0;
};

// One worker lcore's counters, for per-worker metrics.
struct WorkerStats {
  unsigned lcore = 0;
  unsigned rx_queues = 0;  // how many it polls; 0: it idles
  CounterTotals counters;
};

struct WorkerContext;

class Dataplane {
 public:
  // After rte_eal_init. Configures and starts every port. Throws
  // std::runtime_error with one clear line on failure.
  explicit Dataplane(const Options& opt);
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  // Launches one worker per worker lcore (every lcore but the main one).
  void launch_workers();
  // Stops and joins the workers, flushing their TX buffers. Idempotent.
  void stop_workers();
  // Stops the workers, returns queued packets to the pool and stops and
  // closes the ports (net_pcap writes its tx_pcap then). Idempotent; after
  // it, mbufs_in_use() counts only mbufs that someone leaked.
  void shutdown() noexcept;

  // ---- for the control lcore ----
  // Dequeues slow-path packets from every worker ring (up to n).
  unsigned poll_slow_path(rte_mbuf** out, unsigned n) noexcept;
  unsigned poll_events(uint64_t* out, unsigned n) noexcept;
  // Sends a packet built by the control lcore; the mbuf is always consumed.
  bool control_send(uint16_t port_id, rte_mbuf* m) noexcept;
  rte_mempool* pool() const noexcept { return pool_; }
  SessionTable& sessions() noexcept { return *table_; }
  const SessionTable& sessions() const noexcept { return *table_; }
  const std::vector<PortInfo>& ports() const noexcept { return ports_; }
  const PortInfo* port(uint16_t port_id) const noexcept;
  unsigned active_workers() const noexcept { return active_workers_; }
  unsigned worker_lcores() const noexcept { return static_cast<unsigned>(workers_.size()); }
  // Sum of every worker's counters (any thread).
  CounterTotals totals() const noexcept;
  // Each worker lcore's own counters, in lcore order (any thread); they sum
  // to totals().
  std::vector<WorkerStats> worker_stats() const;
  // (port, RX queue) -> lcore, every RX queue once.
  const std::vector<RxQueueOwner>& rx_queue_map() const noexcept { return rx_map_; }
  // Counters of the control lcore's own transmissions.
  uint64_t control_tx_packets() const noexcept { return control_tx_.get(); }
  uint64_t control_tx_dropped() const noexcept { return control_tx_dropped_.get(); }
  // Every started port's driver counters (any thread, while the ports are
  // open; empty after shutdown()). A port whose driver gives none is left out.
  std::vector<PortStats> port_stats() const;
  // mbufs not in the pool (for the leak check at exit).
  unsigned mbufs_in_use() const noexcept;
  const Options& options() const noexcept { return opt_; }
  rte_rcu_qsbr* rcu() const noexcept { return qsv_; }

 private:
  // rx_queues: the port's RX queue count; workers: forwarding workers (one
  // TX queue each).
  void setup_port(uint16_t port_id, const PortOptions& po, uint16_t rx_queues, unsigned workers);
  void assign_rx_queues();
  void close_ports() noexcept;

  Options opt_;
  rte_mempool* pool_ = nullptr;
  rte_rcu_qsbr* qsv_ = nullptr;
  std::unique_ptr<SessionTable> table_;
  std::vector<PortInfo> ports_;
  std::vector<WorkerContext*> workers_;  // rte_zmalloc'd, cache aligned
  std::vector<RxQueueOwner> rx_map_;
  unsigned active_workers_ = 0;
  std::atomic<bool> stop_{false};
  bool launched_ = false;
  std::atomic<bool> ports_started_{false};
  std::atomic<bool> ports_closed_{false};
  Counter control_tx_, control_tx_dropped_;
};

}  // namespace srtfwd::dataplane

// A worker lcore: busy-polls its (port, RX queue) pairs in bursts, looks every UDP packet
// addressed to us up in the session table (one probe per flow, its slot
// prefetched while the burst is parsed), rewrites hits in
// place and buffers them for its own TX queue; hands the slow path (ARP, ICMP,
// SRT handshakes, fragments, IP options) to the control lcore through a
// bounded ring; frees and counts the rest.
#pragma once

#include <rte_ethdev.h>

#include <atomic>
#include <cstdint>

#include "srtfwd/dataplane/counters.h"
#include "srtfwd/dataplane/dataplane.h"
#include "srtfwd/dataplane/miss_gate.h"
#include "srtfwd/dataplane/session_table.h"

namespace srtfwd::dataplane {

inline constexpr uint8_t kNoFastL3 = 0xff;

// One per worker lcore, allocated cache-aligned on the lcore's socket.
struct alignas(64) WorkerContext {
  struct Port {
    uint16_t port_id = 0;
    uint16_t queue = 0;  // this worker's own TX queue on the port
    bool cksum_offload = false;
    // The header offset of the frames the IPv4 fast path may send on this
    // port as they arrived (see Dataplane's set-up); kNoFastL3: none.
    uint8_t fast_l3 = kNoFastL3;
    uint16_t vlan = 0;  // PortOptions::vlan (net/vlan.h)
    net::MacAddr mac;   // our MAC: the source of what this port sends
    bool has_v4 = false, has_v6 = false;
    net::IpAddr v4, v6;  // our addresses on this port
    rte_eth_dev_tx_buffer* txbuf = nullptr;
    rte_ring* ctl_tx = nullptr;  // control packets this worker transmits for the control lcore
  };

  // One RX queue this worker polls: ports[port] is its port.
  struct RxQueue {
    uint16_t port = 0;
    uint16_t queue = 0;
  };

  unsigned index = 0;  // worker number, also the RCU thread id
  unsigned lcore = 0;
  unsigned nb_ports = 0;
  Port ports[kMaxPorts];
  // The RX queues this worker alone polls, in order (Dataplane assigns every
  // queue of every port to exactly one worker); none: the worker idles.
  unsigned nb_rxq = 0;
  RxQueue rxq[kMaxWorkerRxQueues];
  rte_ring* to_control = nullptr;  // SP/SC, this worker -> control
  rte_ring* events = nullptr;      // SP/SC session events
  SessionTable* table = nullptr;
  rte_rcu_qsbr* qsv = nullptr;
  const std::atomic<bool>* stop = nullptr;
  uint32_t idle_polls = 0, idle_sleep_us = 0;
  // Non-handshake SRT packets of no session: to control within this budget
  // when a feature wants them (Options::miss_to_control_per_s), else dropped.
  MissGate miss_gate;
  WorkerCounters counters;
  // The second chance between hosts (net/encap.h): a packet to one of our
  // IPv4 addresses on UDP port hop_port_be (as the wire's bytes load; 0: no
  // hop) that no session takes is a hop packet, decapsulated when its outer
  // source lies in a hop peer prefix (address and mask as the wire's bytes
  // load). Read on the miss path only.
  struct HopPeer {
    uint32_t net_raw = 0, mask_raw = 0;
  };
  uint16_t hop_port_be = 0;
  unsigned nb_hop_peers = 0;
  HopPeer hop_peers[kMaxHopPeers];
  // Each port's VIPs (PortOptions::vips), indexed by port id as ports[]:
  // kept out of Port, which the forwarding path reads, so that it stays one
  // cache line. Only a packet not to the port's own address looks here.
  struct Vips {
    unsigned n = 0;
    net::IpAddr addr[kMaxVips];
  };
  Vips vips[kMaxPorts];
};

// Classifies, rewrites and dispatches one received burst (exposed for tests
// and benchmarks). Every mbuf gets exactly one fate: TX buffer, control ring,
// or freed with a counted reason.
void process_burst(WorkerContext& w, const WorkerContext::Port& in, rte_mbuf** pkts,
                   uint16_t n) noexcept;

// One loop iteration: RX each of the worker's queues, drain control TX, flush TX buffers,
// report a quiescent state. Returns the number of packets received.
unsigned poll_once(WorkerContext& w) noexcept;

// The lcore entry point (rte_eal_remote_launch); arg is a WorkerContext*.
int worker_main(void* arg);

}  // namespace srtfwd::dataplane

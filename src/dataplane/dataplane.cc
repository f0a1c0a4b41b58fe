#include "srtfwd/dataplane/dataplane.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "srtfwd/dataplane/worker.h"
#include "srtfwd/net/vlan.h"

namespace srtfwd::dataplane {

namespace {

std::runtime_error port_error(uint16_t port, const std::string& what, int rc) {
  return std::runtime_error("port " + std::to_string(port) + ": " + what + ": " +
                            rte_strerror(rc < 0 ? -rc : rc));
}

// TX buffer error callback: the queue was full at flush; free and count.
void tx_unsent(rte_mbuf** unsent, uint16_t count, void* userdata) {
  static_cast<WorkerCounters*>(userdata)->tx_dropped.add(count);
  rte_pktmbuf_free_bulk(unsent, count);
}

// The RX queues a port has whatever it is configured with, 0 when it takes
// the count we configure. net_af_packet opens all its qpairs sockets in one
// PACKET_FANOUT group when it is created, and the kernel hashes flows over
// all of them: a socket left unconfigured is never read, and its share of
// the flows vanishes without a counter.
uint16_t fixed_rx_queues(const rte_eth_dev_info& info) {
  const std::string_view driver = info.driver_name != nullptr ? info.driver_name : "";
  if (driver == "net_af_packet") return info.max_rx_queues;
  return 0;
}

net::MacAddr port_mac(uint16_t port_id) {
  rte_ether_addr a{};
  rte_eth_macaddr_get(port_id, &a);
  net::MacAddr m;
  std::copy(std::begin(a.addr_bytes), std::end(a.addr_bytes), m.b.begin());
  return m;
}

}  // namespace

Dataplane::Dataplane(const Options& opt) : opt_(opt) {
  const uint16_t avail = rte_eth_dev_count_avail();
  if (opt.ports.empty()) throw std::runtime_error("config: no [[port]] given");
  if (opt.ports.size() > kMaxPorts)
    throw std::runtime_error("config: at most " + std::to_string(kMaxPorts) + " [[port]] tables");
  if (avail < opt.ports.size())
    throw std::runtime_error("config has " + std::to_string(opt.ports.size()) +
                             " [[port]] tables but DPDK found " + std::to_string(avail) +
                             " port(s): add --vdev/-a EAL options or remove [[port]] tables");
  if (avail > opt.ports.size())
    spdlog::warn("DPDK found {} ports, config uses the first {}", avail, opt.ports.size());

  unsigned nb_workers = 0;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore)++ nb_workers;
  if (nb_workers == 0)
    throw std::runtime_error(
        "no worker lcore: give at least two lcores (e.g. -l 0-1); "
        "the main lcore runs the control loop");
  if (nb_workers > kMaxWorkers)
    throw std::runtime_error("at most " + std::to_string(kMaxWorkers) + " worker lcores");

  const int socket = static_cast<int>(rte_socket_id());
  pool_ =
      rte_pktmbuf_pool_create("srtfwd_mbufs", opt.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (pool_ == nullptr)
    throw std::runtime_error("cannot create mbuf pool of " + std::to_string(opt.mbufs) +
                             " mbufs: " + rte_strerror(rte_errno) +
                             " (lower [dataplane] mbufs or give more memory with -m)");

  // Queue topology. A forwarding worker needs its own TX queue on every port
  // (what it receives on one port it may send on any); the RX queues of every
  // port are dealt round-robin over the forwarding workers, so that every
  // queue has exactly one poller and a worker may have several. A port with a
  // fixed set of queues (fixed_rx_queues) has all of them polled; any other
  // gets one RX queue per forwarding worker.
  std::vector<uint16_t> fixed(opt.ports.size(), 0);
  unsigned want = nb_workers;
  for (uint16_t p = 0; p < opt.ports.size(); ++p) {
    rte_eth_dev_info info{};
    int rc = rte_eth_dev_info_get(p, &info);
    if (rc != 0) throw port_error(p, "cannot read device info", rc);
    fixed[p] = fixed_rx_queues(info);
    want = std::min<unsigned>(want, info.max_tx_queues);
    if (fixed[p] == 0) want = std::min<unsigned>(want, info.max_rx_queues);
  }
  active_workers_ = std::max(1u, want);

  // RCU: one thread id per worker lcore.
  const size_t qsz = rte_rcu_qsbr_get_memsize(nb_workers);
  qsv_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("srtfwd_rcu", qsz, RTE_CACHE_LINE_SIZE));
  if (qsv_ == nullptr || rte_rcu_qsbr_init(qsv_, nb_workers) != 0)
    throw std::runtime_error("cannot set up RCU for the session table");

  table_ = std::make_unique<SessionTable>("srtfwd_sessions", opt.sessions, socket, qsv_);
  spdlog::info("session table: {} sessions, {} flow slots ({} MiB with the records)", opt.sessions,
               table_->flows().size(),
               (size_t{table_->flows().size()} * sizeof(FlowSlot) +
                size_t{opt.sessions} * sizeof(Session)) >>
                   20);

  for (uint16_t p = 0; p < opt.ports.size(); ++p)
    setup_port(p, opt.ports[p], fixed[p] != 0 ? fixed[p] : static_cast<uint16_t>(active_workers_),
               active_workers_);

  // Worker contexts.
  unsigned idx = 0;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    void* mem = rte_zmalloc_socket("srtfwd_worker", sizeof(WorkerContext), RTE_CACHE_LINE_SIZE,
                                   static_cast<int>(rte_lcore_to_socket_id(lcore)));
    if (mem == nullptr) throw std::runtime_error("cannot allocate worker context");
    auto* w = new (mem) WorkerContext();
    workers_.push_back(w);
    w->index = idx;
    w->lcore = lcore;
    w->table = table_.get();
    w->qsv = qsv_;
    w->stop = &stop_;
    w->idle_polls = opt.idle_polls;
    w->idle_sleep_us = opt.idle_sleep_us;
    if (opt.hop_port != 0) {
      w->hop_port_be = net::to_be16(opt.hop_port);
      for (const net::Prefix& p : opt.hop_peers) {
        if (!p.addr.is_v4() || w->nb_hop_peers == kMaxHopPeers) continue;  // config checks both
        const uint32_t mask = p.len == 0 ? 0 : ~uint32_t{0} << (32 - p.len);
        uint32_t net_be = 0;
        std::memcpy(&net_be, p.addr.b.data() + 12, 4);
        WorkerContext::HopPeer& hp = w->hop_peers[w->nb_hop_peers++];
        hp.mask_raw = net::raw32_of_be(mask);
        hp.net_raw = net_be & hp.mask_raw;
      }
    }
    w->miss_gate.set(opt.miss_to_control_per_s, rte_get_tsc_hz());
    w->nb_ports = static_cast<unsigned>(ports_.size());
    const bool active = idx < active_workers_;
    const std::string suffix = std::to_string(idx);
    w->to_control = rte_ring_create(("srtfwd_ctl" + suffix).c_str(), opt.control_ring, socket,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
    w->events = rte_ring_create(("srtfwd_ev" + suffix).c_str(), opt.event_ring, socket,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (w->to_control == nullptr || w->events == nullptr)
      throw std::runtime_error(std::string("cannot create worker rings: ") +
                               rte_strerror(rte_errno));
    for (auto& pi : ports_) {
      auto& wp = w->ports[pi.port_id];
      wp.port_id = pi.port_id;
      wp.queue = static_cast<uint16_t>(active ? idx : 0);
      wp.cksum_offload = pi.tx_cksum_offload;
      wp.vlan = pi.vlan;
      // The IPv4 fast path forwards onto this port only frames that leave
      // with their header layout: untagged onto an untagged port, tagged
      // onto a tagged one (same VLAN: process_burst checks). Offloaded
      // checksums and every other layout take the generic path.
      wp.fast_l3 = pi.tx_cksum_offload ? kNoFastL3
                   : pi.vlan != net::kNoVlan
                       ? static_cast<uint8_t>(net::kEthHeaderLen + net::kVlanTagLen)
                       : static_cast<uint8_t>(net::kEthHeaderLen);
      wp.mac = pi.mac;
      wp.has_v4 = pi.ipv4.has_value();
      if (wp.has_v4) wp.v4 = pi.ipv4->addr;
      wp.has_v6 = pi.ipv6.has_value();
      if (wp.has_v6) wp.v6 = pi.ipv6->addr;
      auto& wv = w->vips[pi.port_id];
      wv.n = static_cast<unsigned>(std::min<size_t>(pi.vips.size(), kMaxVips));
      std::copy_n(pi.vips.begin(), wv.n, wv.addr);
      if (active) {
        wp.txbuf = static_cast<rte_eth_dev_tx_buffer*>(
            rte_zmalloc_socket("srtfwd_txbuf", RTE_ETH_TX_BUFFER_SIZE(kBurst), 0, socket));
        if (wp.txbuf == nullptr) throw std::runtime_error("cannot allocate TX buffers");
        rte_eth_tx_buffer_init(wp.txbuf, kBurst);
        rte_eth_tx_buffer_set_err_callback(wp.txbuf, tx_unsent, &w->counters);
      }
      if (idx == 0) wp.ctl_tx = pi.ctl_tx;
    }
    ++idx;
  }
  assign_rx_queues();

  for (auto& pi : ports_) {
    int rc = rte_eth_dev_start(pi.port_id);
    if (rc < 0) throw port_error(pi.port_id, "cannot start", rc);
    rte_eth_allmulticast_enable(pi.port_id);  // NDP solicited-node multicast
  }
  ports_started_ = true;
}

void Dataplane::assign_rx_queues() {
  // Round-robin over (port, queue) in order, carried from one port to the
  // next: with one queue per worker on every port, worker i polls queue i of
  // each; a port's queues beyond the workers' count go to the next workers in
  // turn, so that the extra load spreads rather than landing on worker 0.
  unsigned next = 0;
  for (const auto& pi : ports_) {
    std::string line;
    for (uint16_t q = 0; q < pi.rx_queues; ++q) {
      WorkerContext* w = workers_[next++ % active_workers_];
      if (w->nb_rxq == kMaxWorkerRxQueues)
        throw std::runtime_error("port " + std::to_string(pi.port_id) + ": more than " +
                                 std::to_string(kMaxWorkerRxQueues) + " RX queues for lcore " +
                                 std::to_string(w->lcore) + ": give more worker lcores");
      w->rxq[w->nb_rxq++] = {pi.port_id, q};
      rx_map_.push_back({pi.port_id, q, w->lcore});
      line += (q == 0 ? "" : ", ") + std::to_string(q) + " -> lcore " + std::to_string(w->lcore);
    }
    spdlog::info("port {} ({}): rx queue {}", pi.port_id, pi.name, line);
  }
  for (const auto* w : workers_)
    if (w->nb_rxq == 0)
      spdlog::warn(
          "lcore {} idles: no RX queue for it ({} worker lcores, {} forwarding: the "
          "ports offer fewer queues)",
          w->lcore, workers_.size(), active_workers_);
}

void Dataplane::setup_port(uint16_t port_id, const PortOptions& po, uint16_t rx_queues,
                           unsigned workers) {
  rte_eth_dev_info info{};
  int rc = rte_eth_dev_info_get(port_id, &info);
  if (rc != 0) throw port_error(port_id, "cannot read device info", rc);

  PortInfo pi;
  pi.port_id = port_id;
  pi.name = info.driver_name ? info.driver_name : "?";
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (rte_eth_dev_get_name_by_port(port_id, name) == 0) pi.name = name;
  pi.ipv4 = po.ipv4;
  pi.ipv6 = po.ipv6;
  pi.vlan = po.vlan;
  pi.vips = po.vips;
  pi.announce_vips = po.announce_vips;
  pi.rx_queues = rx_queues;
  // One more TX queue for the control lcore when the port has it.
  pi.control_has_txq = info.max_tx_queues > workers;
  pi.tx_queues = static_cast<uint16_t>(workers + (pi.control_has_txq ? 1 : 0));
  pi.control_txq = static_cast<uint16_t>(workers);

  rte_eth_conf conf{};
  if (pi.rx_queues > 1) {
    const uint64_t want = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP |
                          RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_IPV6;
    const uint64_t hf = want & info.flow_type_rss_offloads;
    if (hf != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf = hf;
    } else {
      spdlog::warn(
          "port {} ({}): no UDP RSS; {} RX queues are filled by the driver's own "
          "spreading, the shared session table keeps that correct",
          port_id, pi.name, pi.rx_queues);
    }
  }
  const uint64_t csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  if ((info.tx_offload_capa & csum) == csum) {
    conf.txmode.offloads |= csum;
    pi.tx_cksum_offload = true;
  }
  rc = rte_eth_dev_configure(port_id, pi.rx_queues, pi.tx_queues, &conf);
  if (rc != 0 && pi.control_has_txq) {
    // Some drivers take only as many TX queues as RX queues (net_tap): the
    // control lcore then sends through worker 0's queue, as on a port with
    // too few TX queues.
    spdlog::warn(
        "port {} ({}): driver refused {} RX + {} TX queues ({}); retrying with {} TX "
        "queue(s), control packets through a worker's",
        port_id, pi.name, pi.rx_queues, pi.tx_queues, rte_strerror(-rc), workers);
    pi.control_has_txq = false;
    pi.tx_queues = static_cast<uint16_t>(workers);
    rc = rte_eth_dev_configure(port_id, pi.rx_queues, pi.tx_queues, &conf);
  }
  if (rc != 0) throw port_error(port_id, "cannot configure", rc);
  uint16_t nb_rxd = opt_.rx_descriptors, nb_txd = opt_.tx_descriptors;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rxd, &nb_txd);
  if (rc != 0) throw port_error(port_id, "cannot adjust descriptors", rc);
  const int socket = rte_eth_dev_socket_id(port_id) < 0 ? 0 : rte_eth_dev_socket_id(port_id);
  for (uint16_t q = 0; q < pi.rx_queues; ++q) {
    rc = rte_eth_rx_queue_setup(port_id, q, nb_rxd, socket, nullptr, pool_);
    if (rc != 0) throw port_error(port_id, "cannot set up RX queue " + std::to_string(q), rc);
  }
  for (uint16_t q = 0; q < pi.tx_queues; ++q) {
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    rc = rte_eth_tx_queue_setup(port_id, q, nb_txd, socket, &txc);
    if (rc != 0) throw port_error(port_id, "cannot set up TX queue " + std::to_string(q), rc);
  }
  if (!pi.control_has_txq) {
    pi.ctl_tx = rte_ring_create(("srtfwd_ctltx" + std::to_string(port_id)).c_str(), 1024, socket,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (pi.ctl_tx == nullptr)
      throw std::runtime_error(std::string("cannot create control TX ring: ") +
                               rte_strerror(rte_errno));
    spdlog::info(
        "port {} ({}): {} TX queue(s); the control lcore sends through worker 0's "
        "TX queue via a ring",
        port_id, pi.name, pi.tx_queues);
  }
  pi.mac = port_mac(port_id);
  std::string vips;
  for (const auto& v : pi.vips) vips += (vips.empty() ? " vips " : ",") + v.to_string();
  if (!vips.empty() && !pi.announce_vips) vips += " (not announced)";
  spdlog::info("port {} ({}): mac {} rxq {} txq {} checksum offload {}{}{}{}{}", port_id, pi.name,
               pi.mac.to_string(), pi.rx_queues, pi.tx_queues, pi.tx_cksum_offload ? "on" : "off",
               pi.ipv4 ? " ipv4 " + pi.ipv4->to_string() : "",
               pi.ipv6 ? " ipv6 " + pi.ipv6->to_string() : "",
               pi.vlan != net::kNoVlan ? " vlan " + std::to_string(pi.vlan) : "", vips);
  ports_.push_back(std::move(pi));
}

const PortInfo* Dataplane::port(uint16_t port_id) const noexcept {
  return port_id < ports_.size() ? &ports_[port_id] : nullptr;
}

void Dataplane::launch_workers() {
  if (launched_) return;
  for (auto* w : workers_) {
    int rc = rte_eal_remote_launch(worker_main, w, w->lcore);
    if (rc != 0)
      throw std::runtime_error("cannot launch worker on lcore " + std::to_string(w->lcore));
  }
  launched_ = true;
}

void Dataplane::stop_workers() {
  stop_.store(true, std::memory_order_relaxed);
  if (launched_) {
    rte_eal_mp_wait_lcore();
    launched_ = false;
  }
}

unsigned Dataplane::poll_slow_path(rte_mbuf** out, unsigned n) noexcept {
  unsigned got = 0;
  for (auto* w : workers_) {
    if (got == n) break;
    got += rte_ring_sc_dequeue_burst(w->to_control, reinterpret_cast<void**>(out + got), n - got,
                                     nullptr);
  }
  return got;
}

unsigned Dataplane::poll_events(uint64_t* out, unsigned n) noexcept {
  unsigned got = 0;
  void* tmp[64];
  for (auto* w : workers_) {
    while (got < n) {
      const unsigned want = std::min<unsigned>(64, n - got);
      const unsigned k = rte_ring_sc_dequeue_burst(w->events, tmp, want, nullptr);
      for (unsigned i = 0; i < k; ++i) out[got++] = reinterpret_cast<uint64_t>(tmp[i]);
      if (k < want) break;
    }
  }
  return got;
}

bool Dataplane::control_send(uint16_t port_id, rte_mbuf* m) noexcept {
  const PortInfo* pi = port(port_id);
  bool ok = false;
  if (pi != nullptr && ports_started_) {
    if (pi->control_has_txq)
      ok = rte_eth_tx_burst(port_id, pi->control_txq, &m, 1) == 1;
    else
      ok = rte_ring_sp_enqueue(pi->ctl_tx, m) == 0;
  }
  if (ok) {
    control_tx_.add();
  } else {
    control_tx_dropped_.add();
    rte_pktmbuf_free(m);
  }
  return ok;
}

CounterTotals Dataplane::totals() const noexcept {
  CounterTotals t;
  for (const auto* w : workers_) t.add(w->counters);
  return t;
}

std::vector<WorkerStats> Dataplane::worker_stats() const {
  std::vector<WorkerStats> out;
  out.reserve(workers_.size());
  for (const auto* w : workers_) {
    WorkerStats ws;
    ws.lcore = w->lcore;
    ws.rx_queues = w->nb_rxq;
    ws.counters.add(w->counters);
    out.push_back(ws);
  }
  return out;
}

std::vector<PortStats> Dataplane::port_stats() const {
  std::vector<PortStats> out;
  if (!ports_started_ || ports_closed_) return out;
  for (const auto& pi : ports_) {
    rte_eth_stats st;
    if (rte_eth_stats_get(pi.port_id, &st) != 0) continue;
    PortStats p;
    p.port_id = pi.port_id;
    p.rx_packets = st.ipackets;
    p.rx_bytes = st.ibytes;
    p.tx_packets = st.opackets;
    p.tx_bytes = st.obytes;
    p.rx_missed = st.imissed;
    p.rx_errors = st.ierrors;
    p.rx_nombuf = st.rx_nombuf;
    p.tx_errors = st.oerrors;
    const unsigned nq = std::min<unsigned>(pi.rx_queues, RTE_ETHDEV_QUEUE_STAT_CNTRS);
    p.rx_queue_packets.assign(st.q_ipackets, st.q_ipackets + nq);
    out.push_back(p);
  }
  return out;
}

unsigned Dataplane::mbufs_in_use() const noexcept {
  return pool_ ? rte_mempool_in_use_count(pool_) : 0;
}

void Dataplane::close_ports() noexcept {
  // Packets still queued toward control or the control TX rings go back to the pool.
  void* m;
  for (auto* w : workers_) {
    while (rte_ring_sc_dequeue(w->to_control, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  }
  for (auto& pi : ports_)
    if (pi.ctl_tx != nullptr)
      while (rte_ring_sc_dequeue(pi.ctl_tx, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  if (ports_closed_) return;
  for (auto& pi : ports_) {
    if (ports_started_) rte_eth_dev_stop(pi.port_id);
    rte_eth_dev_close(pi.port_id);  // net_pcap writes and closes its tx_pcap here
  }
  ports_started_ = false;
  ports_closed_ = true;
}

void Dataplane::shutdown() noexcept {
  stop_workers();
  close_ports();
}

Dataplane::~Dataplane() {
  shutdown();
  for (auto* w : workers_) {
    for (unsigned p = 0; p < w->nb_ports; ++p) rte_free(w->ports[p].txbuf);
    rte_ring_free(w->to_control);
    rte_ring_free(w->events);
    w->~WorkerContext();
    rte_free(w);
  }
  for (auto& pi : ports_) rte_ring_free(pi.ctl_tx);
  table_.reset();
  rte_free(qsv_);
  // The pool is freed last: the caller may read mbufs_in_use() before this.
  rte_mempool_free(pool_);
}

}  // namespace srtfwd::dataplane

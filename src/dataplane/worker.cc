#include "srtfwd/dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <cstring>

#include "srtfwd/net/parse.h"
#include "srtfwd/net/rewrite.h"
#include "srtfwd/srt/packet.h"

namespace srtfwd::dataplane {

namespace {

// Maps a parse verdict that is neither a fast-path packet nor a slow-path
// one to its drop reason.
DropReason drop_reason(net::Verdict v) noexcept {
  switch (v) {
    case net::Verdict::TruncatedEth: return DropReason::kTruncatedEth;
    case net::Verdict::TruncatedIp: return DropReason::kTruncatedIp;
    case net::Verdict::BadIpVersion: return DropReason::kBadIpVersion;
    case net::Verdict::BadIhl: return DropReason::kBadIhl;
    case net::Verdict::BadIpLength: return DropReason::kBadIpLength;
    case net::Verdict::TruncatedUdp: return DropReason::kTruncatedUdp;
    case net::Verdict::BadUdpLength: return DropReason::kBadUdpLength;
    case net::Verdict::NotUdp: return DropReason::kNotUdp;
    case net::Verdict::StackedVlan: return DropReason::kStackedVlan;
    case net::Verdict::TruncatedArp: return DropReason::kTruncatedArp;
    case net::Verdict::TruncatedIcmp: return DropReason::kTruncatedIcmp;
    case net::Verdict::V4MappedIpv6: return DropReason::kV4MappedIpv6;
    default: return DropReason::kUnknownEthertype;
  }
}

bool addressed_to_us(const WorkerContext::Port& p, const net::IpAddr& dst) noexcept {
  return (p.has_v4 && dst == p.v4) || (p.has_v6 && dst == p.v6);
}

// SRT control packets that a live session must report: the first 16 bits
// are 1|type. A handshake on a live session (a caller retransmitting its
// CONCLUSION) goes to control instead of the backend; a SHUTDOWN is
// forwarded and reported.
inline uint16_t srt_control_word(const uint8_t* payload, uint16_t len) noexcept {
  if (len < srt::kHeaderSize) return 0;
  return static_cast<uint16_t>((payload[0] << 8) | payload[1]);
}
constexpr uint16_t kSrtHandshakeWord = 0x8000;
constexpr uint16_t kSrtShutdownWord = 0x8005;

}  // namespace

void process_burst(WorkerContext& w, const WorkerContext::Port& in, rte_mbuf** pkts,
                   uint16_t n) noexcept {
  WorkerCounters& c = w.counters;
  // Uninitialised on purpose: parse_frame() overwrites a FrameInfo, and a key
  // is written in full before use. Value-initialising both arrays cost a
  // 3.8 KB memset per burst. (Both are implicit-lifetime aggregates.)
  alignas(net::FrameInfo) unsigned char fi_buf[sizeof(net::FrameInfo) * kBurst];
  alignas(SessionKey) unsigned char key_buf[sizeof(SessionKey) * kBurst];
  auto* fi = reinterpret_cast<net::FrameInfo*>(fi_buf);
  auto* keys = reinterpret_cast<SessionKey*>(key_buf);
  uint32_t hashes[kBurst];
  FlowTable& flows = w.table->flows();
  uint16_t lookup_idx[kBurst];  // fast-path packets, in order
  uint8_t slot_of[kBurst];      // ... and the key slot each one looks up
  // Per packet: IPv4 from the fast classifier (its IP header offset and UDP
  // length kept here, no FrameInfo filled) or IPv6 from parse_frame (fi[i]).
  bool v4fast[kBurst];
  uint16_t l3_of[kBurst], udp_len_of[kBurst];
  rte_mbuf* slow[kBurst];
  unsigned n_lookup = 0, n_keys = 0, n_slow = 0;
  uint64_t rx_bytes = 0;

  if (n > kBurst) n = kBurst;  // callers pass at most one burst
  for (uint16_t i = 0; i < n && i < 4; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));

  // Our IPv4 address on this port as its wire bytes load, for the fast path.
  uint32_t in_v4_raw = 0;
  std::memcpy(&in_v4_raw, in.v4.b.data() + 12, 4);
  const bool in_has_v4 = in.has_v4;

  // A run of packets of one flow (what a NIC queue delivers from a busy
  // stream) shares the previous packet's lookup: one hash and one table
  // probe per run, not per packet. Otherwise the key just written to
  // keys[n_keys] is kept with its hash.
  auto add_lookup = [&](uint16_t i, uint32_t hash, bool same_as_prev) {
    if (!same_as_prev) {
      hashes[n_keys] = hash;
      ++n_keys;
    }
    slot_of[n_lookup] = static_cast<uint8_t>(n_keys - 1);
    lookup_idx[n_lookup++] = i;
  };

  // The last key added, when it came from the IPv4 fast path: its words
  // kept in registers for the run check.
  bool last_v4 = false;
  uint64_t last_addrs = 0;
  uint32_t last_ports = 0;

  for (uint16_t i = 0; i < n; ++i) {
    if (i + 4 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void*));
    rte_mbuf* m = pkts[i];
    rx_bytes += m->pkt_len;
    // Multi-segment frames are rare on a 1500-byte MTU; the parsers read the
    // first segment only, so a header split across segments reads as truncated.
    const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);

    // The common packet, IPv4 UDP, in a few compares (parse_ipv4_udp_fast
    // accepts exactly what parse_frame calls Verdict::Udp for IPv4); its key
    // is built in registers as the words hash_key() would read.
    net::FastV4 fv;
    if (likely(net::parse_ipv4_udp_fast(data, m->data_len, fv))) {
      if (unlikely(!in_has_v4 || fv.dst_raw != in_v4_raw)) {
        c.drop(DropReason::kNotForUs);
        rte_pktmbuf_free(m);
        continue;
      }
      v4fast[i] = true;
      l3_of[i] = fv.l3_off;
      udp_len_of[i] = fv.udp_len;
      const uint64_t addrs = uint64_t{fv.src_raw} | uint64_t{fv.dst_raw} << 32;
      const bool same = last_v4 && addrs == last_addrs && fv.ports_raw == last_ports;
      const uint64_t w1 = v4_key_word(fv.src_raw), w3 = v4_key_word(fv.dst_raw);
      const uint64_t w4 = fv.ports_raw;
      if (!same) {
        const uint64_t kw[6] = {0, w1, 0, w3, w4, 0};
        std::memcpy(&keys[n_keys], kw, sizeof kw);
        last_v4 = true;
        last_addrs = addrs;
        last_ports = fv.ports_raw;
      }
      add_lookup(i, same ? 0 : hash_words(0, w1, 0, w3, w4, 0), same);
      continue;
    }

    v4fast[i] = false;
    const net::Verdict v = net::parse_frame(data, m->data_len, fi[i]);
    switch (v) {
      case net::Verdict::Udp: {
        if (!addressed_to_us(in, fi[i].dst)) {
          c.drop(DropReason::kNotForUs);
          rte_pktmbuf_free(m);
          break;
        }
        const uint16_t sport_be = rte_cpu_to_be_16(fi[i].sport);
        const uint16_t dport_be = rte_cpu_to_be_16(fi[i].dport);
        bool same = false;
        if (n_keys != 0) {
          const SessionKey& prev = keys[n_keys - 1];
          same = prev.sport_be == sport_be && prev.dport_be == dport_be && prev.src == fi[i].src &&
                 prev.dst == fi[i].dst;
        }
        SessionKey& k = keys[n_keys];
        if (!same) {
          k.src = fi[i].src;
          k.dst = fi[i].dst;
          k.sport_be = sport_be;
          k.dport_be = dport_be;
          k.zero = 0;
          k.zero2 = 0;
          last_v4 = false;
        }
        add_lookup(i, same ? 0 : hash_key(k), same);
        break;
      }
      case net::Verdict::Arp:
      case net::Verdict::Icmp4:
      case net::Verdict::Icmp6:
      case net::Verdict::Fragment:
      case net::Verdict::IpOptions:
      case net::Verdict::Ipv6ExtHeaders:
        slow[n_slow++] = m;
        break;
      default:
        c.drop(drop_reason(v));
        rte_pktmbuf_free(m);
        break;
    }
  }
  c.rx_packets.add(n);
  c.rx_bytes.add(rx_bytes);

  // Every key's home slot, in one tight loop: with many sessions each is a
  // cache and TLB miss, and a prefetch that misses the TLB holds up
  // retirement until its page walk ends. Interleaved with parsing, the
  // reorder buffer held the prefetches of a few packets at a time; together,
  // the whole burst's walks and misses overlap (100,000 sessions: 5.6-6.6 ->
  // 6.5-7.7 Mpps here).
  for (unsigned k = 0; k < n_keys; ++k) flows.prefetch(hashes[k]);
  // One probe per distinct flow; the home slot is already on its way.
  FlowSlot* hit[kBurst];
  // Packets and bytes per key, added to the slot once per burst: a run of
  // one flow would otherwise chain a load-add-store per packet on one line.
  // The burst's forwarded totals are their sums.
  uint32_t key_pkts[kBurst], key_bytes[kBurst];
  for (unsigned k = 0; k < n_keys; ++k) {
    hit[k] = flows.find(keys[k], hashes[k]);
    key_pkts[k] = key_bytes[k] = 0;
  }
  uint64_t sent = 0;
  // What the current run's key leads to, in locals: a run of one flow does
  // the slot and port reads and prepares its IPv4 rewrite once.
  unsigned cur_slot = kBurst;
  FlowSlot* f = nullptr;
  const WorkerContext::Port* out = nullptr;
  net::V4Patch patch;
  for (unsigned j = 0; j < n_lookup; ++j) {
    const uint16_t i = lookup_idx[j];
    rte_mbuf* m = pkts[i];
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    const bool fast = v4fast[i];
    const uint16_t word =
        fast ? srt_control_word(frame + l3_of[i] + net::kIpv4MinHeaderLen + net::kUdpHeaderLen,
                                static_cast<uint16_t>(udp_len_of[i] - net::kUdpHeaderLen))
             : srt_control_word(frame + fi[i].payload_off, fi[i].payload_len);
    const unsigned slot = slot_of[j];
    if (slot != cur_slot) {
      cur_slot = slot;
      f = hit[slot];
      if (f != nullptr) {
        out = &w.ports[f->d.out_port];
        if (fast) patch = net::V4Patch::make(f->d.rewrite, out->mac);
      }
    }
    if (f == nullptr) {
      // No session: an SRT handshake (a caller on a listen port, or a
      // backend answering one of our legs) is the control lcore's to judge.
      if (word == kSrtHandshakeWord) {
        slow[n_slow++] = m;
      } else {
        c.drop(DropReason::kNoSession);
        rte_pktmbuf_free(m);
      }
      continue;
    }
    if (unlikely(word == kSrtHandshakeWord)) {
      slow[n_slow++] = m;
      continue;
    }
    if (unlikely(word == kSrtShutdownWord)) {
      const uint64_t ev =
          pack_event(f->session, static_cast<Direction>(f->dir), SessionEvent::kShutdown);
      if (rte_ring_sp_enqueue(w.events, reinterpret_cast<void*>(ev)) == 0)
        c.session_events.add();
      else
        c.event_ring_full.add();
    }
    // The worker that owns this direction's RX queue is its counters' only
    // writer; the rest of the slot is read-only while it is live.
    SessionDirection& sd = f->d;
    bool ok;
    if (out->cksum_offload) {
      if (fast) {  // the offload path takes a FrameInfo
        net::FastV4 fv;
        fv.l3_off = l3_of[i];
        fv.udp_len = udp_len_of[i];
        fv.ttl = frame[l3_of[i] + net::kIpv4TtlOff];
        net::fill_frame_info(fv, fi[i]);
      }
      // The NIC computes both checksums: the IPv4 header checksum field is
      // zeroed and the UDP one seeded with the pseudo-header sum, as DPDK's
      // TX checksum offload expects.
      ok = net::apply_rewrite_offload(frame, fi[i], sd.rewrite, out->mac);
      m->l2_len = fi[i].l3_off;
      m->l3_len = static_cast<uint16_t>(fi[i].l4_off - fi[i].l3_off);
      m->ol_flags |= fi[i].ip_version == 4
                         ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM)
                         : (RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM);
    } else {
      // RFC 1624 incremental
      ok = fast ? patch.apply(frame, l3_of[i])
                : net::apply_rewrite(frame, fi[i], sd.rewrite, out->mac);
    }
    if (unlikely(!ok)) {
      c.drop(DropReason::kTtlExpired);
      rte_pktmbuf_free(m);
      continue;
    }
    ++key_pkts[slot];
    key_bytes[slot] += m->pkt_len;
    sent += rte_eth_tx_buffer(out->port_id, out->queue, out->txbuf, m);
  }
  // Single writer per direction (RSS keeps a 4-tuple on one queue).
  uint64_t fwd = 0, fwd_bytes = 0;
  for (unsigned k = 0; k < n_keys; ++k) {
    if (key_pkts[k] == 0) continue;
    hit[k]->d.packets.add(key_pkts[k]);
    hit[k]->d.bytes.add(key_bytes[k]);
    fwd += key_pkts[k];
    fwd_bytes += key_bytes[k];
  }
  c.tx_packets.add(sent);
  c.forwarded.add(fwd);
  c.forwarded_bytes.add(fwd_bytes);

  if (n_slow != 0) {
    const unsigned q = rte_ring_sp_enqueue_burst(w.to_control, reinterpret_cast<void**>(slow),
                                                 n_slow, nullptr);
    c.to_control.add(q);
    if (unlikely(q < n_slow)) {
      c.drop(DropReason::kControlRingFull, n_slow - q);
      rte_pktmbuf_free_bulk(slow + q, n_slow - q);
    }
  }
}

unsigned poll_once(WorkerContext& w) noexcept {
  rte_mbuf* pkts[kBurst];
  unsigned total = 0;
  for (unsigned p = 0; p < w.nb_ports; ++p) {
    const WorkerContext::Port& port = w.ports[p];
    if (!port.has_rxq) continue;
    const uint16_t n = rte_eth_rx_burst(port.port_id, port.queue, pkts, kBurst);
    if (n != 0) {
      process_burst(w, port, pkts, n);
      total += n;
    }
  }
  for (unsigned p = 0; p < w.nb_ports; ++p) {
    WorkerContext::Port& port = w.ports[p];
    if (port.ctl_tx != nullptr) {
      const unsigned n = rte_ring_sc_dequeue_burst(port.ctl_tx, reinterpret_cast<void**>(pkts),
                                                   kBurst, nullptr);
      for (unsigned i = 0; i < n; ++i)
        w.counters.tx_packets.add(rte_eth_tx_buffer(port.port_id, port.queue, port.txbuf, pkts[i]));
      w.counters.control_tx.add(n);
      total += n;
    }
    w.counters.tx_packets.add(rte_eth_tx_buffer_flush(port.port_id, port.queue, port.txbuf));
  }
  if (w.qsv != nullptr) rte_rcu_qsbr_quiescent(w.qsv, w.index);
  return total;
}

int worker_main(void* arg) {
  auto& w = *static_cast<WorkerContext*>(arg);
  bool any = false;
  for (unsigned p = 0; p < w.nb_ports; ++p) any = any || w.ports[p].has_rxq;
  if (!any) {
    // More workers than RX queues: this one idles (logged by the set-up).
    while (!w.stop->load(std::memory_order_relaxed)) rte_delay_us_sleep(10000);
    return 0;
  }
  if (w.qsv != nullptr) rte_rcu_qsbr_thread_online(w.qsv, w.index);
  uint32_t empty = 0;
  while (!w.stop->load(std::memory_order_relaxed)) {
    if (poll_once(w) != 0) {
      empty = 0;
    } else if (w.idle_sleep_us != 0 && ++empty >= w.idle_polls) {
      // Nothing for a while: go offline for RCU (a sleeping worker must not
      // hold up session removal) and yield the core, as l3fwd-power does.
      if (w.qsv != nullptr) rte_rcu_qsbr_thread_offline(w.qsv, w.index);
      rte_delay_us_sleep(w.idle_sleep_us);
      if (w.qsv != nullptr) rte_rcu_qsbr_thread_online(w.qsv, w.index);
    }
  }
  // Final flush happens in poll_once; report offline so control can reclaim.
  poll_once(w);
  if (w.qsv != nullptr) rte_rcu_qsbr_thread_offline(w.qsv, w.index);
  return 0;
}

}  // namespace srtfwd::dataplane

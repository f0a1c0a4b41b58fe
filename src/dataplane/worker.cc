#include "srtfwd/dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <cassert>
#include <cstring>

#include "srtfwd/dataplane/link_stats.h"
#include "srtfwd/dataplane/vlan_egress.h"
#include "srtfwd/net/encap.h"
#include "srtfwd/net/parse.h"
#include "srtfwd/net/rewrite.h"
#include "srtfwd/net/vlan.h"
#include "srtfwd/net/xlat.h"
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

// The FrameInfo of a packet from the fast classifier, its IPv4 header at
// l3 (14, or 18 behind a tag), for the generic path: what the rewrite and
// the egress tag read.
void fast_frame_info(const uint8_t* frame, unsigned l3, net::FrameInfo& info) noexcept {
  net::FastV4 fv;
  fv.l3_off = static_cast<uint16_t>(l3);
  fv.udp_len = net::load_be16(frame + l3 + net::kIpv4MinHeaderLen + net::kUdpLenOff);
  fv.ttl = frame[l3 + net::kIpv4TtlOff];
  net::fill_frame_info(fv, info);
  info.vlan = l3 != net::kEthHeaderLen;
  info.vlan_tci = info.vlan ? net::load_be16(frame + net::kVlanTciOff) : 0;
}

// One of the port's VIPs (PortOptions::vips): asked only of a packet not to
// the port's own address, so out of line.
[[gnu::noinline]] bool is_vip(const WorkerContext& w, const WorkerContext::Port& p,
                              const net::IpAddr& dst) noexcept {
  const WorkerContext::Vips& v = w.vips[p.port_id];
  for (unsigned i = 0; i < v.n; ++i)
    if (v.addr[i] == dst) return true;
  return false;
}

bool addressed_to_us(const WorkerContext& w, const WorkerContext::Port& p,
                     const net::IpAddr& dst) noexcept {
  return (p.has_v4 && dst == p.v4) || (p.has_v6 && dst == p.v6) || is_vip(w, p, dst);
}

// SRT control packets that a live session must report: the first 16 bits
// are 1|type. A handshake on a live session (a caller retransmitting its
// CONCLUSION) goes to control instead of the backend; a SHUTDOWN is
// forwarded and reported. The first pass marks the packets whose SRT header
// has the control bit set (ACKs, NAKs, keep-alives, handshakes, shutdowns:
// few next to data packets); only those have their type read.
constexpr uint16_t kSrtHandshakeWord = 0x8000;
constexpr uint16_t kSrtShutdownWord = 0x8005;
inline bool srt_control_bit(const uint8_t* payload, uint32_t len) noexcept {
  return len >= srt::kHeaderSize && (payload[0] & 0x80) != 0;
}
constexpr uint32_t kV4PayloadOff = net::kIpv4MinHeaderLen + net::kUdpHeaderLen;
// The least UDP length (header included) of a datagram with an SRT header:
// srt_control_bit() on the UDP length field, as the fast classifier has it.
constexpr uint32_t kUdpSrtMin = net::kUdpHeaderLen + srt::kHeaderSize;

// What the stages of one burst share, in the order they fill it: the
// packets to look up, in runs of one key (what a NIC queue delivers from a
// busy stream; run k is one hash and one probe for
// lk[runs[k].begin .. runs[k + 1].begin)), the slow path's packets, and the
// forwarding tallies added to the worker's counters once per burst.
// Uninitialised on purpose: each entry is written before it is read;
// value-initialising the arrays cost a 3.8 KB memset per burst. (All are
// implicit-lifetime aggregates.)
struct Burst {
  // One record per run, so that the passes over them keep one base address,
  // not one per array (GCC spilled those).
  struct Run {
    uint64_t addrs;  // a fast-classifier run's key: addresses and ports as loaded
    uint32_t ports;
    uint32_t hash;
    FlowSlot* hit;  // the probe's result
    uint8_t begin;  // its first lookup
    // The IPv4 header offset of a run from the fast classifier (14, or 18
    // behind a tag), 0 for a run of parse_frame's packets (key in keys[k],
    // lookup j's FrameInfo in fi[j]).
    uint8_t l3;
  };
  static_assert(kBurst <= 32 && kBurst <= 255, "ctl_mask and Run::begin hold a burst");

  WorkerContext& w;
  WorkerCounters& c;
  FlowTable& flows;
  // The burst holds the inner packets of hop packets this worker took out
  // (the second chance): none of them may hop again.
  const bool decapsulated;
  alignas(net::FrameInfo) unsigned char fi_buf[sizeof(net::FrameInfo) * kBurst];
  alignas(SessionKey) unsigned char key_buf[sizeof(SessionKey) * kBurst];
  Run runs[kBurst + 1];  // the last one's begin ends the burst
  rte_mbuf* lk[kBurst];
  rte_mbuf* slow[kBurst];
  rte_mbuf* decap[kBurst];  // hop packets taken out, handled after the burst
  unsigned n_decap = 0;
  uint32_t ctl_mask = 0;            // bit j: lookup j's SRT header has the control bit
  unsigned n_keys = 0, n_slow = 0;  // runs (set by Classifier::finish), slow-path packets
  uint64_t sent = 0, fwd = 0, fwd_bytes = 0;

  Burst(WorkerContext& wc, bool decap) noexcept
      : w(wc), c(wc.counters), flows(wc.table->flows()), decapsulated(decap) {}
  net::FrameInfo* fi() noexcept { return reinterpret_cast<net::FrameInfo*>(fi_buf); }
  SessionKey* keys() noexcept { return reinterpret_cast<SessionKey*>(key_buf); }

  void drop(rte_mbuf* m, DropReason r) noexcept {
    c.drop(r);
    rte_pktmbuf_free(m);
  }
  // The SRT type of lookup j, marked in ctl_mask.
  uint16_t srt_word(const uint8_t* frame, unsigned j, unsigned l3) noexcept {
    return net::load_be16(frame + (l3 != 0 ? l3 + kV4PayloadOff : fi()[j].payload_off));
  }
  void report_shutdown(const FlowSlot& f) noexcept {
    const uint64_t ev =
        pack_event(f.session(), static_cast<Direction>(f.dir), SessionEvent::kShutdown);
    if (rte_ring_sp_enqueue(w.events, reinterpret_cast<void*>(ev)) == 0)
      c.session_events.add();
    else
      c.event_ring_full.add();
  }
  // A relayed control packet of a live session (off the data packets'
  // path): an ACK's or NAK's report goes to the record of the data
  // direction it describes, the other one.
  void observe_link(const FlowSlot& f, const uint8_t* frame, unsigned j, unsigned l3,
                    uint16_t word) noexcept {
    LinkStats& st = w.table->link(f.session(), f.dir ^ 1u);
    if (l3 != 0) {
      const uint32_t udp_len =
          net::load_be16(frame + l3 + net::kIpv4MinHeaderLen + net::kUdpLenOff);
      link_observe_control(st, word, frame + l3 + kV4PayloadOff, udp_len - net::kUdpHeaderLen);
    } else {
      link_observe_control(st, word, frame + fi()[j].payload_off, fi()[j].payload_len);
    }
  }
  // A live session's lookup j with the SRT control bit: a handshake (a
  // caller retransmitting its CONCLUSION) goes to control, true; a SHUTDOWN
  // is reported, an ACK or NAK recorded, and each forwarded.
  [[gnu::always_inline]] bool to_control_if_handshake(rte_mbuf* m, const uint8_t* frame, unsigned j,
                                                      unsigned l3, const FlowSlot& f) noexcept {
    if ((ctl_mask >> j & 1) == 0) return false;
    const uint16_t word = srt_word(frame, j, l3);
    if (word == kSrtHandshakeWord) {
      slow[n_slow++] = m;
      return true;
    }
    if (word == kSrtShutdownWord) report_shutdown(f);
    observe_link(f, frame, j, l3, word);
    return false;
  }
  // As to_control_if_handshake, and a data packet's R flag counted: the
  // paths other than the IPv4 run's, which counts it per run.
  [[gnu::always_inline]] bool relay_checks(rte_mbuf* m, const uint8_t* frame, unsigned j,
                                           unsigned l3, const FlowSlot& f) noexcept {
    if ((ctl_mask >> j & 1) == 0) {
      const unsigned off = l3 != 0 ? l3 + kV4PayloadOff : fi()[j].payload_off;
      if (unlikely((frame[off + kSrtMsgWordOff] & kSrtRexmitBit) != 0))
        w.table->link(f.session(), f.dir).retransmitted.add();
      return false;
    }
    return to_control_if_handshake(m, frame, j, l3, f);
  }
  // Single writer per direction (RSS keeps a 4-tuple on one queue); added
  // once per run, not chained per packet on one line.
  [[gnu::always_inline]] void count_run(DirCounters& ctr, uint32_t run_pkts,
                                        uint32_t run_bytes) noexcept {
    if (run_pkts != 0) {
      ctr.packets.add(run_pkts);
      ctr.bytes.add(run_bytes);
      fwd += run_pkts;
      fwd_bytes += run_bytes;
    }
  }
  // One packet more for a TX buffer of the generic and translated paths.
  [[gnu::always_inline]] void tx(const WorkerContext::Port& out, rte_mbuf* m) noexcept {
    sent += rte_eth_tx_buffer(out.port_id, out.queue, out.txbuf, m);
  }

  void translate_run(FlowSlot& f, unsigned begin, unsigned end, unsigned l3) noexcept;
  void hop_run(FlowSlot& f, unsigned begin, unsigned end, unsigned l3) noexcept;
  void decap_run(const Run& r, unsigned end) noexcept;
  void miss_to_control(rte_mbuf* m, unsigned j, unsigned l3) noexcept;
};

// Stage 1, classify: the per-burst view of the receiving port, and the
// current run's key; never leaves process_burst, so that all of it stays in
// registers.
class Classifier {
 public:
  Classifier(Burst& b, const WorkerContext::Port& in) noexcept
      : b_(b), in_(in), seed_(b.flows.seed()) {
    // Our IPv4 address on this port as its wire bytes load, for the fast
    // path; with none, a value no 32-bit destination equals.
    uint32_t in_v4_raw = 0;
    std::memcpy(&in_v4_raw, in.v4.b.data() + 12, 4);
    in_v4_ = in.has_v4 ? in_v4_raw : uint64_t{1} << 32;
    // The port's VLAN (net/vlan.h): a tagged fast packet's VID must be it
    // (0 on an untagged port: priority-tagged), and on a VLAN port no
    // untagged packet is ours, so that layout compares its destination with
    // a value none equals. The VID as the tag's bytes load, masked.
    in_v4_untagged_ = in.vlan == net::kNoVlan ? in_v4_ : uint64_t{1} << 32;
    in_vid_raw_ = net::to_be16(in.vlan);
    // No fast packet's destination is ~in_v4_raw, so that value starts no run.
    no_run_ = uint64_t{~in_v4_raw} << 32;
    last_addrs_ = last_addrs_tagged_ = no_run_;
  }

  // One packet of the burst: classified, and its key and run recorded.
  [[gnu::always_inline]] void classify(rte_mbuf* m) noexcept {
    rx_bytes_ += m->pkt_len;
    // Multi-segment frames are rare on a 1500-byte MTU; the parsers read the
    // first segment only, so a header split across segments reads as truncated.
    const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
    net::FastV4 fv;
    constexpr uint32_t kUntaggedL3 = net::kEthHeaderLen;
    constexpr uint32_t kTaggedL3 = kUntaggedL3 + net::kVlanTagLen;
    if (likely(net::parse_ipv4_udp_at<kUntaggedL3>(data, m->data_len, fv))) {
      fast<kUntaggedL3>(m, data, fv);
      return;
    }
    if (net::parse_ipv4_udp_at<kTaggedL3>(data, m->data_len, fv)) {
      fast<kTaggedL3>(m, data, fv);
      return;
    }
    generic(m, data);
  }

  // Ends the burst's runs (the last one's begin) and hands the counts over.
  [[gnu::always_inline]] void finish() noexcept {
    b_.runs[n_keys_].begin = static_cast<uint8_t>(n_lookup_);
    b_.n_keys = n_keys_;
  }
  uint64_t rx_bytes() const noexcept { return rx_bytes_; }

 private:
  // A packet the fast classifier accepted, its IPv4 header at L3 (14, or 18
  // behind a tag): a constant, so that the offsets below are displacements
  // and the run's key is compared with its layout's pair. The common packet
  // is IPv4 UDP (parse_ipv4_udp_fast accepts exactly what parse_frame calls
  // Verdict::Udp for IPv4); its key is the two words loaded from the
  // headers, hashed in registers.
  template <uint32_t L3>
  [[gnu::always_inline]] void fast(rte_mbuf* m, const uint8_t* data,
                                   const net::FastV4& fv) noexcept {
    constexpr bool kTagged = L3 != net::kEthHeaderLen;
    constexpr auto kVidMaskRaw =
        static_cast<uint16_t>(net::raw32_of_be(uint32_t{net::kVlanIdMask} << 16));
    auto vid_ok = [&] {
      return !kTagged || (net::load_raw16(data + net::kVlanTciOff) & kVidMaskRaw) == in_vid_raw_;
    };
    if (unlikely(fv.dst_raw != (kTagged ? in_v4_ : in_v4_untagged_) || !vid_ok())) {
      // Another VLAN's packet is not ours, whatever its destination; one of
      // ours to a VIP of the port goes on as if to the port's address.
      const bool vlan_ok = vid_ok() && (kTagged || in_.vlan == net::kNoVlan);
      if (!vlan_ok || !to_vip(fv)) {
        b_.drop(m, vlan_ok ? DropReason::kNotForUs : DropReason::kVlanMismatch);
        return;
      }
    }
    if (unlikely(fv.udp_len >= kUdpSrtMin && (data[L3 + kV4PayloadOff] & 0x80) != 0))
      b_.ctl_mask |= 1u << n_lookup_;
    const uint64_t addrs = uint64_t{fv.src_raw} | uint64_t{fv.dst_raw} << 32;
    uint64_t& run_addrs = kTagged ? last_addrs_tagged_ : last_addrs_;
    uint32_t& run_ports = kTagged ? last_ports_tagged_ : last_ports_;
    if (addrs != run_addrs || fv.ports_raw != run_ports) {
      // An IPv4 slot holds the key as these two words (FlowTable::find_v4).
      Burst::Run& r = b_.runs[n_keys_++];
      r.addrs = addrs;
      r.ports = fv.ports_raw;
      r.hash = hash_v4(seed_, addrs, fv.ports_raw);
      r.l3 = static_cast<uint8_t>(L3);
      r.begin = static_cast<uint8_t>(n_lookup_);
      run_addrs = addrs;
      run_ports = fv.ports_raw;
      (kTagged ? last_addrs_ : last_addrs_tagged_) = no_run_;
    }
    b_.lk[n_lookup_++] = m;
  }

  // A fast packet to one of the port's VIPs, not to its address. Its key
  // must not be no_run_ (a source 0.0.0.0 to a VIP equal to ~ the port's
  // address), which would join it to no run: such a packet is not ours.
  [[gnu::noinline]] bool to_vip(const net::FastV4& fv) const noexcept {
    const uint64_t addrs = uint64_t{fv.src_raw} | uint64_t{fv.dst_raw} << 32;
    return addrs != no_run_ && is_vip(b_.w, in_, net::IpAddr::from_v4(fv.dst_raw));
  }

  // What the fast classifier did not accept: parse_frame() into the next
  // lookup's FrameInfo, kept only if it becomes one.
  [[gnu::always_inline]] void generic(rte_mbuf* m, const uint8_t* data) noexcept {
    net::FrameInfo& info = b_.fi()[n_lookup_];
    const net::Verdict v = net::parse_frame(data, m->data_len, info);
    if (v != net::Verdict::TruncatedEth && v != net::Verdict::StackedVlan &&
        !net::vlan_accepts(info, in_.vlan)) {
      b_.drop(m, DropReason::kVlanMismatch);
      return;
    }
    switch (v) {
      case net::Verdict::Udp: {
        if (!addressed_to_us(b_.w, in_, info.dst)) {
          b_.drop(m, DropReason::kNotForUs);
          break;
        }
        if (srt_control_bit(data + info.payload_off, info.payload_len))
          b_.ctl_mask |= 1u << n_lookup_;
        const uint16_t sport_be = rte_cpu_to_be_16(info.sport);
        const uint16_t dport_be = rte_cpu_to_be_16(info.dport);
        SessionKey* const keys = b_.keys();
        bool same = false;
        if (n_keys_ != 0 && b_.runs[n_keys_ - 1].l3 == 0) {
          const SessionKey& prev = keys[n_keys_ - 1];
          same = prev.sport_be == sport_be && prev.dport_be == dport_be && prev.src == info.src &&
                 prev.dst == info.dst;
        }
        if (!same) {
          SessionKey& k = keys[n_keys_];
          k.src = info.src;
          k.dst = info.dst;
          k.sport_be = sport_be;
          k.dport_be = dport_be;
          k.zero = 0;
          k.zero2 = 0;
          Burst::Run& r = b_.runs[n_keys_++];
          r.hash = hash_key(seed_, k);
          r.l3 = 0;
          r.begin = static_cast<uint8_t>(n_lookup_);
          last_addrs_ = last_addrs_tagged_ = no_run_;
        }
        b_.lk[n_lookup_++] = m;
        break;
      }
      case net::Verdict::Arp:
      case net::Verdict::Icmp4:
      case net::Verdict::Icmp6:
      case net::Verdict::Fragment:
      case net::Verdict::IpOptions:
      case net::Verdict::Ipv6ExtHeaders: b_.slow[b_.n_slow++] = m; break;
      default: b_.drop(m, drop_reason(v)); break;
    }
  }

  Burst& b_;
  const WorkerContext::Port& in_;
  const HashSeed seed_;  // in registers for the burst
  uint64_t in_v4_, in_v4_untagged_;
  uint16_t in_vid_raw_;
  // The current run's key when it came from the fast classifier: addresses
  // and ports, in one pair per header layout (untagged, tagged), so that a
  // packet compares its key words as loaded, with no header offset folded
  // in; a run of the one layout sets the other's addresses to no_run_.
  uint64_t no_run_, last_addrs_, last_addrs_tagged_;
  uint32_t last_ports_ = 0, last_ports_tagged_ = 0;
  uint64_t rx_bytes_ = 0;
  // The burst's lookups and runs so far, in registers: the run records'
  // byte stores may alias anything in memory, Burst's fields included.
  unsigned n_lookup_ = 0, n_keys_ = 0;
};

// Stage 2, probe: every key's home slot, in one tight loop: with many
// sessions each is a cache and TLB miss, and a prefetch that misses the TLB
// holds up retirement until its page walk ends. Interleaved with parsing,
// the reorder buffer held the prefetches of a few packets at a time;
// together, the whole burst's walks and misses overlap. An IPv4 hit reads
// one line (its slot), an IPv6 hit two. Then one probe per run, its home
// slot already on its way.
[[gnu::always_inline]] inline void probe(Burst& b) noexcept {
  const unsigned n_keys = b.n_keys;
  for (unsigned k = 0; k < n_keys; ++k) {
    if (b.runs[k].l3 != 0)
      b.flows.prefetch_v4(b.runs[k].hash);
    else
      b.flows.prefetch(b.runs[k].hash);
  }
  for (unsigned k = 0; k < n_keys; ++k) {
    Burst::Run& r = b.runs[k];
    r.hit =
        r.l3 != 0 ? b.flows.find_v4(r.addrs, r.ports, r.hash) : b.flows.find(b.keys()[k], r.hash);
  }
}

// Stage 3, the common run: IPv4 from the fast classifier, leaving with the
// header layout and tag it came with (untagged to untagged, or within one
// VLAN), RFC 1624 incremental checksums, the slot's own counters. (Every TX
// buffer holds kBurst packets, as Dataplane sets them up.)
[[gnu::always_inline]] inline void forward_v4_run(Burst& b, FlowSlot& f,
                                                  const WorkerContext::Port& out, unsigned begin,
                                                  unsigned end, unsigned l3) noexcept {
  DirCounters& ctr = f.h4.c;
  rte_eth_dev_tx_buffer* const tb = out.txbuf;
  const uint32_t ctl_mask = b.ctl_mask;
  if ((end - begin) + (ctl_mask >> begin & 1) == 1) {
    // A run of one packet without the SRT control bit (one data packet), as
    // when many sessions interleave: none of the run bookkeeping below, and
    // the patch goes from the slot's line to the frame.
    rte_mbuf* const m = b.lk[begin];
    uint8_t* const frame = rte_pktmbuf_mtod(m, uint8_t*);
    if (unlikely((frame[l3 + kV4PayloadOff + kSrtMsgWordOff] & kSrtRexmitBit) != 0))
      b.w.table->link(f.h4.session, f.dir).retransmitted.add();
    if (unlikely(!v4_patch(f.h4, out.mac).apply(frame, l3))) {
      b.drop(m, DropReason::kTtlExpired);
      return;
    }
    const uint32_t len = m->pkt_len;
    uint16_t tb_len = tb->length;
    if (unlikely(tb_len == kBurst)) {
      b.sent += rte_eth_tx_buffer_flush(out.port_id, out.queue, tb);
      tb_len = 0;
    }
    tb->pkts[tb_len] = m;
    tb->length = tb_len + 1;
    ctr.packets.add(1);
    ctr.bytes.add(len);
    ++b.fwd;
    b.fwd_bytes += len;
    return;
  }
  // The rewrite prepared once, in locals, and the TX buffer's fill level
  // kept in a register: the frame's byte stores may alias anything in
  // memory, so every field read through a pointer would be read again for
  // each packet.
  const net::V4Patch patch = v4_patch(f.h4, out.mac);
  // A run is at most one burst: with room for the whole run made here, the
  // loops below need no per-packet check of the buffer's fill.
  uint16_t tb_len = tb->length;
  if (unlikely(tb_len + (end - begin) > kBurst)) {
    b.sent += rte_eth_tx_buffer_flush(out.port_id, out.queue, tb);
    tb_len = 0;
  }
  // Packets of the run not forwarded (to control, TTL expired).
  unsigned skipped = 0;
  uint32_t run_bytes = 0;
  // Data packets of the run with the R flag, times kSrtRexmitBit.
  unsigned rexmit = 0;
  // The buffer's next free entry as a pointer: one store and one add per
  // packet, not a widening of the fill level to index with.
  rte_mbuf** out_next = tb->pkts + tb_len;
  // L3: the header offset when the caller knows it at compile time (0: l3).
  // (clang-format 14 reads a templated lambda's parameters as products.)
  // clang-format off
  auto forward = [&]<uint32_t L3 = 0>(rte_mbuf* m, uint8_t* frame)
      __attribute__((always_inline)) {
    // clang-format on
    rexmit += frame[(L3 != 0 ? L3 : l3) + kV4PayloadOff + kSrtMsgWordOff] & kSrtRexmitBit;
    if (unlikely(!patch.apply(frame, L3 != 0 ? L3 : l3))) {
      b.drop(m, DropReason::kTtlExpired);
      ++skipped;
      return;
    }
    run_bytes += m->pkt_len;
    *out_next++ = m;
  };
  rte_mbuf* const* const lk = b.lk;
  const uint32_t run_bits = static_cast<uint32_t>((uint64_t{1} << end) - (uint64_t{1} << begin));
  if (likely((ctl_mask & run_bits) == 0)) {
    // Data packets only (a busy stream's runs between two ACKs); the
    // untagged loop with the offset a constant.
    if (likely(l3 == net::kEthHeaderLen)) {
      for (unsigned j = begin; j < end; ++j) {
        uint8_t* const frame = rte_pktmbuf_mtod(lk[j], uint8_t*);
        forward.template operator()<net::kEthHeaderLen>(lk[j], frame);
      }
    } else {
      for (unsigned j = begin; j < end; ++j) forward(lk[j], rte_pktmbuf_mtod(lk[j], uint8_t*));
    }
  } else {
    for (unsigned j = begin; j < end; ++j) {
      rte_mbuf* m = lk[j];
      uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
      if (b.to_control_if_handshake(m, frame, j, l3, f)) {
        ++skipped;
        continue;
      }
      // A control packet has no R flag (forward() adds the bit's place).
      if ((ctl_mask >> j & 1) != 0)
        rexmit -= frame[l3 + kV4PayloadOff + kSrtMsgWordOff] & kSrtRexmitBit;
      forward(m, frame);
    }
  }
  tb->length = static_cast<uint16_t>(out_next - tb->pkts);
  b.count_run(ctr, end - begin - skipped, run_bytes);
  if (unlikely(rexmit != 0))
    b.w.table->link(f.h4.session, f.dir).retransmitted.add(rexmit / kSrtRexmitBit);
}

// Stage 4, the generic path: IPv6, a parse_frame() run, or a change of
// header layout or tag between the ports; the rewrite through a FrameInfo,
// the checksums incremental or left to the NIC.
[[gnu::always_inline]] inline void forward_generic_run(Burst& b, FlowSlot& f,
                                                       const WorkerContext::Port& out,
                                                       unsigned begin, unsigned end,
                                                       unsigned l3) noexcept {
  const net::Rewrite rw = f.rewrite();
  uint32_t run_pkts = 0, run_bytes = 0;
  for (unsigned j = begin; j < end; ++j) {
    rte_mbuf* m = b.lk[j];
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    net::FrameInfo& info = b.fi()[j];
    if (b.relay_checks(m, frame, j, l3, f)) continue;
    if (l3 != 0) fast_frame_info(frame, l3, info);  // the rewrite takes a FrameInfo
    // The egress port's tag or none, whatever the packet came with.
    frame = retag_mbuf(m, info, out.vlan);
    if (unlikely(frame == nullptr)) {
      b.drop(m, DropReason::kNoHeadroom);
      continue;
    }
    bool ok;
    if (out.cksum_offload) {
      // The NIC computes both checksums: the IPv4 header checksum field is
      // zeroed and the UDP one seeded with the pseudo-header sum, as DPDK's
      // TX checksum offload expects.
      ok = net::apply_rewrite_offload(frame, info, rw, out.mac);
      m->l2_len = info.l3_off;
      m->l3_len = static_cast<uint16_t>(info.l4_off - info.l3_off);
      m->ol_flags |= info.ip_version == 4
                         ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM)
                         : (RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM);
    } else {
      ok = net::apply_rewrite(frame, info, rw, out.mac);  // RFC 1624 incremental
    }
    if (unlikely(!ok)) {
      b.drop(m, DropReason::kTtlExpired);
      continue;
    }
    ++run_pkts;
    run_bytes += m->pkt_len;
    b.tx(out, m);
  }
  b.count_run(f.counters(), run_pkts, run_bytes);
}

// Stage 4', a run of a translated direction (IPv4 <-> IPv6, net/xlat.h): the
// frame grows or shrinks by 20 bytes, so it is not a rewrite in place. Out
// of line, so that the loops of the other stages keep their registers and
// code.
[[gnu::noinline]] void Burst::translate_run(FlowSlot& f, unsigned begin, unsigned end,
                                            unsigned l3) noexcept {
  const WorkerContext::Port& out = w.ports[f.out_port];
  const net::Rewrite rw = f.rewrite();
  const bool to_v6 = !rw.ipv4();
  uint32_t run_pkts = 0, run_bytes = 0;
  for (unsigned j = begin; j < end; ++j) {
    rte_mbuf* m = lk[j];
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    if (relay_checks(m, frame, j, l3, f)) continue;
    // The egress port's tag or none first (the L2 header only), then the IP
    // header of the other family behind it.
    net::FrameInfo& info = fi()[j];
    if (l3 != 0) fast_frame_info(frame, l3, info);
    frame = retag_mbuf(m, info, out.vlan);
    if (unlikely(frame == nullptr)) {
      drop(m, DropReason::kNoHeadroom);
      continue;
    }
    const uint32_t l3_off = info.l3_off;
    net::XlatResult res = net::XlatResult::kMalformed;
    if (to_v6) {
      // The IPv6 header's extra 20 bytes come from the headroom.
      if (rte_pktmbuf_prepend(m, net::kXlatGrowth) != nullptr)
        res = net::xlat_4to6(frame, l3_off, m->data_len - net::kXlatGrowth, rw, out.mac);
    } else {
      res = net::xlat_6to4(frame, l3_off, m->data_len, rw, out.mac);
      if (res == net::XlatResult::kOk) rte_pktmbuf_adj(m, net::kXlatGrowth);
    }
    if (unlikely(res != net::XlatResult::kOk)) {
      drop(m,
           res == net::XlatResult::kTtlExpired ? DropReason::kTtlExpired : DropReason::kXlatFailed);
      continue;
    }
    ++run_pkts;
    run_bytes += m->pkt_len;
    tx(out, m);
  }
  count_run(f.counters(), run_pkts, run_bytes);
}

// Stage 4'', the second chance: a run of a caller's key whose session lives
// on another host (a kHop entry, control/directory.h), each packet
// encapsulated whole behind new outer headers (net/encap.h) and sent to the
// owner. Out of line, as translate_run. A packet that came out of a hop is
// never sent on another (one hop at most: no loop).
[[gnu::noinline]] void Burst::hop_run(FlowSlot& f, unsigned begin, unsigned end,
                                      unsigned l3) noexcept {
  const WorkerContext::Port& out = w.ports[f.out_port];
  const V6Tail& t = f.tail();
  uint32_t run_pkts = 0, run_bytes = 0;
  for (unsigned j = begin; j < end; ++j) {
    rte_mbuf* m = lk[j];
    if (decapsulated) {
      drop(m, DropReason::kHopLoop);
      continue;
    }
    // The outer headers replace the L2 header (and tag) the packet came with.
    const unsigned inner_off = l3 != 0 ? l3 : fi()[j].l3_off;
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint32_t inner_len = net::load_be16(frame + inner_off + 2);
    if (unlikely(out.vlan != net::kNoVlan || inner_off + inner_len > m->data_len)) {
      drop(m, DropReason::kHopFailed);
      continue;
    }
    // Ethernet padding after a short packet is not part of the inner one.
    rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - inner_off - inner_len));
    constexpr unsigned kOuter = net::kEthHeaderLen + net::kHopOverhead;
    uint8_t* outer = nullptr;
    if (inner_off <= kOuter)
      outer = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kOuter - inner_off));
    if (unlikely(outer == nullptr)) {
      drop(m, DropReason::kHopFailed);
      continue;
    }
    net::write_hop_headers(outer, inner_len, t.dst_mac, out.mac, t.src, t.dst, f.h6.sport_be,
                           f.h6.dport_be);
    m->ol_flags &= ~(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM);
    ++run_pkts;
    run_bytes += m->pkt_len;
    tx(out, m);
  }
  // The entry's counters tell control the hop is in use (its idle expiry).
  if (run_pkts != 0) {
    f.counters().packets.add(run_pkts);
    f.counters().bytes.add(run_bytes);
    c.hopped.add(run_pkts);
  }
}

// A run to our hop port that no session took: packets another host hopped
// to us, the owner. From a peer and holding one IPv4 packet, each loses its
// outer IPv4 and UDP headers (the L2 header moves up to the inner one) and
// waits for process_burst to handle it as received, after this burst.
[[gnu::noinline]] void Burst::decap_run(const Run& r, unsigned end) noexcept {
  const unsigned l3 = r.l3;
  const auto src_raw = static_cast<uint32_t>(r.addrs);
  bool peer = false;
  for (unsigned i = 0; i < w.nb_hop_peers; ++i)
    peer = peer || (src_raw & w.hop_peers[i].mask_raw) == w.hop_peers[i].net_raw;
  for (unsigned j = r.begin; j < end; ++j) {
    rte_mbuf* m = lk[j];
    if (decapsulated) {
      drop(m, DropReason::kHopLoop);
      continue;
    }
    if (!peer) {
      drop(m, DropReason::kHopUnknownPeer);
      continue;
    }
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    const uint32_t udp_len = net::load_be16(frame + l3 + net::kIpv4MinHeaderLen + net::kUdpLenOff);
    if (!net::hop_inner_ok(frame + l3 + kV4PayloadOff, udp_len - net::kUdpHeaderLen)) {
      drop(m, DropReason::kHopMalformed);
      continue;
    }
    std::memmove(frame + net::kHopOverhead, frame, l3);
    rte_pktmbuf_adj(m, net::kHopOverhead);
    decap[n_decap++] = m;
  }
}

// A run whose key no slot holds. An IPv4 key that find_v4() missed may be a
// translated direction's (4->6), in a head and tail. Otherwise no session:
// an SRT handshake (a caller on a listen port, or a backend answering one of
// our legs) is the control lcore's to judge, so are other SRT packets when
// a feature opened the miss gate; the rest is dropped.
[[gnu::always_inline]] inline void miss_run(Burst& b, const Burst::Run& r, unsigned end) noexcept {
  const unsigned begin = r.begin, l3 = r.l3;
  if (l3 != 0) {
    SessionKey key{};
    key.src = net::IpAddr::from_v4(static_cast<uint32_t>(r.addrs));
    key.dst = net::IpAddr::from_v4(static_cast<uint32_t>(r.addrs >> 32));
    std::memcpy(&key.sport_be, &r.ports, 4);  // sport_be, then dport_be
    if (FlowSlot* const x = b.flows.find_long(key, r.hash); x != nullptr) {
      if (x->hop())
        b.hop_run(*x, begin, end, l3);
      else
        b.translate_run(*x, begin, end, l3);
      return;
    }
    if (static_cast<uint16_t>(r.ports >> 16) == b.w.hop_port_be && b.w.hop_port_be != 0) {
      b.decap_run(r, end);
      return;
    }
  }
  for (unsigned j = begin; j < end; ++j) {
    rte_mbuf* m = b.lk[j];
    if ((b.ctl_mask >> j & 1) != 0 &&
        b.srt_word(rte_pktmbuf_mtod(m, uint8_t*), j, l3) == kSrtHandshakeWord)
      b.slow[b.n_slow++] = m;
    else if (b.decapsulated)  // never to the miss gate: one hop at most
      b.drop(m, DropReason::kHopNoSession);
    else if (unlikely(b.w.miss_gate.open()))
      b.miss_to_control(m, j, l3);
    else
      b.drop(m, DropReason::kNoSession);
  }
}

// A packet of no session that is not a handshake, with the miss gate open
// (miss_gate.h): an SRT packet goes to control while the budget lasts, so
// that it may find the session its socket ID names (a rebound caller);
// anything shorter than an SRT header has no session to find.
[[gnu::noinline]] void Burst::miss_to_control(rte_mbuf* m, unsigned j, unsigned l3) noexcept {
  uint32_t payload_len;
  if (l3 != 0) {
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    payload_len = net::load_be16(frame + l3 + net::kIpv4MinHeaderLen + net::kUdpLenOff) -
                  uint32_t{net::kUdpHeaderLen};
  } else {
    payload_len = fi()[j].payload_len;
  }
  if (payload_len < srt::kHeaderSize) {
    drop(m, DropReason::kNoSession);
  } else if (!w.miss_gate.take(rte_rdtsc())) {
    drop(m, DropReason::kMissOverBudget);
  } else {
    slow[n_slow++] = m;
  }
}

// Stage 5, the slow path: ARP, ICMP, fragments, IP options, extension
// headers and SRT handshakes to the control lcore, what its ring has no room
// for dropped and counted.
[[gnu::always_inline]] inline void slow_path(Burst& b) noexcept {
  if (b.n_slow == 0) return;
  const unsigned q = rte_ring_sp_enqueue_burst(b.w.to_control, reinterpret_cast<void**>(b.slow),
                                               b.n_slow, nullptr);
  b.c.to_control.add(q);
  if (unlikely(q < b.n_slow)) {
    b.c.drop(DropReason::kControlRingFull, b.n_slow - q);
    rte_pktmbuf_free_bulk(b.slow + q, b.n_slow - q);
  }
}

}  // namespace

// The stages for one burst. kDecap: the inner packets of hop packets this
// worker took out of a burst it received (see decap_run), which the
// receiving port's counters have seen already.
template <bool kDecap>
[[gnu::always_inline]] static inline void run_burst(WorkerContext& w, const WorkerContext::Port& in,
                                                    rte_mbuf** pkts, uint16_t n) noexcept;

[[gnu::noinline]] static void process_decapsulated(WorkerContext& w, const WorkerContext::Port& in,
                                                   rte_mbuf** pkts, uint16_t n) noexcept {
  w.counters.decapsulated.add(n);
  run_burst<true>(w, in, pkts, n);
}

template <bool kDecap>
static inline void run_burst(WorkerContext& w, const WorkerContext::Port& in, rte_mbuf** pkts,
                             uint16_t n) noexcept {
  Burst b(w, kDecap);

  // Stage 1: every packet classified, its key and run recorded. With the
  // prefetch four packets ahead in a loop of its own, the packets that have
  // one do not test for it.
  {
    Classifier cl(b, in);
    for (uint16_t i = 0; i < n && i < 4; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    const uint16_t n_ahead = n > 4 ? static_cast<uint16_t>(n - 4) : 0;
    uint16_t i = 0;
    for (; i < n_ahead; ++i) {
      rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void*));
      cl.classify(pkts[i]);
    }
    for (; i < n; ++i) cl.classify(pkts[i]);
    cl.finish();
    if (!kDecap) {
      b.c.rx_packets.add(n);
      b.c.rx_bytes.add(cl.rx_bytes());
    }
  }

  // Stage 2: one probe per run.
  probe(b);

  // Stages 3 and 4: each run forwarded on its path.
  const unsigned n_keys = b.n_keys;
  for (unsigned k = 0; k < n_keys; ++k) {
    const unsigned begin = b.runs[k].begin, end = b.runs[k + 1].begin;
    const unsigned l3 = b.runs[k].l3;
    FlowSlot* const f = b.runs[k].hit;
    if (f == nullptr) {
      miss_run(b, b.runs[k], end);
      continue;
    }
    // The worker that owns this direction's RX queue is its counters' only
    // writer; the rest of the slot is read-only while it is live.
    const WorkerContext::Port& out = w.ports[f->out_port];
    if (likely(l3 == out.fast_l3 && (l3 == net::kEthHeaderLen || out.vlan == in.vlan)))
      forward_v4_run(b, *f, out, begin, end, l3);
    else if (unlikely(f->hop()))  // a parse_frame() run of a hop entry's key
      b.hop_run(*f, begin, end, l3);
    else if (unlikely(f->translates()))  // 6->4
      b.translate_run(*f, begin, end, l3);
    else
      forward_generic_run(b, *f, out, begin, end, l3);
  }
  b.c.tx_packets.add(b.sent);
  b.c.forwarded.add(b.fwd);
  b.c.forwarded_bytes.add(b.fwd_bytes);

  // Stage 5.
  slow_path(b);
  if (!kDecap && unlikely(b.n_decap != 0)) process_decapsulated(w, in, b.decap, b.n_decap);
}

void process_burst(WorkerContext& w, const WorkerContext::Port& in, rte_mbuf** pkts,
                   uint16_t n) noexcept {
  if (n > kBurst) n = kBurst;  // callers pass at most one burst
  run_burst<false>(w, in, pkts, n);
}

unsigned poll_once(WorkerContext& w) noexcept {
  rte_mbuf* pkts[kBurst];
  unsigned total = 0;
  for (unsigned r = 0; r < w.nb_rxq; ++r) {
    const WorkerContext::RxQueue rq = w.rxq[r];
    const WorkerContext::Port& port = w.ports[rq.port];
    const uint16_t n = rte_eth_rx_burst(port.port_id, rq.queue, pkts, kBurst);
    if (n != 0) {
      process_burst(w, port, pkts, n);
      total += n;
    }
  }
  for (unsigned p = 0; p < w.nb_ports; ++p) {
    WorkerContext::Port& port = w.ports[p];
    if (port.ctl_tx != nullptr) {
      const unsigned n =
          rte_ring_sc_dequeue_burst(port.ctl_tx, reinterpret_cast<void**>(pkts), kBurst, nullptr);
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
  if (w.nb_rxq == 0) {
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

// Per-session link quality from the SRT packets srtfwd relays anyway: the
// receiver's full ACKs carry its smoothed RTT, RTT variance, free buffer,
// receiving rate and link capacity estimate; its NAKs list the sequence
// numbers it lost; a data packet's R flag marks a retransmission. srtfwd
// terminates no SRT, so this is what an L4 relay can know of a link.
//
// A LinkStats describes one *data* direction of a session: the ACKs and
// NAKs that report on the caller's stream travel from the backend, so the
// worker that owns the backend direction's queue writes those fields, and
// the worker that owns the caller direction's queue writes the R flag
// count. Every Counter has that one writer; the control lcore (and through
// it the admin thread) reads them relaxed. The records live in a side array
// of the session table (SessionTable::link), not in the flow slot, whose
// one cache line is the fast path's.
//
// Data packets pay only the R flag test; ACKs and NAKs (a few hundred per
// second per session, next to thousands of data packets) pay the parse,
// on the path the worker already takes for control packets.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "srtfwd/dataplane/counters.h"
#include "srtfwd/net/headers.h"
#include "srtfwd/srt/packet.h"

namespace srtfwd::dataplane {

// Not padded to a cache line: 80 bytes, 160 a session next to the flow
// table's 512. Its writers write rarely (an ACK every 10 ms, a
// retransmission now and then), so the lines they share cost nothing.
struct LinkStats {
  // From the full ACKs of the receiver of this direction's data (the last
  // one seen; 0 until the first).
  Counter acks;    // full ACKs seen (light ACKs carry no statistics)
  Counter rtt_us;  // the receiver's smoothed RTT
  Counter rtt_var_us;
  Counter avail_buf;          // the receiver's free buffer, packets
  Counter recv_rate_pps;      // what the receiver takes in, packets/s
  Counter link_capacity_pps;  // its estimate of the link's capacity, packets/s
  Counter recv_rate_bps;      // bytes/s (0 from peers that do not send it)
  // From the receiver's NAKs: the sequence numbers it reported lost, each
  // time it reported them (periodic NAKs report a loss again).
  Counter naks;
  Counter lost;
  // Written by the other worker (this direction's own): data packets with
  // the R flag.
  Counter retransmitted;

  void reset() noexcept {
    for (Counter* c : {&acks, &rtt_us, &rtt_var_us, &avail_buf, &recv_rate_pps, &link_capacity_pps,
                       &recv_rate_bps, &naks, &lost, &retransmitted})
      c->reset();
  }
};
static_assert(sizeof(LinkStats) == 80);

// The packet and byte rates of a direction, from its counters' deltas
// between two looks of the control lcore at least kLinkRatePeriodTsc
// apart (control lcore only).
struct LinkRate {
  uint64_t tsc = 0, packets = 0, bytes = 0;  // the last look
  uint64_t pps = 0, bps = 0;                 // bits/s

  // Called with the direction's counters at `now` (TSC at `hz`): updates
  // the rates once a second has passed since the last look.
  void update(uint64_t now, uint64_t hz, uint64_t pkts, uint64_t byts) noexcept {
    if (tsc == 0) {
      tsc = now;
      packets = pkts;
      bytes = byts;
      return;
    }
    const uint64_t dt = now - tsc;
    if (now <= tsc || dt < hz) return;
    const double s = static_cast<double>(dt) / static_cast<double>(hz);
    pps = static_cast<uint64_t>(static_cast<double>(pkts - packets) / s);
    bps = static_cast<uint64_t>(static_cast<double>(byts - bytes) * 8 / s);
    tsc = now;
    packets = pkts;
    bytes = byts;
  }
};

inline constexpr uint16_t kSrtAckWord = 0x8002;
inline constexpr uint16_t kSrtNakWord = 0x8003;

// A NAK's loss list names at most this many sequence numbers per range: a
// range is at most a receiver's buffer (libsrt caps it at 8192 packets by
// default; 1 << 20 is far above any real one), so a forged range spanning
// the 31-bit space counts as this, not 2^31.
inline constexpr uint32_t kMaxNakRange = 1u << 20;

// The sequence numbers of a NAK's loss list (the CIF: 32-bit words, a
// word with the high bit set starts a range whose last number is the next
// word; a lone number otherwise). Ranges wrap around the 31-bit space. A
// range start at the list's end counts as its one number; a range whose
// end lies "before" its start by more than half the space, or beyond
// kMaxNakRange, counts as kMaxNakRange at most.
inline uint64_t nak_lost_count(const uint8_t* cif, uint32_t len) noexcept {
  uint64_t n = 0;
  const uint32_t words = len / 4;
  for (uint32_t i = 0; i < words; ++i) {
    const uint32_t w = net::load_be32(cif + 4 * i);
    if ((w & 0x80000000u) == 0 || i + 1 == words) {
      ++n;
      continue;
    }
    const uint32_t last = net::load_be32(cif + 4 * (i + 1)) & 0x7fffffffu;
    const uint32_t span = (last - (w & 0x7fffffffu)) & 0x7fffffffu;
    n += (span < kMaxNakRange ? span : kMaxNakRange - 1) + 1;
    ++i;
  }
  return n;
}

// The control packet `word` (its first 16 bits) with `len` bytes of SRT
// packet at `srt`, relayed on a live session: an ACK's statistics or a
// NAK's losses into `st`, the record of the data direction they report on.
// Anything else, or too short, records nothing. Never reads past len.
inline void link_observe_control(LinkStats& st, uint16_t word, const uint8_t* srt,
                                 uint32_t len) noexcept {
  if (len < srt::kHeaderSize) return;
  const uint8_t* cif = srt + srt::kHeaderSize;
  const uint32_t cif_len = len - static_cast<uint32_t>(srt::kHeaderSize);
  if (word == kSrtAckWord) {
    // A light ACK is the last acknowledged number alone (4 bytes); the
    // small ACK of older peers stops after the buffer (16), and a full ACK
    // without the byte rate after the capacity (24).
    if (cif_len < 16) return;
    st.acks.add();
    st.rtt_us.set(net::load_be32(cif + 4));
    st.rtt_var_us.set(net::load_be32(cif + 8));
    st.avail_buf.set(net::load_be32(cif + 12));
    if (cif_len >= 24) {
      st.recv_rate_pps.set(net::load_be32(cif + 16));
      st.link_capacity_pps.set(net::load_be32(cif + 20));
    }
    if (cif_len >= 28) st.recv_rate_bps.set(net::load_be32(cif + 24));
  } else if (word == kSrtNakWord) {
    st.naks.add();
    st.lost.add(nak_lost_count(cif, cif_len));
  }
}

// The live sessions' link quality as two histograms (/metrics), over the
// data directions whose receiver has sent a full ACK: RTT, and loss (NAK'd
// sequence numbers over the packets relayed) in percent. Built by the
// control lcore with the session list (sessions_json, once a second at
// most), read by the admin thread at a scrape: a gauge-style histogram of
// the sessions as they are now, not of events. The mutex keeps buckets,
// count and sum of one build together; neither side is on the data path.
struct LinkHistograms {
  // Upper bounds (le) of the buckets; +Inf follows.
  static constexpr std::array<uint64_t, 10> kRttBoundsUs = {1000,  2000,   5000,   10000,  20000,
                                                            50000, 100000, 200000, 500000, 1000000};
  static constexpr std::array<double, 9> kLossBoundsPct = {0.1, 0.5, 1, 2, 5, 10, 20, 50, 100};
  struct Snapshot {
    std::array<uint64_t, kRttBoundsUs.size() + 1> rtt{};  // per bucket, not cumulative
    uint64_t rtt_count = 0;
    double rtt_sum_s = 0;
    std::array<uint64_t, kLossBoundsPct.size() + 1> loss{};
    uint64_t loss_count = 0;
    double loss_sum_pct = 0;

    void add(uint64_t rtt_us, double loss_pct) noexcept {
      size_t i = 0;
      while (i < kRttBoundsUs.size() && rtt_us > kRttBoundsUs[i]) ++i;
      ++rtt[i];
      ++rtt_count;
      rtt_sum_s += static_cast<double>(rtt_us) / 1e6;
      i = 0;
      while (i < kLossBoundsPct.size() && loss_pct > kLossBoundsPct[i]) ++i;
      ++loss[i];
      ++loss_count;
      loss_sum_pct += loss_pct;
    }
  };
  void publish(const Snapshot& s) {
    std::lock_guard lock(mu_);
    snap_ = s;
  }
  Snapshot get() const {
    std::lock_guard lock(mu_);
    return snap_;
  }
  // When the control lcore last built them (its own field).
  uint64_t walked_tsc = 0;

 private:
  mutable std::mutex mu_;
  Snapshot snap_;
};

// The loss a direction's record shows, in percent: sequence numbers its
// receiver reported lost over the packets relayed (0 before any).
inline double link_loss_percent(uint64_t lost, uint64_t packets) noexcept {
  return packets == 0 ? 0.0 : static_cast<double>(lost) * 100.0 / static_cast<double>(packets);
}

// A data packet's R flag (byte 4 of its SRT header, bit 2), for the
// direction's own worker. The caller knows the packet has an SRT header
// (the control bit test read byte 0 of it; data packets shorter than a
// header are not SRT and the flag reads as whatever byte 4 of the frame
// holds past the UDP header, never past the first segment's line).
inline constexpr uint8_t kSrtRexmitBit = 0x04;
inline constexpr uint32_t kSrtMsgWordOff = 4;

}  // namespace srtfwd::dataplane

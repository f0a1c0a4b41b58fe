// The ACK and NAK parse behind the per-session link quality (link_stats.h):
// full, small and light ACKs, NAK lists with single numbers and ranges,
// ranges across the sequence wrap, forged huge ranges, and truncated input.
#include "srtfwd/dataplane/link_stats.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace srtfwd::dataplane {
namespace {

// An SRT control packet: the 16-byte header (type word, then zeros) and
// the CIF's 32-bit words.
std::vector<uint8_t> control(uint16_t word, std::initializer_list<uint32_t> cif) {
  std::vector<uint8_t> p(16, 0);
  p[0] = static_cast<uint8_t>(word >> 8);
  p[1] = static_cast<uint8_t>(word);
  for (uint32_t w : cif)
    for (int s = 24; s >= 0; s -= 8) p.push_back(static_cast<uint8_t>(w >> s));
  return p;
}

void observe(LinkStats& st, const std::vector<uint8_t>& p, uint32_t len) {
  link_observe_control(st, static_cast<uint16_t>(p[0] << 8 | p[1]), p.data(), len);
}
void observe(LinkStats& st, const std::vector<uint8_t>& p) {
  observe(st, p, static_cast<uint32_t>(p.size()));
}

TEST(LinkStats, FullAckRecordsEveryField) {
  LinkStats st;
  observe(st, control(kSrtAckWord, {1000, 12500, 3000, 8000, 400, 9000, 526400}));
  EXPECT_EQ(st.acks.get(), 1u);
  EXPECT_EQ(st.rtt_us.get(), 12500u);
  EXPECT_EQ(st.rtt_var_us.get(), 3000u);
  EXPECT_EQ(st.avail_buf.get(), 8000u);
  EXPECT_EQ(st.recv_rate_pps.get(), 400u);
  EXPECT_EQ(st.link_capacity_pps.get(), 9000u);
  EXPECT_EQ(st.recv_rate_bps.get(), 526400u);
  // The next one replaces the levels and counts on.
  observe(st, control(kSrtAckWord, {1010, 11000, 2000, 7990, 410, 9100, 539000}));
  EXPECT_EQ(st.acks.get(), 2u);
  EXPECT_EQ(st.rtt_us.get(), 11000u);
  EXPECT_EQ(st.recv_rate_bps.get(), 539000u);
}

TEST(LinkStats, SmallAndLightAcks) {
  LinkStats st;
  // A light ACK (the acknowledged number alone) carries no statistics.
  observe(st, control(kSrtAckWord, {1000}));
  EXPECT_EQ(st.acks.get(), 0u);
  EXPECT_EQ(st.rtt_us.get(), 0u);
  // A small ACK stops after the buffer: rates stay as they were.
  observe(st, control(kSrtAckWord, {1000, 5000, 100, 64}));
  EXPECT_EQ(st.acks.get(), 1u);
  EXPECT_EQ(st.rtt_us.get(), 5000u);
  EXPECT_EQ(st.avail_buf.get(), 64u);
  EXPECT_EQ(st.recv_rate_pps.get(), 0u);
  // Without the byte rate (24 bytes of CIF).
  observe(st, control(kSrtAckWord, {1000, 5000, 100, 64, 300, 800}));
  EXPECT_EQ(st.recv_rate_pps.get(), 300u);
  EXPECT_EQ(st.link_capacity_pps.get(), 800u);
  EXPECT_EQ(st.recv_rate_bps.get(), 0u);
}

TEST(LinkStats, TruncatedPacketsReadNothingBeyondTheirLength) {
  LinkStats st;
  const auto full = control(kSrtAckWord, {1000, 12500, 3000, 8000, 400, 9000, 526400});
  // Shorter than a header, and a full ACK cut inside its RTT variance.
  for (uint32_t len : {0u, 1u, 15u, 16u, 20u, 31u}) observe(st, full, len);
  EXPECT_EQ(st.acks.get(), 0u);
  EXPECT_EQ(st.rtt_us.get(), 0u);
  // Cut inside the capacity: the buffer, not the rates.
  observe(st, full, 16 + 20);
  EXPECT_EQ(st.acks.get(), 1u);
  EXPECT_EQ(st.avail_buf.get(), 8000u);
  EXPECT_EQ(st.recv_rate_pps.get(), 0u);
  // A NAK cut in a word counts the whole words only; none at all: nothing lost.
  const auto nak = control(kSrtNakWord, {5, 9});
  observe(st, nak, 16 + 6);
  EXPECT_EQ(st.lost.get(), 1u);
  observe(st, nak, 10);
  EXPECT_EQ(st.naks.get(), 1u);
}

TEST(LinkStats, NakSinglesAndRanges) {
  LinkStats st;
  // 7; 10..14 (five); 20.
  observe(st, control(kSrtNakWord, {7, 0x80000000u | 10, 14, 20}));
  EXPECT_EQ(st.naks.get(), 1u);
  EXPECT_EQ(st.lost.get(), 7u);
  // A range across the 31-bit wrap: 0x7ffffffe .. 1 is four numbers.
  observe(st, control(kSrtNakWord, {0x80000000u | 0x7ffffffeu, 1}));
  EXPECT_EQ(st.lost.get(), 11u);
  // A range start as the last word: its one number.
  observe(st, control(kSrtNakWord, {3, 0x80000000u | 40}));
  EXPECT_EQ(st.lost.get(), 13u);
  // An empty list.
  observe(st, control(kSrtNakWord, {}));
  EXPECT_EQ(st.naks.get(), 4u);
  EXPECT_EQ(st.lost.get(), 13u);
}

TEST(LinkStats, HugeRangesAreCapped) {
  // A forged range over nearly the whole space, and one whose end lies
  // "before" its start: each counts kMaxNakRange at most, never 2^31.
  EXPECT_EQ(nak_lost_count(control(kSrtNakWord, {0x80000000u, 0x7fffffffu}).data() + 16, 8),
            kMaxNakRange);
  EXPECT_EQ(nak_lost_count(control(kSrtNakWord, {0x80000000u | 100, 99}).data() + 16, 8),
            kMaxNakRange);
  // A jumbo frame full of such ranges stays far from overflowing.
  std::vector<uint8_t> big(16, 0);
  for (int i = 0; i < 1000; ++i)
    for (uint32_t w : {0x80000000u, 0x7fffffffu})
      for (int s = 24; s >= 0; s -= 8) big.push_back(static_cast<uint8_t>(w >> s));
  EXPECT_EQ(nak_lost_count(big.data() + 16, static_cast<uint32_t>(big.size() - 16)),
            uint64_t{1000} * kMaxNakRange);
}

TEST(LinkStats, OtherControlTypesRecordNothing) {
  LinkStats st;
  for (uint16_t w : {0x8000, 0x8001, 0x8005, 0x8006, 0xffff})
    observe(st, control(w, {1000, 12500, 3000, 8000, 400, 9000, 526400}));
  EXPECT_EQ(st.acks.get() + st.naks.get() + st.lost.get() + st.rtt_us.get(), 0u);
}

TEST(LinkStats, ResetClearsEverything) {
  LinkStats st;
  observe(st, control(kSrtAckWord, {1000, 12500, 3000, 8000, 400, 9000, 526400}));
  observe(st, control(kSrtNakWord, {7}));
  st.retransmitted.add(3);
  st.reset();
  EXPECT_EQ(st.acks.get() + st.rtt_us.get() + st.rtt_var_us.get() + st.avail_buf.get() +
                st.recv_rate_pps.get() + st.link_capacity_pps.get() + st.recv_rate_bps.get() +
                st.naks.get() + st.lost.get() + st.retransmitted.get(),
            0u);
}

TEST(LinkStats, RatesFromCounterDeltas) {
  LinkRate r;
  const uint64_t hz = 1000;
  r.update(5000, hz, 100, 10000);  // the first look only remembers
  EXPECT_EQ(r.pps, 0u);
  r.update(5500, hz, 300, 30000);  // under a second: no new rate
  EXPECT_EQ(r.pps, 0u);
  r.update(7000, hz, 900, 90000);  // 800 packets, 80,000 bytes in 2 s
  EXPECT_EQ(r.pps, 400u);
  EXPECT_EQ(r.bps, 320000u);
  r.update(6000, hz, 900, 90000);  // a clock going back changes nothing
  EXPECT_EQ(r.pps, 400u);
}

TEST(LinkStats, HistogramBuckets) {
  LinkHistograms::Snapshot h;
  h.add(500, 0);          // <= 1 ms, 0 %
  h.add(1000, 0.1);       // on a bound: that bucket
  h.add(2000000, 150.0);  // beyond the last bounds: +Inf
  EXPECT_EQ(h.rtt[0], 2u);
  EXPECT_EQ(h.rtt.back(), 1u);
  EXPECT_EQ(h.loss[0], 2u);
  EXPECT_EQ(h.loss.back(), 1u);
  EXPECT_EQ(h.rtt_count, 3u);
  EXPECT_DOUBLE_EQ(h.loss_sum_pct, 150.1);
  EXPECT_DOUBLE_EQ(link_loss_percent(2, 100), 2.0);
  EXPECT_DOUBLE_EQ(link_loss_percent(5, 0), 0.0);
}

}  // namespace
}  // namespace srtfwd::dataplane

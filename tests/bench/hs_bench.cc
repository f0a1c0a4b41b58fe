// srtfwd-hs-bench: SRT handshakes per second through one control lcore, the
// time srtfwd adds to each, and INDUCTION answers under a spoofed flood.
//
// The real srtfwd process (app::run) with two ports made of rte_rings
// (the net_ring PMD), so no kernel is involved. A generator thread plays
// both sides: thousands of callers on port 0 (INDUCTION, CONCLUSION with a
// stream ID, then SHUTDOWN once answered, so sessions end and free their
// legs) and the origin on port 1 (answers our leg's INDUCTION with a cookie
// and its CONCLUSION with a CONCLUSION). It keeps a window of handshakes in
// flight and prints the completed rate. The generator is not an lcore: it is
// kept off the control lcore's core (time-sharing it would halve the figure)
// and on a 2-core machine shares the worker's, which the output says. A
// second line gives the control lcore's CPU per handshake and its run-queue
// wait, so a figure taken on a busy shared machine can still be read.
//
// Latency: the generator stamps (TSC) each packet it puts on a ring and each
// burst it takes off one, and matches them by the caller's socket ID, which
// srtfwd keeps on its leg to the origin. The time srtfwd adds to a handshake
// is the sum of its three steps: caller CONCLUSION in -> leg INDUCTION out,
// origin INDUCTION answer in -> leg CONCLUSION out, origin CONCLUSION answer
// in -> caller answer out. The generator's own time between two polls of a
// ring is in it (a packet waits on the ring until the next poll), so the
// figures are an upper bound; the poll gap is printed with them.
//
// Flood (--flood RATE): one good caller's session is set up, then the
// generator streams its numbered data packets (--good-rate) to the origin
// through the worker while it sends INDUCTIONs from random spoofed source
// addresses and ports at RATE per second (0: as fast as it can), and prints
// the INDUCTION answers per second leaving srtfwd, the offered and accepted
// flood rates, and the good session's sent, received and lost packets.
//
//   srtfwd-hs-bench [EAL options] -- --config F [--seconds N] [--window W]
//                   [--flood RATE [--good-rate R]]
// EAL options must include -l 0-1 and --no-pci; the ports come from the bench.
#include <dlfcn.h>
#include <pthread.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <csignal>
#include <algorithm>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "srtfwd/app/run.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/net/build.h"
#include "srtfwd/net/parse.h"
#include "srtfwd/srt/handshake.h"
#include "srtfwd/srt/reject.h"

namespace {

using namespace srtfwd;
using Clock = std::chrono::steady_clock;

// Both directions of a ring port, as seen by the generator.
struct RingPort {
  rte_ring* to_fwd;    // the forwarder's RX
  rte_ring* from_fwd;  // the forwarder's TX
};

using FromRings = int (*)(const char*, rte_ring* const[], unsigned, rte_ring* const[], unsigned,
                          unsigned);

RingPort make_ring_port(const char* name, FromRings from_rings) {
  RingPort p;
  p.to_fwd =
      rte_ring_create((std::string(name) + "_rx").c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  p.from_fwd = rte_ring_create((std::string(name) + "_tx").c_str(), 8192, 0, RING_F_SC_DEQ);
  if (p.to_fwd == nullptr || p.from_fwd == nullptr)
    throw std::runtime_error("bench: cannot create rings");
  rte_ring* rx[] = {p.to_fwd};
  rte_ring* tx[] = {p.from_fwd};
  if (from_rings(name, rx, 1, tx, 1, 0) < 0)
    throw std::runtime_error("bench: rte_eth_from_rings failed");
  return p;
}

// A thread's time on a CPU and waiting for one (run queue), in ns, from
// /proc/self/task/TID/schedstat: on a shared machine the second says how much
// of the window other processes took from the control lcore.
struct SchedStat {
  uint64_t on_cpu = 0, waiting = 0;
};
SchedStat sched_stat(long tid) {
  SchedStat st;
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  in >> st.on_cpu >> st.waiting;
  return st;
}

const net::MacAddr kCallerMac{{0x02, 0, 0, 0, 0, 0x02}};
const net::MacAddr kBackendMac{{0x02, 0, 0, 0, 1, 0x02}};
const net::IpAddr kVip = *net::IpAddr::parse("198.18.0.1");
const net::IpAddr kLeg = *net::IpAddr::parse("198.18.1.1");
const net::IpAddr kBackend = *net::IpAddr::parse("198.18.1.2");

// Samples of the time srtfwd adds to a handshake, in ns: the sum and its
// three steps (see the comment at the top).
struct Latency {
  std::vector<uint32_t> total, induction, conclusion, answer;
};

// The value below which a fraction q of the sorted samples lie.
double percentile(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t k = static_cast<size_t>(q * double(sorted.size()));
  if (k >= sorted.size()) k = sorted.size() - 1;
  return sorted[k];
}

struct Generator {
  RingPort p0, p1;
  rte_mempool* pool = nullptr;
  net::MacAddr mac0, mac1;
  unsigned window = 256;
  uint64_t hz = 1;                    // TSC ticks per second
  std::atomic<bool> stop{false};      // no new handshakes; keep freeing what arrives
  std::atomic<bool> finished{false};  // the process is done
  std::atomic<uint64_t> done{0}, rejected{0}, restarted{0};

  // Latency samples are kept while `measuring` (the timer's window).
  std::atomic<bool> measuring{false};
  std::mutex samples_mu;
  Latency samples;
  // The generator's time between two polls of the rings, as a log2 histogram
  // of microseconds (bucket b: [2^(b-1), 2^b) us; bucket 0: under 1 us).
  std::array<std::atomic<uint64_t>, 32> poll_gaps{};
  std::atomic<uint64_t> poll_gap_max_ns{0};

  struct Slot {
    uint64_t n = 0;
    net::IpAddr ip;
    uint16_t port = 0;
    uint32_t socket = 0;
    Clock::time_point since;
    // TSC stamps of this handshake's packets (0: not yet): our CONCLUSION
    // enqueued, the leg's INDUCTION dequeued, the origin's INDUCTION answer
    // enqueued, the leg's CONCLUSION dequeued, the origin's answer enqueued.
    uint64_t concl_in = 0, ind_out = 0, oind_in = 0, oconcl_out = 0, oanswer_in = 0;
  };
  std::vector<Slot> slots;
  std::unordered_map<uint64_t, unsigned> by_addr;    // (ip low 32 bits, port) -> slot
  std::unordered_map<uint32_t, unsigned> by_socket;  // caller socket ID (kept on the leg) -> slot
  uint64_t next = 0;

  // Flood mode (--flood): slot 0 is the good caller, whose session streams
  // numbered data packets once set up.
  bool flood = false;
  uint64_t flood_rate = 0;  // spoofed INDUCTIONs per second; 0: as fast as it can
  uint64_t good_rate = 10000;
  unsigned good_size = 1316;  // SRT payload bytes of a data packet
  std::atomic<bool> good_up{false};
  std::atomic<bool> quiet{false};  // the window is over: send nothing more, keep receiving
  std::atomic<uint64_t> flood_offered{0}, flood_accepted{0}, flood_answers{0};
  std::atomic<uint64_t> good_sent{0}, good_ring_full{0}, good_rx{0};
  uint32_t good_peer_socket = 0;
  uint64_t good_t0 = 0, flood_t0 = 0;
  uint64_t rng = 0x9E3779B97F4A7C15ull;

  static uint64_t addr_key(const net::IpAddr& ip, uint16_t port) {
    return (uint64_t{ip.v4_host()} << 16) | port;
  }

  uint64_t random() {  // xorshift64: spoofed sources need no quality
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  }

  uint64_t ns(uint64_t ticks) const {
    return static_cast<uint64_t>(double(ticks) * 1e9 / double(hz));
  }

  // Which stamp of which handshake a sent packet sets once it is on its ring.
  struct Stamp {  // no member initializers: a default argument below
    unsigned slot;
    uint32_t socket;
    uint64_t Slot::*field;
  };
  static constexpr Stamp kNoStamp{0, 0, nullptr};
  void set_stamp(const Stamp& st, uint64_t t) {
    if (st.field == nullptr || t == 0) return;
    Slot& s = slots[st.slot];
    if (s.socket == st.socket && s.*st.field == 0)
      s.*st.field = t;  // not a handshake restarted since
  }

  // With --delay-ms every packet the generator sends waits that long first,
  // as an answer over a network would: handshakes then spend their time
  // outside srtfwd, and the window holds them in flight at a rate the
  // control lcore can serve, rather than queued in front of it.
  uint64_t delay = 0;  // TSC ticks
  struct Pending {
    uint64_t due;
    rte_ring* ring;
    rte_mbuf* m;
    Stamp stamp;
  };
  std::deque<Pending> pending;  // due times in order: one delay for all

  // Builds a frame and enqueues it now or, with a delay, once due.
  void send(rte_ring* r, const net::MacAddr& src_mac, const net::MacAddr& dst_mac,
            const net::IpAddr& src, uint16_t sport, const net::IpAddr& dst, uint16_t dport,
            const std::vector<uint8_t>& payload, Stamp st = kNoStamp) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return;
    const size_t len =
        net::build_udp_frame(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_tailroom(m), src_mac,
                             dst_mac, std::nullopt, src, dst, sport, dport, payload);
    m->data_len = m->pkt_len = static_cast<uint32_t>(len);
    m->port = 0;
    if (delay != 0) {
      pending.push_back(Pending{rte_rdtsc() + delay, r, m, st});
      return;
    }
    while (rte_ring_sp_enqueue(r, m) != 0) {
      if (stop.load(std::memory_order_relaxed)) {
        rte_pktmbuf_free(m);
        return;
      }
      std::this_thread::yield();
    }
    set_stamp(st, rte_rdtsc());
  }

  // Enqueues the delayed packets that are due; returns how many.
  unsigned flush_pending() {
    unsigned n = 0;
    const uint64_t now = rte_rdtsc();
    while (!pending.empty() && pending.front().due <= now) {
      Pending& p = pending.front();
      if (rte_ring_sp_enqueue(p.ring, p.m) != 0) break;  // full: the next turn
      set_stamp(p.stamp, rte_rdtsc());
      pending.pop_front();
      ++n;
    }
    return n;
  }

  void start(unsigned k) {
    Slot& s = slots[k];
    if (s.port != 0) {
      by_addr.erase(addr_key(s.ip, s.port));
      by_socket.erase(s.socket);
    }
    const uint64_t c = next++;
    s = Slot{};
    s.n = c;
    s.ip = net::IpAddr::from_v4_host((198u << 24) | (18u << 16) | (2 + c % 250));
    s.port = static_cast<uint16_t>(1024 + (c / 250) % 60000);
    s.socket = static_cast<uint32_t>(c + 1);
    s.since = Clock::now();
    by_addr[addr_key(s.ip, s.port)] = k;
    by_socket[s.socket] = k;
    srt::Handshake h;
    h.version = srt::kHandshakeVersion4;
    h.extension_field = 2;  // UDT_DGRAM
    h.isn = 1000;
    h.mss = 1500;
    h.flow_window = 8192;
    h.type = srt::HandshakeType::kInduction;
    h.socket_id = s.socket;
    send(p0.to_fwd, kCallerMac, mac0, s.ip, s.port, kVip, 10080, srt::serialize(h));
  }

  void record(const Slot& s, uint64_t answer_out) {
    if (!measuring.load(std::memory_order_relaxed)) return;
    if (s.concl_in == 0 || s.ind_out == 0 || s.oind_in == 0 || s.oconcl_out == 0 ||
        s.oanswer_in == 0)
      return;
    const auto clamp = [](uint64_t v) {
      return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX));
    };
    const uint64_t a = ns(s.ind_out - s.concl_in), b = ns(s.oconcl_out - s.oind_in),
                   c = ns(answer_out - s.oanswer_in);
    std::lock_guard lock(samples_mu);
    samples.total.push_back(clamp(a + b + c));
    samples.induction.push_back(clamp(a));
    samples.conclusion.push_back(clamp(b));
    samples.answer.push_back(clamp(c));
  }

  void on_caller_packet(const uint8_t* f, uint32_t len, uint64_t now) {
    net::FrameInfo fi;
    if (net::parse_frame(f, len, fi) != net::Verdict::Udp) return;
    auto it = by_addr.find(addr_key(fi.dst, fi.dport));
    srt::Handshake h;
    if (it == by_addr.end()) {
      // Under a flood: the answers to spoofed callers.
      if (flood &&
          srt::parse_handshake({f + fi.payload_off, fi.payload_len}, h) == srt::ParseError::Ok &&
          h.type == srt::HandshakeType::kInduction)
        flood_answers.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    Slot& s = slots[it->second];
    if (srt::parse_handshake({f + fi.payload_off, fi.payload_len}, h) != srt::ParseError::Ok)
      return;
    if (h.type == srt::HandshakeType::kInduction) {
      srt::Handshake c;
      c.version = srt::kHandshakeVersion5;
      c.extension_field = srt::kExtFieldHsReq | srt::kExtFieldConfig;
      c.isn = 1000;
      c.mss = 1500;
      c.flow_window = 8192;
      c.type = srt::HandshakeType::kConclusion;
      c.socket_id = s.socket;
      c.cookie = h.cookie;
      c.extensions.push_back(
          srt::encode_hs_ext(srt::kExtHsReq, srt::HsExt{0x00010501, 0xBF, 120, 120}));
      c.extensions.push_back(*srt::encode_sid("#!::r=live/s" + std::to_string(s.n) + ",m=publish"));
      send(p0.to_fwd, kCallerMac, mac0, s.ip, s.port, kVip, 10080, srt::serialize(c),
           Stamp{it->second, s.socket, &Slot::concl_in});
    } else if (h.type == srt::HandshakeType::kConclusion) {
      if (flood) {
        // The good caller's session is up: its data goes to the origin's socket.
        if (!good_up.load(std::memory_order_relaxed)) {
          good_peer_socket = h.socket_id;
          good_t0 = flood_t0 = rte_rdtsc();
          good_up.store(true);
        }
        return;
      }
      done.fetch_add(1, std::memory_order_relaxed);
      record(s, now);
      // SHUTDOWN to the origin's socket: the session ends after its grace.
      std::vector<uint8_t> sh(16, 0);
      sh[0] = 0x80;
      sh[1] = 0x05;
      sh[12] = static_cast<uint8_t>(h.socket_id >> 24);
      sh[13] = static_cast<uint8_t>(h.socket_id >> 16);
      sh[14] = static_cast<uint8_t>(h.socket_id >> 8);
      sh[15] = static_cast<uint8_t>(h.socket_id);
      send(p0.to_fwd, kCallerMac, mac0, s.ip, s.port, kVip, 10080, sh);
      start(it->second);
    } else if (srt::is_rejection(h.type)) {
      rejected.fetch_add(1, std::memory_order_relaxed);
      start(it->second);
    }
  }

  void on_backend_packet(const uint8_t* f, uint32_t len, uint64_t now) {
    net::FrameInfo fi;
    if (net::parse_frame(f, len, fi) != net::Verdict::Udp) return;
    if (fi.payload_len >= 16 && (f[fi.payload_off] & 0x80) == 0) {
      good_rx.fetch_add(
          1, std::memory_order_relaxed);  // a data packet: only the good session sends them
      return;
    }
    srt::Handshake h;
    if (srt::parse_handshake({f + fi.payload_off, fi.payload_len}, h) != srt::ParseError::Ok)
      return;
    // srtfwd's leg keeps the caller's socket ID: it names the handshake.
    auto it = by_socket.find(h.socket_id);
    Slot* s = it != by_socket.end() ? &slots[it->second] : nullptr;
    srt::Handshake r = h;  // a stateless origin: answer what comes
    r.extensions.clear();
    r.version = srt::kHandshakeVersion5;
    r.dest_socket_id = h.socket_id;
    uint64_t* out = nullptr;
    uint64_t Slot::*in = nullptr;
    if (h.type == srt::HandshakeType::kInduction) {
      r.extension_field = srt::kSrtMagic;
      r.cookie = 0x0C00C1E5;
      if (s != nullptr && s->concl_in != 0 && s->ind_out == 0)
        out = &s->ind_out, in = &Slot::oind_in;
    } else if (h.type == srt::HandshakeType::kConclusion) {
      r.socket_id = 0x40000000u | (h.socket_id & 0x3fffffff);
      r.extension_field = srt::kExtFieldHsReq;
      r.extensions.push_back(
          srt::encode_hs_ext(srt::kExtHsRsp, srt::HsExt{0x00010501, 0xBF, 120, 120}));
      if (s != nullptr && s->oind_in != 0 && s->oconcl_out == 0)
        out = &s->oconcl_out, in = &Slot::oanswer_in;
    } else {
      return;
    }
    if (out != nullptr) *out = now;
    send(p1.to_fwd, kBackendMac, mac1, kBackend, 10080, fi.src, fi.sport, srt::serialize(r),
         in != nullptr ? Stamp{it->second, s->socket, in} : kNoStamp);
  }

  // Drains what srtfwd sent on both ports; returns the packets seen.
  unsigned poll() {
    rte_mbuf* burst[64];
    unsigned seen = 0;
    for (int round = 0; round < 8; ++round) {
      const unsigned n =
          rte_ring_sc_dequeue_burst(p0.from_fwd, reinterpret_cast<void**>(burst), 64, nullptr);
      const uint64_t now = rte_rdtsc();
      for (unsigned i = 0; i < n; ++i) {
        on_caller_packet(rte_pktmbuf_mtod(burst[i], const uint8_t*), burst[i]->data_len, now);
        rte_pktmbuf_free(burst[i]);
      }
      const unsigned b =
          rte_ring_sc_dequeue_burst(p1.from_fwd, reinterpret_cast<void**>(burst), 64, nullptr);
      const uint64_t now1 = rte_rdtsc();
      for (unsigned i = 0; i < b; ++i) {
        on_backend_packet(rte_pktmbuf_mtod(burst[i], const uint8_t*), burst[i]->data_len, now1);
        rte_pktmbuf_free(burst[i]);
      }
      seen += n + b;
      if (n < 64 && b < 64) break;
    }
    return seen;
  }

  void note_poll_gap(uint64_t ticks) {
    if (!measuring.load(std::memory_order_relaxed)) return;
    const uint64_t gap = ns(ticks);
    const uint64_t us = gap / 1000;
    const unsigned b =
        us == 0 ? 0 : std::min(31u, 64u - static_cast<unsigned>(__builtin_clzll(us)));
    poll_gaps[b].fetch_add(1, std::memory_order_relaxed);
    if (gap > poll_gap_max_ns.load(std::memory_order_relaxed))
      poll_gap_max_ns.store(gap, std::memory_order_relaxed);
  }

  // One good data packet, numbered `seq`; a full RX ring loses it, as a NIC would.
  void send_good(uint32_t seq, std::vector<uint8_t>& payload) {
    payload[0] = static_cast<uint8_t>((seq >> 24) & 0x7f);
    payload[1] = static_cast<uint8_t>(seq >> 16);
    payload[2] = static_cast<uint8_t>(seq >> 8);
    payload[3] = static_cast<uint8_t>(seq);
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    good_sent.fetch_add(1, std::memory_order_relaxed);
    if (m == nullptr) {
      good_ring_full.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const Slot& s = slots[0];
    const size_t len =
        net::build_udp_frame(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_tailroom(m), kCallerMac,
                             mac0, std::nullopt, s.ip, kVip, s.port, 10080, payload);
    m->data_len = m->pkt_len = static_cast<uint32_t>(len);
    m->port = 0;
    if (rte_ring_sp_enqueue(p0.to_fwd, m) != 0) {
      rte_pktmbuf_free(m);
      good_ring_full.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Up to `n` INDUCTIONs from random sources outside the good caller's /23.
  void send_flood(unsigned n, const std::vector<uint8_t>& induction) {
    rte_mbuf* ms[64];
    n = std::min(n, 64u);
    if (n == 0 || rte_pktmbuf_alloc_bulk(pool, ms, n) != 0) return;
    for (unsigned i = 0; i < n; ++i) {
      const uint64_t r = random();
      const uint32_t host = 512 + static_cast<uint32_t>(r % ((1u << 17) - 512));
      const auto ip = net::IpAddr::from_v4_host((198u << 24) | (18u << 16) | host);
      const auto port = static_cast<uint16_t>(1024 + (r >> 32) % 64512);
      const size_t len =
          net::build_udp_frame(rte_pktmbuf_mtod(ms[i], uint8_t*), rte_pktmbuf_tailroom(ms[i]),
                               kCallerMac, mac0, std::nullopt, ip, kVip, port, 10080, induction);
      ms[i]->data_len = ms[i]->pkt_len = static_cast<uint32_t>(len);
      ms[i]->port = 0;  // as a NIC's receive sets it (net_ring leaves it)
    }
    const unsigned q =
        rte_ring_sp_enqueue_burst(p0.to_fwd, reinterpret_cast<void**>(ms), n, nullptr);
    if (q < n) rte_pktmbuf_free_bulk(ms + q, n - q);
    flood_offered.fetch_add(n, std::memory_order_relaxed);
    flood_accepted.fetch_add(q, std::memory_order_relaxed);
  }

  void run() {
    if (flood) window = 1;
    slots.resize(window);
    for (unsigned k = 0; k < window; ++k) start(k);
    rte_mbuf* burst[64];
    srt::Handshake ind;
    ind.version = srt::kHandshakeVersion4;
    ind.extension_field = 2;  // UDT_DGRAM
    ind.isn = 1000;
    ind.mss = 1500;
    ind.flow_window = 8192;
    ind.type = srt::HandshakeType::kInduction;
    ind.socket_id = 0x5F00D;
    const std::vector<uint8_t> induction = srt::serialize(ind);
    std::vector<uint8_t> data(16 + good_size, 0xAB);
    data[4] = 0xC0;  // PB_SOLO, in order, message number 0
    uint32_t good_seq = 0;
    auto last_check = Clock::now();
    uint64_t last_poll = rte_rdtsc();
    while (true) {
      if (finished.load(std::memory_order_relaxed)) {
        // Ports are closed: return what is left in the rings and the delay
        // queue, then stop.
        for (const Pending& p : pending) rte_pktmbuf_free(p.m);
        pending.clear();
        for (rte_ring* r : {p0.from_fwd, p1.from_fwd, p0.to_fwd, p1.to_fwd}) {
          unsigned k;
          while ((k = rte_ring_dequeue_burst(r, reinterpret_cast<void**>(burst), 64, nullptr)) != 0)
            rte_pktmbuf_free_bulk(burst, k);
        }
        return;
      }
      if (stop.load(std::memory_order_relaxed)) {
        // The forwarder is draining: free what it still sends, start nothing.
        for (rte_ring* r : {p0.from_fwd, p1.from_fwd}) {
          const unsigned k =
              rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(burst), 64, nullptr);
          rte_pktmbuf_free_bulk(burst, k);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        continue;
      }
      const uint64_t t = rte_rdtsc();
      note_poll_gap(t - last_poll);
      last_poll = t;
      unsigned busy = poll() + flush_pending();
      if (flood && good_up.load(std::memory_order_relaxed) &&
          !quiet.load(std::memory_order_relaxed)) {
        // Paced by the TSC: what is due since the stream began, 64 at most a turn.
        const double since = double(rte_rdtsc() - good_t0) / double(hz);
        const auto due = static_cast<uint64_t>(since * double(good_rate));
        for (unsigned k = 0; k < 64 && good_seq < due; ++k) {
          data[12] = static_cast<uint8_t>(good_peer_socket >> 24);
          data[13] = static_cast<uint8_t>(good_peer_socket >> 16);
          data[14] = static_cast<uint8_t>(good_peer_socket >> 8);
          data[15] = static_cast<uint8_t>(good_peer_socket);
          send_good(good_seq++, data);
          ++busy;
        }
        const uint64_t offered = flood_offered.load(std::memory_order_relaxed);
        uint64_t want = 64;
        if (flood_rate != 0) {
          const auto fdue = static_cast<uint64_t>(double(rte_rdtsc() - flood_t0) / double(hz) *
                                                  double(flood_rate));
          want = fdue > offered ? fdue - offered : 0;
        }
        if (want != 0) {
          send_flood(static_cast<unsigned>(std::min<uint64_t>(want, 64)), induction);
          ++busy;
        }
      }
      const auto now = Clock::now();
      if (now - last_check > std::chrono::milliseconds(200)) {
        last_check = now;
        for (unsigned k = 0; k < window; ++k)
          if (now - slots[k].since > std::chrono::seconds(2) &&
              !good_up.load(std::memory_order_relaxed)) {
            restarted.fetch_add(1, std::memory_order_relaxed);
            start(k);
          }
      }
      if (busy == 0) std::this_thread::yield();
    }
  }
};

// The latency line and its steps, from the samples of the window.
void print_latency(Generator& gen, unsigned window, double delay_ms) {
  Latency l;
  {
    std::lock_guard lock(gen.samples_mu);
    l = std::move(gen.samples);
  }
  for (auto* v : {&l.total, &l.induction, &l.conclusion, &l.answer})
    std::sort(v->begin(), v->end());
  const auto us = [](const std::vector<uint32_t>& v, double q) {
    return percentile(v, q) / 1000.0;
  };
  std::printf(
      "  latency srtfwd adds per handshake (%zu handshakes, %u in flight, peers answering after %g "
      "ms): "
      "p50 %.0f us, p99 %.0f us, p999 %.0f us, max %.0f us  target p99 <= 1000 us\n",
      l.total.size(), window, delay_ms, us(l.total, 0.50), us(l.total, 0.99), us(l.total, 0.999),
      l.total.empty() ? 0.0 : l.total.back() / 1000.0);
  std::printf(
      "  latency by step, p50/p99 us: caller CONCLUSION -> leg INDUCTION %.0f/%.0f, origin "
      "INDUCTION "
      "answer -> leg CONCLUSION %.0f/%.0f, origin answer -> caller answer %.0f/%.0f\n",
      us(l.induction, 0.5), us(l.induction, 0.99), us(l.conclusion, 0.5), us(l.conclusion, 0.99),
      us(l.answer, 0.5), us(l.answer, 0.99));
  // A packet waits on its ring until the generator's next poll: the gap
  // between polls bounds how much of the figures is the generator's.
  uint64_t total = 0;
  for (auto& b : gen.poll_gaps) total += b.load();
  uint64_t acc = 0;
  unsigned p99 = 0;
  for (unsigned b = 0; b < gen.poll_gaps.size(); ++b) {
    acc += gen.poll_gaps[b].load();
    if (total != 0 && acc * 100 >= total * 99) {
      p99 = b;
      break;
    }
  }
  std::printf(
      "  generator: time between two polls of the rings p99 < %u us, max %.0f us (included in the "
      "latency above)\n",
      p99 == 0 ? 1u : 1u << p99, gen.poll_gap_max_ns.load() / 1000.0);
}

// Flood mode's window: waits for the good session, lets the flood run a
// second, then measures for `seconds` and prints the figures.
void run_flood_window(Generator& gen, control::ControlPlane& cp, long control_tid, unsigned seconds,
                      int gen_cpus) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!gen.good_up.load()) {
    if (Clock::now() > deadline) {
      std::printf("flood: the good session was not set up in 10 s (%llu rejected)\n",
                  static_cast<unsigned long long>(gen.rejected.load()));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up under the flood
  struct Snap {
    uint64_t offered, accepted, answers, ring_full, tx_dropped;
    SchedStat sched;
    Clock::time_point t;
  };
  const auto snap = [&] {
    const auto c = cp.dataplane().totals();
    return Snap{gen.flood_offered.load(),
                gen.flood_accepted.load(),
                gen.flood_answers.load(),
                c.dropped_by(dataplane::DropReason::kControlRingFull),
                cp.dataplane().control_tx_dropped(),
                sched_stat(control_tid),
                Clock::now()};
  };
  const Snap a = snap();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const Snap b = snap();
  gen.quiet.store(true);
  // The good packets still on their way: wait until all that entered the
  // RX ring have arrived, or they stop arriving.
  uint64_t seen = gen.good_rx.load();
  for (int still = 0;
       still < 20 && gen.good_rx.load() + gen.good_ring_full.load() < gen.good_sent.load();) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const uint64_t now = gen.good_rx.load();
    still = now == seen ? still + 1 : 0;
    seen = now;
  }
  const double dt = std::chrono::duration<double>(b.t - a.t).count();
  const double answers = double(b.answers - a.answers);
  const double on_cpu = (b.sched.on_cpu - a.sched.on_cpu) / 1e9,
               waiting = (b.sched.waiting - a.sched.waiting) / 1e9;
  const double us_each = answers > 0 ? on_cpu * 1e6 / answers : 0;
  const uint64_t sent = gen.good_sent.load(), rx = gen.good_rx.load(),
                 full = gen.good_ring_full.load();
  std::printf(
      "INDUCTION answers/s under a spoofed flood, one control lcore: %.0f  (flood offered "
      "%.0f/s%s, "
      "onto the RX ring %.0f/s, dropped at the full control ring %.0f/s, control TX dropped "
      "%.0f/s; "
      "generator sharing %d core(s) with the worker)\n",
      answers / dt, double(b.offered - a.offered) / dt,
      gen.flood_rate == 0 ? " (as fast as it can)" : "", double(b.accepted - a.accepted) / dt,
      double(b.ring_full - a.ring_full) / dt, double(b.tx_dropped - a.tx_dropped) / dt, gen_cpus);
  std::printf(
      "  good session at %llu pkt/s through the flood: sent %llu, received %llu, lost %llu "
      "(%.3f%%; %llu "
      "of them not taken by the full RX ring)\n",
      static_cast<unsigned long long>(gen.good_rate), static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(rx),
      static_cast<unsigned long long>(sent - std::min(rx, sent)),
      sent ? 100.0 * double(sent - std::min(rx, sent)) / double(sent) : 0.0,
      static_cast<unsigned long long>(full));
  std::printf(
      "  control lcore: on its CPU %.0f%% of the window, waiting for it %.0f%%; %.2f us of CPU per "
      "INDUCTION answer = %.0f/s on a dedicated core\n",
      100 * on_cpu / dt, 100 * waiting / dt, us_each, us_each > 0 ? 1e6 / us_each : 0.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned seconds = 5, window = 256;
  int gen_cpus = 0;
  long control_tid = 0;
  std::string label = "memory";
  uint64_t flood_rate = 0;
  double delay_ms = 0;
  CLI::Option* flood_opt = nullptr;
  Generator gen;
  std::thread gen_thread, timer;
  srtfwd::control::ControlPlane* cpp = nullptr;
  srtfwd::app::Hooks hooks;
  hooks.add_options = [&](CLI::App& app) {
    app.add_option("--seconds", seconds, "measured seconds");
    app.add_option("--window", window, "handshakes in flight");
    app.add_option("--label", label, "name printed with the figure");
    app.add_option("--delay-ms", delay_ms,
                   "every packet of the callers and the origin sent this late (a network)")
        ->check(CLI::Range(0.0, 300.0));
    flood_opt =
        app.add_option("--flood", flood_rate,
                       "spoofed INDUCTIONs per second (0: as fast as the generator can) beside one "
                       "good session, instead of the handshake figures");
    app.add_option("--good-rate", gen.good_rate,
                   "the good session's data packets per second (--flood)");
  };
  hooks.after_eal = [&] {
    gen.hz = rte_get_tsc_hz();
    // The ring PMD is an EAL plugin: take rte_eth_from_rings from the copy
    // EAL already loaded rather than linking a second one.
    void* h = dlopen("librte_net_ring.so.23", RTLD_NOW | RTLD_NOLOAD);
    if (h == nullptr)
      h = dlopen("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_ring.so.23", RTLD_NOW);
    auto from_rings = h ? reinterpret_cast<FromRings>(dlsym(h, "rte_eth_from_rings")) : nullptr;
    if (from_rings == nullptr) throw std::runtime_error("bench: net_ring PMD not found");
    gen.p0 = make_ring_port("hsb0", from_rings);
    gen.p1 = make_ring_port("hsb1", from_rings);
    // With per-lcore caches (the generator registers as a non-EAL lcore to
    // get one) the pool's ring is touched in batches: the generator and the
    // worker share a core, and a thread preempted inside a multi-producer
    // ring operation makes the other spin through its whole time slice;
    // under a flood, with a ring operation per packet, that stalled both.
    gen.pool = rte_pktmbuf_pool_create("hsb_pool", 65535, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    if (gen.pool == nullptr) throw std::runtime_error("bench: cannot create the generator's pool");
  };
  hooks.on_ready = [&](control::ControlPlane& cp) {
    cpp = &cp;
    gen.mac0 = cp.dataplane().port(0)->mac;
    gen.mac1 = cp.dataplane().port(1)->mac;
    cp.neighbours().set_static(1, kBackend, kBackendMac);
    gen.window = window;
    gen.flood = flood_opt->count() != 0;
    gen.flood_rate = flood_rate;
    gen.delay = static_cast<uint64_t>(delay_ms * double(gen.hz) / 1000.0);
    control_tid = syscall(SYS_gettid);  // on_ready runs on the control lcore
    // A std::thread started here inherits the control lcore's affinity (one
    // core): keep the generator off that core, or it would time-share it with
    // the control loop and halve the figure. On 2 cores it runs beside the
    // worker, which has little to do here.
    cpu_set_t ctl = rte_lcore_cpuset(rte_lcore_id()), others;
    CPU_ZERO(&others);
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < ncpu && c < CPU_SETSIZE; ++c)
      if (!CPU_ISSET(c, &ctl)) CPU_SET(c, &others);
    gen_cpus = CPU_COUNT(&others) != 0 ? CPU_COUNT(&others) : static_cast<int>(ncpu);
    gen_thread = std::thread([&, others] {
      if (CPU_COUNT(&others) != 0) pthread_setaffinity_np(pthread_self(), sizeof others, &others);
      if (rte_thread_register() != 0)
        spdlog::warn("bench: generator without an lcore id: no mempool cache");
      gen.run();
      rte_thread_unregister();
    });
    timer = std::thread([&] {
      if (gen.flood) {
        run_flood_window(gen, *cpp, control_tid, seconds, gen_cpus);
        gen.stop.store(true);
        std::raise(SIGTERM);
        return;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up
      const uint64_t d0 = gen.done.load(), r0 = gen.rejected.load();
      const SchedStat s0 = sched_stat(control_tid);
      const auto t0 = Clock::now();
      gen.measuring.store(true);
      std::this_thread::sleep_for(std::chrono::seconds(seconds));
      gen.measuring.store(false);
      const uint64_t d1 = gen.done.load(), r1 = gen.rejected.load();
      const SchedStat s1 = sched_stat(control_tid);
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      // The control lcore's share of the window: on a CPU (working, or
      // polling before its idle sleeps), waiting for one (other threads), and
      // the CPU it spent per handshake.
      const double on_cpu = (s1.on_cpu - s0.on_cpu) / 1e9,
                   waiting = (s1.waiting - s0.waiting) / 1e9;
      const double us_per_hs = d1 > d0 ? on_cpu * 1e6 / double(d1 - d0) : 0;
      std::printf(
          "handshakes/s through one control lcore (%s balancer): %.0f  (window %u, %llu rejected "
          "(+%llu in warm-up), %llu restarted; generator thread off the control lcore's core, "
          "sharing the other %d core(s) with the worker)\n",
          label.c_str(), (d1 - d0) / dt, window, static_cast<unsigned long long>(r1 - r0),
          static_cast<unsigned long long>(r0),
          static_cast<unsigned long long>(gen.restarted.load()), gen_cpus);
      // Below saturation the CPU figure includes the control loop's polling
      // before its idle sleeps, so the rate derived from it is then an
      // underestimate of what a dedicated core could do.
      std::printf(
          "  control lcore: on its CPU %.0f%% of the window, waiting for it %.0f%% (other threads "
          "and processes); %.1f us of CPU per handshake = %.0f/s on a dedicated core\n",
          100 * on_cpu / dt, 100 * waiting / dt, us_per_hs, us_per_hs > 0 ? 1e6 / us_per_hs : 0.0);
      print_latency(gen, window, delay_ms);
      std::fflush(stdout);
      gen.stop.store(true);
      std::raise(SIGTERM);
    });
  };
  hooks.on_shutdown = [&] {
    gen.stop.store(true);
    gen.finished.store(true);
    if (gen_thread.joinable()) gen_thread.join();
  };
  const int rc = srtfwd::app::run(argc, argv, hooks);
  gen.stop.store(true);
  if (gen_thread.joinable()) gen_thread.join();
  if (timer.joinable()) timer.join();
  return rc;
}

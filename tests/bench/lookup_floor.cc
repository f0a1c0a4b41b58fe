// srtfwd-lookup-floor: the least a session-table forwarder does per packet,
// as a yardstick for scripts/bench.sh (prints figures, asserts nothing).
//
// dpdk-testpmd's 5tswap, the peer of the data-plane target, swaps a frame's
// MACs, addresses and ports and looks nothing up. srtfwd's worker looks every
// packet's 4-tuple up in a table that, with 100,000 sessions, is far larger
// than the cache. This program does only what any such forwarder must: per
// packet a hash of the IPv4 4-tuple, its table line prefetched one burst
// pass ahead, linear probing from there with 12-byte key compares, the rewrite of MACs,
// addresses, ports and TTL with RFC 1624 incremental checksums, and two
// per-session counters; no validation beyond Ethernet type, IHL and
// protocol, no VLAN, no IPv6 key, no keyed hash, no runs, no slow path.
// Entries are one 64-byte line each (12-byte key, rewrite, counters), as
// many slots as srtfwd's table has for the same sessions, filled with the
// same keys in the same order (see main); a key the traffic brings that is
// not installed is learned on first sight. Its Mpps next to testpmd's on the
// same pcap shows how much of the gap to testpmd a lookup per packet leaves
// even when done with next to nothing else, and how much is srtfwd's own.
//
//   srtfwd-lookup-floor [EAL options] -- SESSIONS SECONDS
// EAL options: -l 0-1, port 0 the traffic source (net_pcap, infinite_rx=1),
// port 1 the sink (net_null). Prints "lookup-floor: X Mpps (...)".
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <nmmintrin.h>

namespace {

constexpr uint16_t kBurst = 32;
constexpr unsigned kEthLen = 14, kIpSrcOff = kEthLen + 12, kUdpOff = kEthLen + 20;

struct alignas(64) Entry {
  uint32_t src = 0, dst = 0, ports = 0, used = 0;  // key as on the wire
  uint8_t macs[12] = {};                           // new destination, then source MAC
  uint32_t new_src = 0, new_dst = 0, new_ports = 0;
  uint16_t ip_delta = 0,
           udp_delta = 0;  // one's-complement deltas of the words as loaded (RFC 1071 2(B))
  uint64_t packets = 0, bytes = 0;
};
static_assert(sizeof(Entry) == 64, "one line per entry");

inline uint32_t hash(uint64_t addrs, uint32_t ports) noexcept {
  uint32_t h = static_cast<uint32_t>(_mm_crc32_u64(0x9e3779b9u, addrs));
  h = _mm_crc32_u32(h, ports);
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  return h;
}

// One's-complement sum of the 16-bit words of 4 bytes (as in memory).
inline uint32_t sum32(uint32_t v) noexcept { return (v & 0xffff) + (v >> 16); }
inline uint16_t fold(uint32_t s) noexcept {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}
// RFC 1624 eqn. 3 with a precomputed delta (sum of ~old and new words).
inline uint16_t update(uint16_t hc, uint16_t delta) noexcept {
  uint32_t s = static_cast<uint16_t>(~hc) + uint32_t{delta};
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

struct Table {
  Entry* e = nullptr;
  uint32_t mask = 0;
  uint64_t learned = 0, full = 0;

  // Installs a 4-tuple with a made-up but consistent rewrite (every field
  // changes, so every store and both checksum updates are real work).
  Entry* learn(uint32_t src, uint32_t dst, uint32_t ports, uint32_t h) noexcept {
    for (uint32_t i = h & mask, n = 0; n < 64; ++n, i = (i + 1) & mask) {
      Entry& x = e[i];
      if (x.used) continue;
      x.src = src, x.dst = dst, x.ports = ports, x.used = 1;
      const uint8_t macs[12] = {2, 0, 0, 0, 1, 2, 2, 0, 0, 0, 1, 1};
      std::memcpy(x.macs, macs, 12);
      x.new_src = dst ^ 0x00000100u;  // another address of the forwarder's
      x.new_dst = src ^ 0x01000000u;
      x.new_ports = ports ^ 0x00ff00ffu;
      const uint32_t a = sum32(~src) + sum32(~dst) + sum32(x.new_src) + sum32(x.new_dst);
      x.ip_delta = fold(a + 0xfffe);  // and the TTL decrement: -0x0100 in the TTL|protocol word,
                                      // byte-swapped as loaded
      x.udp_delta = fold(a + sum32(~ports) + sum32(x.new_ports));
      ++learned;
      return &x;
    }
    ++full;
    return nullptr;
  }
};

struct Ctx {
  Table t;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> forwarded{0};
  uint64_t dropped = 0;
};

int forward_loop(void* arg) {
  Ctx& c = *static_cast<Ctx*>(arg);
  Table& t = c.t;
  rte_mbuf* pkts[kBurst];
  Entry* slot[kBurst];
  uint32_t key_src[kBurst], key_dst[kBurst], key_ports[kBurst], h[kBurst];
  uint64_t fwd = 0;
  while (!c.stop.load(std::memory_order_relaxed)) {
    const uint16_t n = rte_eth_rx_burst(0, 0, pkts, kBurst);
    if (n == 0) continue;
    for (uint16_t i = 0; i < n && i < 4; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    // Pass 1: parse, hash, prefetch each packet's line.
    uint16_t k = 0;
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 4 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void*));
      rte_mbuf* m = pkts[i];
      const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
      uint16_t type;
      std::memcpy(&type, d + 12, 2);
      if (type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || d[kEthLen] != 0x45 ||
          d[kEthLen + 9] != IPPROTO_UDP) {
        rte_pktmbuf_free(m);
        ++c.dropped;
        continue;
      }
      uint64_t addrs;
      std::memcpy(&addrs, d + kIpSrcOff, 8);
      std::memcpy(&key_ports[k], d + kUdpOff, 4);
      key_src[k] = static_cast<uint32_t>(addrs);
      key_dst[k] = static_cast<uint32_t>(addrs >> 32);
      h[k] = hash(addrs, key_ports[k]);
      rte_prefetch0(&t.e[h[k] & t.mask]);
      pkts[k++] = m;
    }
    // Pass 2: probe, rewrite, count.
    for (uint16_t i = 0; i < k; ++i) {
      Entry* x = nullptr;
      for (uint32_t j = h[i] & t.mask, p = 0; p < 64; ++p, j = (j + 1) & t.mask) {
        Entry& y = t.e[j];
        if (!y.used) break;
        if (y.src == key_src[i] && y.dst == key_dst[i] && y.ports == key_ports[i]) {
          x = &y;
          break;
        }
      }
      if (unlikely(x == nullptr)) x = t.learn(key_src[i], key_dst[i], key_ports[i], h[i]);
      slot[i] = x;
    }
    uint16_t out = 0;
    for (uint16_t i = 0; i < k; ++i) {
      rte_mbuf* m = pkts[i];
      Entry* x = slot[i];
      uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
      if (unlikely(x == nullptr || d[kEthLen + 8] <= 1)) {
        rte_pktmbuf_free(m);
        ++c.dropped;
        continue;
      }
      std::memcpy(d, x->macs, 12);
      std::memcpy(d + kIpSrcOff, &x->new_src, 4);
      std::memcpy(d + kIpSrcOff + 4, &x->new_dst, 4);
      std::memcpy(d + kUdpOff, &x->new_ports, 4);
      --d[kEthLen + 8];
      uint16_t c16;
      std::memcpy(&c16, d + kEthLen + 10, 2);
      c16 = update(c16, x->ip_delta);
      std::memcpy(d + kEthLen + 10, &c16, 2);
      std::memcpy(&c16, d + kUdpOff + 6, 2);
      if (c16 != 0) {
        c16 = update(c16, x->udp_delta);
        if (c16 == 0) c16 = 0xffff;
        std::memcpy(d + kUdpOff + 6, &c16, 2);
      }
      ++x->packets;
      x->bytes += m->pkt_len;
      pkts[out++] = m;
    }
    const uint16_t sent = rte_eth_tx_burst(1, 0, pkts, out);
    for (uint16_t i = sent; i < out; ++i) rte_pktmbuf_free(pkts[i]);
    fwd += sent;
    c.forwarded.store(fwd, std::memory_order_relaxed);
  }
  return 0;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "lookup-floor: %s\n", what);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const int used = rte_eal_init(argc, argv);
  if (used < 0) die("EAL init failed");
  argc -= used;
  argv += used;
  if (argc != 3) die("usage: srtfwd-lookup-floor [EAL options] -- SESSIONS SECONDS");
  const uint32_t sessions = static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10));
  const unsigned secs = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
  if (rte_eth_dev_count_avail() < 2) die("needs two ports: the pcap source and the null sink");
  const unsigned worker = rte_get_next_lcore(-1, 1, 0);
  if (worker >= RTE_MAX_LCORE) die("needs a worker lcore (-l 0-1)");

  rte_mempool* pool = rte_pktmbuf_pool_create("floor_mbufs", 131071, 256, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  if (pool == nullptr) die("no mbuf pool");
  for (uint16_t port = 0; port < 2; ++port) {
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr) != 0 ||
        rte_eth_dev_start(port) != 0)
      die("port set-up failed");
  }

  static Ctx c;
  // Sized as srtfwd's table: two keys per session (both directions), at a
  // load of at most 1/2; only the keys the traffic carries are learned.
  uint32_t slots = 64;
  while (slots < 4 * sessions) slots <<= 1;
  c.t.e = static_cast<Entry*>(rte_zmalloc("floor_table", sizeof(Entry) * slots, 64));
  if (c.t.e == nullptr) die("no memory for the table");
  c.t.mask = slots - 1;
  // The sessions srtfwd-testbed --session-count installs and
  // scripts/bench-pcap.py sends to (caller 198.18.0.2 + i / 50000, port
  // 10000 + i % 50000, to 198.18.0.1:10080), each with its other
  // direction's key (here one that never matches), in the same order, so the
  // table holds as many keys as srtfwd's and probe sequences are as long.
  for (uint32_t i = 0; i < sessions; ++i) {
    const uint32_t caller = rte_cpu_to_be_32(0xc6120002u + i / 50000);  // 198.18.0.2 + i / 50000
    const uint32_t vip = rte_cpu_to_be_32(0xc6120001u);                 // 198.18.0.1
    const uint32_t ports = uint32_t{rte_cpu_to_be_16(static_cast<uint16_t>(10000 + i % 50000))} |
                           uint32_t{rte_cpu_to_be_16(10080)} << 16;
    c.t.learn(caller, vip, ports, hash(uint64_t{caller} | uint64_t{vip} << 32, ports));
    // The backend's key (198.18.1.2:10080 -> leg 198.18.1.1, a port per
    // session): never in the benchmark's traffic, present for the load.
    const uint32_t backend = rte_cpu_to_be_32(0xc6120102u), leg = rte_cpu_to_be_32(0xc6120101u);
    const uint32_t leg_ports =
        (uint32_t{rte_cpu_to_be_16(10080)} |
         uint32_t{rte_cpu_to_be_16(static_cast<uint16_t>(20000 + i % 40000))} << 16) ^
        (i / 40000) << 8;
    c.t.learn(backend, leg, leg_ports, hash(uint64_t{backend} | uint64_t{leg} << 32, leg_ports));
  }
  const uint64_t installed = c.t.learned;
  c.t.learned = 0;

  rte_eal_remote_launch(forward_loop, &c, worker);
  sleep(1);  // warm-up
  const uint64_t f0 = c.forwarded.load();
  const uint64_t t0 = rte_get_tsc_cycles();
  sleep(secs);
  const uint64_t f1 = c.forwarded.load();
  const uint64_t t1 = rte_get_tsc_cycles();
  c.stop = true;
  rte_eal_wait_lcore(worker);
  const double s = static_cast<double>(t1 - t0) / static_cast<double>(rte_get_tsc_hz());
  std::printf(
      "lookup-floor: %.2f Mpps (%lu keys installed, %lu learned from the traffic, %u slots of 64 "
      "B, %lu dropped, %lu not learned, %lu forwarded in all)\n",
      static_cast<double>(f1 - f0) / s / 1e6, static_cast<unsigned long>(installed),
      static_cast<unsigned long>(c.t.learned), slots, static_cast<unsigned long>(c.dropped),
      static_cast<unsigned long>(c.t.full), static_cast<unsigned long>(c.forwarded.load()));
  for (uint16_t port = 0; port < 2; ++port) rte_eth_dev_stop(port);
  rte_free(c.t.e);
  rte_eal_cleanup();
  return 0;
}

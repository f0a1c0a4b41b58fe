// srtfwd-hs-bench: SRT handshakes per second through one control lcore.
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
//   srtfwd-hs-bench [EAL options] -- --config F [--seconds N] [--window W]
// EAL options must include -l 0-1 and --no-pci; the ports come from the bench.
#include <dlfcn.h>
#include <pthread.h>
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
#include <csignal>
#include <fstream>
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
  p.to_fwd = rte_ring_create((std::string(name) + "_rx").c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  p.from_fwd = rte_ring_create((std::string(name) + "_tx").c_str(), 8192, 0, RING_F_SC_DEQ);
  if (p.to_fwd == nullptr || p.from_fwd == nullptr) throw std::runtime_error("bench: cannot create rings");
  rte_ring* rx[] = {p.to_fwd};
  rte_ring* tx[] = {p.from_fwd};
  if (from_rings(name, rx, 1, tx, 1, 0) < 0) throw std::runtime_error("bench: rte_eth_from_rings failed");
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

struct Generator {
  RingPort p0, p1;
  rte_mempool* pool = nullptr;
  net::MacAddr mac0, mac1;
  unsigned window = 256;
  std::atomic<bool> stop{false};     // no new handshakes; keep freeing what arrives
  std::atomic<bool> finished{false}; // the process is done
  std::atomic<uint64_t> done{0}, rejected{0}, restarted{0};

  struct Slot {
    uint64_t n = 0;
    net::IpAddr ip;
    uint16_t port = 0;
    uint32_t socket = 0;
    Clock::time_point since;
  };
  std::vector<Slot> slots;
  std::unordered_map<uint64_t, unsigned> by_addr;  // (ip low 32 bits, port) -> slot
  uint64_t next = 0;

  static uint64_t addr_key(const net::IpAddr& ip, uint16_t port) {
    return (uint64_t{ip.v4_host()} << 16) | port;
  }

  void send(rte_ring* r, const net::MacAddr& src_mac, const net::MacAddr& dst_mac, const net::IpAddr& src,
            uint16_t sport, const net::IpAddr& dst, uint16_t dport, const std::vector<uint8_t>& payload) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return;
    const size_t len = net::build_udp_frame(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_tailroom(m), src_mac,
                                            dst_mac, std::nullopt, src, dst, sport, dport, payload);
    m->data_len = m->pkt_len = static_cast<uint32_t>(len);
    m->port = 0;
    while (rte_ring_sp_enqueue(r, m) != 0) {
      if (stop.load(std::memory_order_relaxed)) {
        rte_pktmbuf_free(m);
        return;
      }
      std::this_thread::yield();
    }
  }

  void start(unsigned k) {
    Slot& s = slots[k];
    if (s.port != 0) by_addr.erase(addr_key(s.ip, s.port));
    const uint64_t c = next++;
    s.n = c;
    s.ip = net::IpAddr::from_v4_host((198u << 24) | (18u << 16) | (2 + c % 250));
    s.port = static_cast<uint16_t>(1024 + (c / 250) % 60000);
    s.socket = static_cast<uint32_t>(c + 1);
    s.since = Clock::now();
    by_addr[addr_key(s.ip, s.port)] = k;
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

  void on_caller_packet(const uint8_t* f, uint32_t len) {
    net::FrameInfo fi;
    if (net::parse_frame(f, len, fi) != net::Verdict::Udp) return;
    auto it = by_addr.find(addr_key(fi.dst, fi.dport));
    if (it == by_addr.end()) return;
    Slot& s = slots[it->second];
    srt::Handshake h;
    if (srt::parse_handshake({f + fi.payload_off, fi.payload_len}, h) != srt::ParseError::Ok) return;
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
      c.extensions.push_back(srt::encode_hs_ext(srt::kExtHsReq, srt::HsExt{0x00010501, 0xBF, 120, 120}));
      c.extensions.push_back(*srt::encode_sid("#!::r=live/s" + std::to_string(s.n) + ",m=publish"));
      send(p0.to_fwd, kCallerMac, mac0, s.ip, s.port, kVip, 10080, srt::serialize(c));
    } else if (h.type == srt::HandshakeType::kConclusion) {
      done.fetch_add(1, std::memory_order_relaxed);
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

  void on_backend_packet(const uint8_t* f, uint32_t len) {
    net::FrameInfo fi;
    if (net::parse_frame(f, len, fi) != net::Verdict::Udp) return;
    srt::Handshake h;
    if (srt::parse_handshake({f + fi.payload_off, fi.payload_len}, h) != srt::ParseError::Ok) return;
    srt::Handshake r = h;  // a stateless origin: answer what comes
    r.extensions.clear();
    r.version = srt::kHandshakeVersion5;
    r.dest_socket_id = h.socket_id;
    if (h.type == srt::HandshakeType::kInduction) {
      r.extension_field = srt::kSrtMagic;
      r.cookie = 0x0C00C1E5;
    } else if (h.type == srt::HandshakeType::kConclusion) {
      r.socket_id = 0x40000000u | (h.socket_id & 0x3fffffff);
      r.extension_field = srt::kExtFieldHsReq;
      r.extensions.push_back(srt::encode_hs_ext(srt::kExtHsRsp, srt::HsExt{0x00010501, 0xBF, 120, 120}));
    } else {
      return;
    }
    send(p1.to_fwd, kBackendMac, mac1, kBackend, 10080, fi.src, fi.sport, srt::serialize(r));
  }

  void run() {
    slots.resize(window);
    for (unsigned k = 0; k < window; ++k) start(k);
    rte_mbuf* burst[64];
    auto last_check = Clock::now();
    while (true) {
      if (finished.load(std::memory_order_relaxed)) {
        // Ports are closed: return what is left in the rings, then stop.
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
          const unsigned k = rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(burst), 64, nullptr);
          rte_pktmbuf_free_bulk(burst, k);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        continue;
      }
      unsigned n = rte_ring_sc_dequeue_burst(p0.from_fwd, reinterpret_cast<void**>(burst), 64, nullptr);
      for (unsigned i = 0; i < n; ++i) {
        on_caller_packet(rte_pktmbuf_mtod(burst[i], const uint8_t*), burst[i]->data_len);
        rte_pktmbuf_free(burst[i]);
      }
      unsigned b = rte_ring_sc_dequeue_burst(p1.from_fwd, reinterpret_cast<void**>(burst), 64, nullptr);
      for (unsigned i = 0; i < b; ++i) {
        on_backend_packet(rte_pktmbuf_mtod(burst[i], const uint8_t*), burst[i]->data_len);
        rte_pktmbuf_free(burst[i]);
      }
      const auto now = Clock::now();
      if (now - last_check > std::chrono::milliseconds(200)) {
        last_check = now;
        for (unsigned k = 0; k < window; ++k)
          if (now - slots[k].since > std::chrono::seconds(2)) {
            restarted.fetch_add(1, std::memory_order_relaxed);
            start(k);
          }
      }
      if (n == 0 && b == 0) std::this_thread::yield();
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  unsigned seconds = 5, window = 256;
  int gen_cpus = 0;
  long control_tid = 0;
  std::string label = "memory";
  Generator gen;
  std::thread gen_thread, timer;
  srtfwd::app::Hooks hooks;
  hooks.add_options = [&](CLI::App& app) {
    app.add_option("--seconds", seconds, "measured seconds");
    app.add_option("--window", window, "handshakes in flight");
    app.add_option("--label", label, "name printed with the figure");
  };
  hooks.after_eal = [&] {
    // The ring PMD is an EAL plugin: take rte_eth_from_rings from the copy
    // EAL already loaded rather than linking a second one.
    void* h = dlopen("librte_net_ring.so.23", RTLD_NOW | RTLD_NOLOAD);
    if (h == nullptr)
      h = dlopen("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_ring.so.23", RTLD_NOW);
    auto from_rings = h ? reinterpret_cast<FromRings>(dlsym(h, "rte_eth_from_rings")) : nullptr;
    if (from_rings == nullptr) throw std::runtime_error("bench: net_ring PMD not found");
    gen.p0 = make_ring_port("hsb0", from_rings);
    gen.p1 = make_ring_port("hsb1", from_rings);
    gen.pool = rte_pktmbuf_pool_create("hsb_pool", 65535, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    if (gen.pool == nullptr) throw std::runtime_error("bench: cannot create the generator's pool");
  };
  hooks.on_ready = [&](control::ControlPlane& cp) {
    gen.mac0 = cp.dataplane().port(0)->mac;
    gen.mac1 = cp.dataplane().port(1)->mac;
    cp.neighbours().set_static(1, kBackend, kBackendMac);
    gen.window = window;
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
      gen.run();
    });
    timer = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up
      const uint64_t d0 = gen.done.load(), r0 = gen.rejected.load();
      const SchedStat s0 = sched_stat(control_tid);
      const auto t0 = Clock::now();
      std::this_thread::sleep_for(std::chrono::seconds(seconds));
      const uint64_t d1 = gen.done.load(), r1 = gen.rejected.load();
      const SchedStat s1 = sched_stat(control_tid);
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      // The control lcore's share of the window: on a CPU (working, or
      // polling before its idle sleeps), waiting for one (other threads), and
      // the CPU it spent per handshake.
      const double on_cpu = (s1.on_cpu - s0.on_cpu) / 1e9, waiting = (s1.waiting - s0.waiting) / 1e9;
      const double us_per_hs = d1 > d0 ? on_cpu * 1e6 / double(d1 - d0) : 0;
      std::printf("handshakes/s through one control lcore (%s balancer): %.0f  (window %u, %llu rejected "
                  "(+%llu in warm-up), %llu restarted; generator thread off the control lcore's core, "
                  "sharing the other %d core(s) with the worker)\n",
                  label.c_str(), (d1 - d0) / dt, window, static_cast<unsigned long long>(r1 - r0),
                  static_cast<unsigned long long>(r0),
                  static_cast<unsigned long long>(gen.restarted.load()), gen_cpus);
      // Below saturation the CPU figure includes the control loop's polling
      // before its idle sleeps, so the rate derived from it is then an
      // underestimate of what a dedicated core could do.
      std::printf("  control lcore: on its CPU %.0f%% of the window, waiting for it %.0f%% (other threads "
                  "and processes); %.1f us of CPU per handshake = %.0f/s on a dedicated core\n",
                  100 * on_cpu / dt, 100 * waiting / dt, us_per_hs, us_per_hs > 0 ? 1e6 / us_per_hs : 0.0);
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

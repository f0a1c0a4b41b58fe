// libFuzzer target for SrtProxy, the handshake state machine, through the
// in-memory HandshakeEnv and Balancer of the unit tests: the input is a
// script of caller packets (well-formed handshakes and raw bytes), origin
// packets (answers, rejections, raw bytes, from the right or a wrong
// source), balancer answers (now, later, never; ok or rejected, with or
// without a claim), installs (now, later, failed), hook answers (allowed,
// denied, failed, late or never, under either on_error), session ends, drain
// and clock steps, with [limits] caps drawn from the input. After every step the state must stay
// within its limits; at the end, once the clock has passed every deadline and every session has
// ended, every attempt and every leg port must be free. Any violation aborts.
#include <fuzzer/FuzzedDataProvider.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "../control/srt_proxy_fakes.h"
#include "srtfwd/control/srt_proxy.h"
#include "srtfwd/srt/handshake.h"
#include "srtfwd/srt/reject.h"

namespace {

using namespace srtfwd;
using control::fake::Datagram;
using net::IpAddr;

void check(bool condition, int line = __builtin_LINE()) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_srt_proxy: check on line %d failed\n", line);
  std::abort();
}

const IpAddr kLeg4 = IpAddr::from_v4_host(0xC6120001);  // 198.18.0.1, also the listener
const IpAddr kLeg6 = *IpAddr::parse("2001:2::1");
const IpAddr kCallers[] = {IpAddr::from_v4_host(0xC6120A02), IpAddr::from_v4_host(0xC6120A03),
                           *IpAddr::parse("2001:2::a")};
const IpAddr kOrigins[] = {IpAddr::from_v4_host(0xC6130005), IpAddr::from_v4_host(0xC6130006),
                           *IpAddr::parse("2001:2:1::5"), IpAddr::from_v4_host(0xC6130007)};
const char* const kStreamIds[] = {
    "#!::r=live/a,m=publish",
    "#!::r=live/a,m=request",
    "#!::r=live/b",
    "live/c",
    "#!::m=publish",
    "#!::r=live/a,m=bogus",
    "",
    "#!::h=x,r=app/s,m=publish",
};
const uint32_t kReasons[] = {0, 1, 8, 15, 16, 17, 999, 1000, 1403, 1404, 1503, 0x7fffffff};
constexpr uint16_t kListen = 10080;
constexpr uint16_t kOriginPort = 10080;
const net::MacAddr kMac{{0x02, 0, 0, 0, 0, 0x01}};

class Run {
 public:
  explicit Run(FuzzedDataProvider& in) : in_(in) {
    auto& o = env_.opt;
    o.listen_ports = {kListen};
    o.leg_port_min = 20000;
    o.leg_port_max = static_cast<uint16_t>(20000 + in_.ConsumeIntegralInRange<uint16_t>(0, 7));
    o.max_handshakes = in_.ConsumeIntegralInRange<uint32_t>(1, 8);
    o.backend_retry_ms = in_.ConsumeIntegralInRange<uint32_t>(1, 400);
    o.backend_timeout_ms = in_.ConsumeIntegralInRange<uint32_t>(1, 2000);
    o.cookie_bucket_s = in_.ConsumeIntegralInRange<uint32_t>(1, 120);
    env_.addresses = {kLeg4};
    if (in_.ConsumeBool()) env_.addresses.push_back(kLeg6);
    if (in_.ConsumeBool()) env_.unroutable.push_back(kOrigins[3]);
    if (in_.ConsumeBool()) o.hooks.on_publish = "http://127.0.0.1:1/publish";
    if (in_.ConsumeBool()) o.hooks.on_play = "http://127.0.0.1:1/play";
    o.hooks.allow_on_error = in_.ConsumeBool();
    o.hooks.timeout_ms = in_.ConsumeIntegralInRange<uint32_t>(10, 900);
    env_.hook_room = in_.ConsumeIntegralInRange<size_t>(0, 4);
    o.limits.max_handshakes_per_source = in_.ConsumeIntegralInRange<uint32_t>(0, 3);
    o.limits.max_sessions_per_source = in_.ConsumeIntegralInRange<uint32_t>(0, 3);
    o.limits.inductions_per_source_s = in_.ConsumeIntegralInRange<uint32_t>(0, 5);
    o.limits.source_slots = in_.ConsumeIntegralInRange<uint32_t>(1, 4);
    if (in_.ConsumeBool()) o.limits.deny.push_back(net::Prefix{kCallers[1], 32});
    legs_total_ = env_.addresses.size() * (o.leg_port_max - o.leg_port_min + 1u);
    proxy_ = std::make_unique<control::SrtProxy>(env_, balancer_);
    env_.proxy = proxy_.get();
  }

  void go() {
    while (in_.remaining_bytes() > 0) {
      step();
      for (const Datagram& d : env_.sent)
        if (d.dport == kOriginPort && d.sport != kListen) to_origins_.push_back(d);
      if (to_origins_.size() > 16) to_origins_.erase(to_origins_.begin(), to_origins_.end() - 16);
      env_.sent.clear();
      invariants();
    }
    finish();
  }

 private:
  void step() {
    switch (in_.ConsumeIntegralInRange<int>(0, 13)) {
      case 0: caller_induction(); break;
      case 1:
      case 2: caller_conclusion(); break;
      case 3: caller_raw(); break;
      case 4:
      case 5: origin_answer(); break;
      case 6: origin_raw(); break;
      case 7: balancer_answers(); break;
      case 8: installs(); break;
      case 9: end_a_session(); break;
      case 10: proxy_->set_draining(in_.ConsumeIntegralInRange<int>(0, 7) == 0); break;
      case 11: hook_answers(); break;
      default: advance(in_.ConsumeIntegralInRange<uint64_t>(0, 3000)); break;
    }
  }

  void advance(uint64_t ms) {
    env_.clock += env_.ms_to_tsc(ms) + in_.ConsumeIntegralInRange<uint64_t>(0, 1000);
    const uint64_t before = proxy_->counters().rejected_total();
    proxy_->on_tick(env_.clock);
    note_rejections(before);
    while (!rejections_.empty() && rejections_.front() + env_.ms_to_tsc(5000) <= env_.clock)
      rejections_.pop_front();
  }

  void deliver(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
               std::span<const uint8_t> bytes) {
    net::FrameInfo fi;
    fi.ip_version = src.is_v4() ? 4 : 6;
    fi.src = src;
    fi.dst = dst;
    fi.sport = sport;
    fi.dport = dport;
    fi.payload_len = static_cast<uint16_t>(bytes.size());
    const uint64_t before = proxy_->counters().rejected_total();
    proxy_->on_datagram(fi, kMac, in_.ConsumeIntegralInRange<uint16_t>(0, 1), bytes, env_.clock);
    note_rejections(before);
  }
  void note_rejections(uint64_t before) {
    for (uint64_t n = proxy_->counters().rejected_total(); before < n; ++before)
      rejections_.push_back(env_.clock);
  }
  void deliver(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
               const srt::Handshake& hs) {
    const auto bytes = srt::serialize(hs);
    if (!bytes.empty()) deliver(src, sport, dst, dport, bytes);
  }

  const IpAddr& caller() {
    return kCallers[in_.ConsumeIntegralInRange<size_t>(0, std::size(kCallers) - 1)];
  }
  const IpAddr& vip_for(const IpAddr& c) {
    return c.is_v4() || env_.addresses.size() < 2 ? kLeg4 : kLeg6;
  }
  uint16_t caller_port() {
    return static_cast<uint16_t>(40000 + in_.ConsumeIntegralInRange<int>(0, 3));
  }
  uint32_t socket() { return 0x100 + in_.ConsumeIntegralInRange<uint32_t>(0, 3); }

  srt::Handshake induction(uint32_t sock) {
    srt::Handshake hs;
    hs.timestamp = in_.ConsumeIntegral<uint32_t>();
    hs.version = srt::kHandshakeVersion4;
    hs.extension_field = 2;
    hs.isn = 1;
    hs.mss = 1500;
    hs.flow_window = 8192;
    hs.type = srt::HandshakeType::kInduction;
    hs.socket_id = sock;
    return hs;
  }

  void caller_induction() {
    const IpAddr& c = caller();
    deliver(c, caller_port(), vip_for(c), kListen, induction(socket()));
  }

  // INDUCTION for the cookie, then a CONCLUSION with its variations.
  void caller_conclusion() {
    const IpAddr& c = caller();
    const IpAddr& vip = vip_for(c);
    const uint16_t port = caller_port();
    const uint32_t sock = socket();
    deliver(c, port, vip, kListen, induction(sock));
    uint32_t cookie = 0;
    for (const Datagram& d : env_.sent) {
      srt::Handshake a;
      if (d.dst == c && d.dport == port && srt::parse_handshake(d.bytes, a) == srt::ParseError::Ok)
        cookie = a.cookie;
    }
    srt::Handshake hs = induction(sock);
    hs.version = srt::kHandshakeVersion5;
    hs.extension_field = srt::kExtFieldHsReq | srt::kExtFieldConfig;
    hs.type = srt::HandshakeType::kConclusion;
    hs.cookie = cookie;
    srt::HsExt req;
    req.version = 0x00010501;
    hs.extensions.push_back(srt::encode_hs_ext(srt::kExtHsReq, req));
    const auto sid = kStreamIds[in_.ConsumeIntegralInRange<size_t>(0, std::size(kStreamIds) - 1)];
    if (auto e = srt::encode_sid(sid)) hs.extensions.push_back(*e);
    switch (in_.ConsumeIntegralInRange<int>(0, 9)) {
      case 0: hs.cookie += 1 + in_.ConsumeIntegral<uint16_t>(); break;  // bad cookie
      case 1: hs.version = srt::kHandshakeVersion4; break;
      case 2: hs.extensions.push_back(srt::Extension{srt::kExtGroup, {0, 0, 0, 1}}); break;
      case 3:
        hs.type =
            in_.ConsumeBool() ? srt::HandshakeType::kWaveahand : srt::HandshakeType::kAgreement;
        break;
      case 4: hs.type = srt::handshake_type_for_reject(1404); break;
      case 5: advance(in_.ConsumeIntegralInRange<uint64_t>(0, 250000)); break;  // cookie ages
      default: break;
    }
    const int copies = in_.ConsumeIntegralInRange<int>(1, 3);  // the caller's retransmissions
    for (int i = 0; i < copies; ++i) deliver(c, port, vip, kListen, hs);
  }

  void caller_raw() {
    const IpAddr& c = caller();
    const auto bytes = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(0, 200));
    deliver(c, caller_port(), vip_for(c), in_.ConsumeBool() ? kListen : uint16_t{20000}, bytes);
  }

  // Something toward an origin seen so far: answer it.
  bool last_to_origin(Datagram& out, srt::Handshake& hs) {
    if (to_origins_.empty()) return false;
    out = to_origins_[in_.ConsumeIntegralInRange<size_t>(0, to_origins_.size() - 1)];
    return srt::parse_handshake(out.bytes, hs) == srt::ParseError::Ok;
  }

  void origin_answer() {
    Datagram d;
    srt::Handshake ours;
    if (!last_to_origin(d, ours)) return;
    srt::Handshake a = ours;
    switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
        a = srt::make_induction_response(ours, in_.ConsumeIntegral<uint32_t>(), ours.peer_ip, 1);
        break;
      case 1:
        a.type = srt::HandshakeType::kConclusion;
        a.dest_socket_id = ours.socket_id;
        a.socket_id = in_.ConsumeIntegral<uint32_t>();
        a.timestamp = in_.ConsumeIntegral<uint32_t>();
        break;
      case 2:
        a = srt::make_rejection(
            ours, kReasons[in_.ConsumeIntegralInRange<size_t>(0, std::size(kReasons) - 1)],
            ours.peer_ip, 0);
        break;
      default: a.type = in_.ConsumeIntegral<uint32_t>(); break;
    }
    IpAddr src = d.dst;
    uint16_t sport = d.dport;
    if (in_.ConsumeIntegralInRange<int>(0, 7) == 0)
      sport = static_cast<uint16_t>(sport + 1);  // wrong source
    deliver(src, sport, d.src, d.sport, a);
  }

  void origin_raw() {
    Datagram d;
    srt::Handshake ours;
    const auto bytes = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(0, 200));
    if (to_origins_.empty()) {
      deliver(kOrigins[0], kOriginPort, kLeg4, 20000, bytes);
      return;
    }
    last_to_origin(d, ours);
    deliver(d.dst, d.dport, d.src, d.sport, bytes);
  }

  control::Pick a_pick() {
    control::Pick p;
    if (in_.ConsumeIntegralInRange<int>(0, 3) == 0) {
      p.reject_reason = kReasons[in_.ConsumeIntegralInRange<size_t>(0, std::size(kReasons) - 1)];
      p.why = "fuzz";
      return p;
    }
    p.ok = true;
    p.ip = kOrigins[in_.ConsumeIntegralInRange<size_t>(0, std::size(kOrigins) - 1)];
    p.port = kOriginPort;
    p.server_key = "srs-proxy-server:o";
    p.claim = in_.ConsumeIntegralInRange<uint64_t>(0, 2);
    return p;
  }

  void balancer_answers() {
    const uint64_t before = proxy_->counters().rejected_total();
    switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: balancer_.answer_now = a_pick(); break;
      case 1: balancer_.answer_now.reset(); break;  // later, or never
      default:
        if (!balancer_.held.empty()) balancer_.answer(a_pick());
        break;
    }
    note_rejections(before);
  }

  void installs() {
    const uint64_t before = proxy_->counters().rejected_total();
    switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: env_.hold_installs = !env_.hold_installs; break;
      case 1:
        env_.fail_installs.reset();
        if (in_.ConsumeBool()) env_.fail_installs = control::InstallStatus::kUnresolved;
        break;
      default:
        if (!env_.held.empty()) env_.complete_held();
        break;
    }
    note_rejections(before);
  }

  void hook_answers() {
    if (env_.hooks.empty()) return;
    const uint64_t before = proxy_->counters().rejected_total();
    const auto v = static_cast<control::HookVerdict>(in_.ConsumeIntegralInRange<int>(0, 2));
    env_.answer_hook(v, in_.ConsumeIntegralInRange<size_t>(0, env_.hooks.size() - 1));
    note_rejections(before);
  }

  void end_a_session() {
    if (env_.live.empty()) return;
    env_.end_session(env_.live[in_.ConsumeIntegralInRange<size_t>(0, env_.live.size() - 1)],
                     control::EndReason::kIdle);
  }

  void invariants() {
    check(proxy_->in_flight() <= env_.opt.max_handshakes);
    check(proxy_->legs_in_use() <= legs_total_);
    // A leg belongs to a handshake in flight or to an installed session.
    check(proxy_->legs_in_use() <= proxy_->in_flight() + env_.live.size());
    // Kept: in flight, established (one live session each), rejected within
    // the last 5 s (the cached rejection).
    check(proxy_->tracked() <= proxy_->in_flight() + env_.live.size() + rejections_.size());
  }

  void finish() {
    // Installs always call back; picks that never come are timed out.
    env_.hold_installs = false;
    const uint64_t before = proxy_->counters().rejected_total();
    while (!env_.held.empty()) env_.complete_held();
    note_rejections(before);
    invariants();
    const uint64_t past = env_.ms_to_tsc(env_.opt.backend_timeout_ms + 500 + 5000 + 1);
    // Hooks time out (and on_error = "allow" goes on to the balancer and
    // the origin), then those time out, then their rejections are forgotten.
    for (int i = 0; i < 3; ++i) {
      env_.clock += past;
      proxy_->on_tick(env_.clock);
      while (!env_.held.empty()) env_.complete_held();
    }
    check(proxy_->in_flight() == 0);
    while (!env_.live.empty()) env_.end_session(env_.live.back(), control::EndReason::kIdle);
    check(proxy_->tracked() == 0);
    check(proxy_->legs_in_use() == 0);
    // Balancer answers that come after everything ended change nothing.
    env_.sent.clear();
    while (!balancer_.held.empty()) {
      control::Pick p;
      p.ok = true;
      p.ip = kOrigins[0];
      p.port = kOriginPort;
      balancer_.answer(p);
    }
    // Nor do hook answers.
    while (!env_.hooks.empty())
      env_.answer_hook(static_cast<control::HookVerdict>(in_.ConsumeIntegralInRange<int>(0, 2)));
    check(env_.sent.empty());
    check(proxy_->tracked() == 0 && proxy_->legs_in_use() == 0);
  }

  FuzzedDataProvider& in_;
  control::fake::Env env_;
  control::fake::Balancer balancer_;
  std::unique_ptr<control::SrtProxy> proxy_;
  size_t legs_total_ = 0;
  std::deque<uint64_t> rejections_;  // when each rejection was sent, for 5 s
  std::vector<Datagram> to_origins_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Every log line formatted (debug included), none written.
  auto logger =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::debug);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Run(in).go();
  return 0;
}

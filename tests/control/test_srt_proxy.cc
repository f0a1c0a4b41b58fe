// SrtProxy, the handshake state machine, driven through an in-memory
// HandshakeEnv and Balancer (srt_proxy_fakes.h): every rejection it sends,
// the cookie exchange, the origin leg (retransmission, time-out, the
// origin's own rejection), the cached answers, installs that complete late
// or fail, drain, and claims undone when a leg fails. No EAL, no root.
#include "srtfwd/control/srt_proxy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "srt_proxy_fakes.h"
#include "srtfwd/srt/handshake.h"
#include "srtfwd/srt/reject.h"

namespace srtfwd::control {
namespace {

using net::IpAddr;

const IpAddr kVip = IpAddr::from_v4_host(0xC6120001);     // 198.18.0.1: ours
const IpAddr kCaller = IpAddr::from_v4_host(0xC6120A02);  // 198.18.10.2
const IpAddr kOrigin = IpAddr::from_v4_host(0xC6130005);  // 198.19.0.5
const net::MacAddr kCallerMac{{0x02, 0, 0, 0, 0, 0x0a}};
const net::MacAddr kOriginMac{{0x02, 0, 0, 0, 0, 0x0b}};
constexpr uint16_t kListen = 10080;
constexpr uint16_t kCallerPort = 40000;
constexpr uint16_t kOriginPort = 10080;
constexpr uint16_t kCallerPortId = 0;
constexpr uint32_t kSocket = 0x1a2b3c4d;
const std::string kPublish = "#!::r=live/livestream,m=publish";

RejectReason label_of(const char* name) {
  for (size_t i = 0; i < kRejectReasons.size(); ++i)
    if (kRejectReasons[i].name == name) return static_cast<RejectReason>(i);
  ADD_FAILURE() << "no label " << name;
  return RejectReason::kBadRequest;
}

Pick ok_pick(uint64_t claim = 0) {
  Pick p;
  p.ok = true;
  p.ip = kOrigin;
  p.port = kOriginPort;
  p.server_key = "srs-proxy-server:origin-a";
  p.claim = claim;
  return p;
}

Pick failed_pick(uint32_t reason) {
  Pick p;
  p.reject_reason = reason;
  p.why = "test";
  return p;
}

class SrtProxyTest : public ::testing::Test {
 protected:
  SrtProxyTest() {
    env.opt.leg_port_min = 20000;
    env.opt.leg_port_max = 20003;
    env.addresses = {kVip};
  }
  SrtProxy& proxy() {
    if (!proxy_) {
      proxy_ = std::make_unique<SrtProxy>(env, balancer);
      env.proxy = proxy_.get();
    }
    return *proxy_;
  }
  const SrtProxyCounters& counters() { return proxy().counters(); }
  uint64_t ms(uint64_t n) const { return env.ms_to_tsc(n); }
  void advance(uint64_t tsc) { env.clock += tsc; }
  void tick() { proxy().on_tick(env.clock); }

  // A datagram from (src, sport) to (dst, dport).
  void deliver(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
               const net::MacAddr& mac, const srt::Handshake& hs) {
    const auto bytes = srt::serialize(hs);
    ASSERT_FALSE(bytes.empty());
    net::FrameInfo fi;
    fi.ip_version = src.is_v4() ? 4 : 6;
    fi.src = src;
    fi.dst = dst;
    fi.sport = sport;
    fi.dport = dport;
    fi.payload_len = static_cast<uint16_t>(bytes.size());
    proxy().on_datagram(fi, mac, kCallerPortId, bytes, env.clock);
  }
  void from_caller(const srt::Handshake& hs, uint16_t port = kCallerPort) {
    deliver(kCaller, port, kVip, kListen, kCallerMac, hs);
  }

  static srt::Handshake induction(uint32_t socket = kSocket) {
    srt::Handshake hs;
    hs.timestamp = 1000;
    hs.version = srt::kHandshakeVersion4;
    hs.extension_field = 2;  // UDT_DGRAM
    hs.isn = 0x2b3c4d5e;
    hs.mss = 1500;
    hs.flow_window = 8192;
    hs.type = srt::HandshakeType::kInduction;
    hs.socket_id = socket;
    return hs;
  }
  static srt::Handshake conclusion(uint32_t cookie,
                                   const std::optional<std::string>& sid = kPublish,
                                   uint32_t socket = kSocket) {
    srt::Handshake hs = induction(socket);
    hs.timestamp = 2000;
    hs.version = srt::kHandshakeVersion5;
    hs.extension_field = srt::kExtFieldHsReq | srt::kExtFieldConfig;
    hs.type = srt::HandshakeType::kConclusion;
    hs.cookie = cookie;
    srt::HsExt req;
    req.version = 0x00010501;
    req.flags = srt::kHsFlagTsbpdSnd | srt::kHsFlagTsbpdRcv;
    req.recv_tsbpd_delay = req.send_tsbpd_delay = 120;
    hs.extensions.push_back(srt::encode_hs_ext(srt::kExtHsReq, req));
    if (sid) hs.extensions.push_back(*srt::encode_sid(*sid));
    return hs;
  }

  // The last datagram sent, parsed.
  srt::Handshake last_sent(const fake::Datagram** d = nullptr) {
    EXPECT_FALSE(env.sent.empty());
    if (env.sent.empty()) return {};
    if (d) *d = &env.sent.back();
    srt::Handshake hs;
    EXPECT_EQ(srt::parse_handshake(env.sent.back().bytes, hs), srt::ParseError::Ok);
    return hs;
  }
  // INDUCTION, and the cookie of its answer.
  uint32_t cookie_for(uint16_t port = kCallerPort, uint32_t socket = kSocket) {
    from_caller(induction(socket), port);
    return last_sent().cookie;
  }
  // A caller's INDUCTION and CONCLUSION (stream sid).
  void caller_concludes(const std::optional<std::string>& sid = kPublish,
                        uint16_t port = kCallerPort, uint32_t socket = kSocket) {
    const uint32_t cookie = cookie_for(port, socket);
    from_caller(conclusion(cookie, sid, socket), port);
  }
  // The reason of the rejection last sent to the caller (nullopt: none).
  std::optional<uint32_t> rejection_to_caller() {
    if (env.sent.empty() || env.sent.back().dst != kCaller) return std::nullopt;
    return srt::reject_reason_for_handshake_type(last_sent().type);
  }
  void expect_rejected(uint32_t code, const char* label) {
    ASSERT_FALSE(env.sent.empty());
    const fake::Datagram* d = nullptr;
    const srt::Handshake hs = last_sent(&d);
    EXPECT_EQ(d->dst, kCaller);
    EXPECT_EQ(d->src, kVip);
    EXPECT_EQ(d->sport, kListen);
    EXPECT_EQ(d->dst_mac, kCallerMac);
    EXPECT_EQ(srt::reject_reason_for_handshake_type(hs.type), code);
    EXPECT_EQ(hs.dest_socket_id, kSocket);
    EXPECT_EQ(counters().rejected_for(label_of(label)).get(), 1u) << label;
    EXPECT_EQ(counters().rejected_total(), 1u);
  }
  // The origin side: answers from (kOrigin, kOriginPort) to the leg the last
  // datagram to the origin came from.
  void from_origin(const srt::Handshake& hs) {
    const fake::Datagram* to_origin = nullptr;
    for (auto it = env.sent.rbegin(); it != env.sent.rend(); ++it)
      if (it->dst == kOrigin) {
        to_origin = &*it;
        break;
      }
    ASSERT_NE(to_origin, nullptr);
    const IpAddr leg = to_origin->src;
    const uint16_t leg_port = to_origin->sport;
    deliver(kOrigin, kOriginPort, leg, leg_port, kOriginMac, hs);
  }
  size_t sent_to(const IpAddr& ip) const {
    size_t n = 0;
    for (const auto& d : env.sent) n += d.dst == ip;
    return n;
  }
  static srt::Handshake origin_induction_answer(const srt::Handshake& ours) {
    return srt::make_induction_response(ours, 0x0c0ffee0, ours.peer_ip, 777);
  }
  static srt::Handshake origin_conclusion_answer(const srt::Handshake& ours) {
    srt::Handshake a = ours;
    a.type = srt::HandshakeType::kConclusion;
    a.timestamp = 5000;
    a.dest_socket_id = ours.socket_id;
    a.socket_id = 0x0bac0bac;
    a.extensions.clear();
    srt::HsExt rsp;
    rsp.version = 0x00010501;
    a.extensions.push_back(srt::encode_hs_ext(srt::kExtHsRsp, rsp));
    return a;
  }
  // Picks answered now with ok_pick(claim), the origin answers both steps.
  void establish(uint64_t claim = 0) {
    balancer.answer_now = ok_pick(claim);
    caller_concludes();
    from_origin(origin_induction_answer(last_sent()));
    from_origin(origin_conclusion_answer(last_sent()));
  }

  fake::Env env;
  fake::Balancer balancer;
  std::unique_ptr<SrtProxy> proxy_;
};

// ---- the caller's INDUCTION and the cookie ----

TEST_F(SrtProxyTest, InductionIsAnsweredWithACookieAndKeepsNoState) {
  from_caller(induction());
  const fake::Datagram* d = nullptr;
  const srt::Handshake hs = last_sent(&d);
  EXPECT_EQ(d->src, kVip);
  EXPECT_EQ(d->sport, kListen);
  EXPECT_EQ(d->dst, kCaller);
  EXPECT_EQ(d->dport, kCallerPort);
  EXPECT_EQ(d->dst_mac, kCallerMac);
  EXPECT_EQ(d->port_hint, kCallerPortId);
  EXPECT_EQ(hs.type, srt::HandshakeType::kInduction);
  EXPECT_EQ(hs.version, srt::kHandshakeVersion5);
  EXPECT_EQ(hs.extension_field, srt::kSrtMagic);
  EXPECT_EQ(hs.dest_socket_id, kSocket);
  EXPECT_NE(hs.cookie, 0u);
  EXPECT_EQ(counters().inductions.get(), 1u);
  EXPECT_EQ(proxy().tracked(), 0u);
  EXPECT_TRUE(balancer.picked.empty());
  // The cookie is the caller's: another port gets another one.
  EXPECT_NE(cookie_for(kCallerPort + 1), hs.cookie);
}

TEST_F(SrtProxyTest, ConclusionWithABadCookieIsIgnored) {
  const uint32_t cookie = cookie_for();
  env.sent.clear();
  from_caller(conclusion(cookie + 1));
  EXPECT_TRUE(env.sent.empty());
  EXPECT_EQ(counters().bad_cookie.get(), 1u);
  EXPECT_EQ(counters().conclusions.get(), 0u);
  EXPECT_TRUE(balancer.picked.empty());
  // A cookie made for another caller port is no better.
  from_caller(conclusion(cookie), kCallerPort + 1);
  EXPECT_TRUE(env.sent.empty());
  EXPECT_EQ(counters().bad_cookie.get(), 2u);
  // The right one is taken.
  from_caller(conclusion(cookie));
  EXPECT_EQ(counters().conclusions.get(), 1u);
  EXPECT_EQ(balancer.picked, std::vector<std::string>{"__defaultVhost__/live/livestream"});
}

TEST_F(SrtProxyTest, CookieOfThePreviousBucketIsTakenOlderIsNot) {
  env.opt.cookie_bucket_s = 60;
  const uint32_t cookie = cookie_for();
  advance(env.tsc_hz() * 61);  // next bucket: still valid
  from_caller(conclusion(cookie));
  EXPECT_EQ(counters().conclusions.get(), 1u);
  const uint32_t other = cookie_for(kCallerPort + 1, kSocket + 1);
  advance(env.tsc_hz() * 121);  // two buckets on
  from_caller(conclusion(other, kPublish, kSocket + 1), kCallerPort + 1);
  EXPECT_EQ(counters().bad_cookie.get(), 1u);
}

// ---- the fleet's shared secret ([srt] cookie_secret_file) ----

// A secret file for the test, removed at the end.
class SecretFile {
 public:
  explicit SecretFile(const std::string& text) {
    const int fd = mkstemp(path_);
    if (fd >= 0) close(fd);
    write(text);
  }
  ~SecretFile() { unlink(path_); }
  void write(const std::string& text) const { std::ofstream(path_, std::ios::trunc) << text; }
  std::string path() const { return path_; }

 private:
  char path_[40] = "/tmp/srtfwd-test-secret-XXXXXX";
};

TEST_F(SrtProxyTest, ASharedSecretLetsAnotherHostTakeTheConclusion) {
  SecretFile file("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
  constexpr uint64_t kWall = 1'700'000'000;
  // Host A and host B: their TSCs are far apart (booted at other times);
  // the wall clock is the one they share.
  env.clock = env.tsc_hz() * 1000;
  proxy().use_cookie_secret_file(file.path(), kWall, env.clock);
  fake::Env env_b;
  env_b.opt = env.opt;
  env_b.addresses = {kVip};
  env_b.clock = env_b.tsc_hz() * 987654;
  fake::Balancer balancer_b;
  SrtProxy host_b(env_b, balancer_b);
  env_b.proxy = &host_b;
  host_b.use_cookie_secret_file(file.path(), kWall, env_b.clock);
  auto to_b = [&](const srt::Handshake& hs, uint16_t port) {
    const auto bytes = srt::serialize(hs);
    net::FrameInfo fi;
    fi.ip_version = 4;
    fi.src = kCaller;
    fi.dst = kVip;
    fi.sport = port;
    fi.dport = kListen;
    fi.payload_len = static_cast<uint16_t>(bytes.size());
    host_b.on_datagram(fi, kCallerMac, kCallerPortId, bytes, env_b.clock);
  };

  // INDUCTION at A, CONCLUSION at B a second later: B goes on to the origin.
  const uint32_t cookie = cookie_for();
  advance(env.tsc_hz());
  env_b.clock += env_b.tsc_hz();
  to_b(conclusion(cookie), kCallerPort);
  EXPECT_EQ(host_b.counters().conclusions.get(), 1u);
  EXPECT_EQ(host_b.counters().bad_cookie.get(), 0u);

  // B rotates (file rewritten, SIGHUP): A's cookies of before still verify
  // on B for one cookie lifetime, not after.
  const uint32_t before = cookie_for(kCallerPort + 1, kSocket + 1);
  file.write("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n");
  EXPECT_TRUE(host_b.reload_cookie_secret(env_b.clock));
  EXPECT_EQ(host_b.counters().cookie_secret_rotations.get(), 1u);
  to_b(conclusion(before, kPublish, kSocket + 1), kCallerPort + 1);
  EXPECT_EQ(host_b.counters().conclusions.get(), 2u);
  // Two buckets on, a fresh cookie of A (which has not rotated) is refused:
  // B has forgotten the old secret.
  advance(env.tsc_hz() * 2 * 60);
  env_b.clock += env_b.tsc_hz() * 2 * 60;
  const uint32_t late = cookie_for(kCallerPort + 2, kSocket + 2);
  to_b(conclusion(late, kPublish, kSocket + 2), kCallerPort + 2);
  EXPECT_EQ(host_b.counters().bad_cookie.get(), 1u);

  // A bad file on SIGHUP: the running secret stays, counted.
  file.write("0011\n");
  EXPECT_FALSE(host_b.reload_cookie_secret(env_b.clock));
  EXPECT_EQ(host_b.counters().cookie_secret_failures.get(), 1u);
  EXPECT_EQ(host_b.counters().cookie_secret_rotations.get(), 1u);

  // Without a file, a reload does nothing; with a bad one, start-up refuses.
  fake::Env env_c;
  env_c.opt = env.opt;
  env_c.addresses = {kVip};
  fake::Balancer balancer_c;
  SrtProxy host_c(env_c, balancer_c);
  EXPECT_FALSE(host_c.reload_cookie_secret(env_c.clock));
  EXPECT_EQ(host_c.counters().cookie_secret_failures.get(), 0u);
  try {
    host_c.use_cookie_secret_file(file.path(), kWall, env_c.clock);
    ADD_FAILURE() << "a short secret was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("srt.cookie_secret_file: " + file.path(), 0), 0u)
        << e.what();
  }
}

// ---- every rejection srtfwd sends ----

TEST_F(SrtProxyTest, NoStreamIdIs1400WithoutADefault) {
  env.opt.default_streamid = "";
  caller_concludes(std::nullopt);
  expect_rejected(srt::kRejXBadRequest, "bad_request");
  EXPECT_TRUE(balancer.picked.empty());
  EXPECT_EQ(proxy().tracked(), 0u);  // stateless
}

// As SRS: a caller without a stream ID is routed as [srt] default_streamid
// (SRS's own default, a publisher of live/livestream).
TEST_F(SrtProxyTest, NoStreamIdTakesTheDefault) {
  caller_concludes(std::nullopt);
  ASSERT_EQ(balancer.picked.size(), 1u);
  EXPECT_EQ(balancer.picked[0], "__defaultVhost__/live/livestream");
  ASSERT_EQ(balancer.held.size(), 1u);
  EXPECT_EQ(balancer.held[0].mode, srt::Mode::Publish);
  EXPECT_EQ(counters().rejected_total(), 0u);
}

TEST_F(SrtProxyTest, UnparsableStreamIdIs1400) {
  caller_concludes("#!::m=publish");  // no resource
  expect_rejected(srt::kRejXBadRequest, "bad_request");
  EXPECT_TRUE(balancer.picked.empty());
}

TEST_F(SrtProxyTest, HsV4CallerIs8) {
  srt::Handshake c = conclusion(cookie_for());
  c.version = srt::kHandshakeVersion4;
  c.extension_field = 2;
  c.extensions.clear();
  from_caller(c);
  expect_rejected(srt::kRejVersion, "version");
  EXPECT_TRUE(balancer.picked.empty());
}

TEST_F(SrtProxyTest, RendezvousIs1405) {
  for (uint32_t type : {srt::HandshakeType::kWaveahand, srt::HandshakeType::kAgreement,
                        srt::HandshakeType::kDone}) {
    env.sent.clear();
    srt::Handshake hs = conclusion(0);  // no cookie needed to be told no
    hs.type = type;
    from_caller(hs);
    ASSERT_EQ(rejection_to_caller(), srt::kRejXBadMode) << type;
  }
  EXPECT_EQ(counters().rejected_for(label_of("bad_mode")).get(), 3u);
  EXPECT_TRUE(balancer.picked.empty());
}

TEST_F(SrtProxyTest, GroupMemberIs15) {
  srt::Handshake c = conclusion(cookie_for());
  c.extensions.push_back(srt::Extension{srt::kExtGroup, {0, 0, 0, 1, 0, 0, 0, 0}});
  from_caller(c);
  expect_rejected(srt::kRejGroup, "group");
  EXPECT_TRUE(balancer.picked.empty());
}

TEST_F(SrtProxyTest, DrainingIs1503) {
  proxy().set_draining(true);
  caller_concludes();
  expect_rejected(srt::kRejXDown, "down");
  EXPECT_TRUE(balancer.picked.empty());
  proxy().set_draining(false);
  caller_concludes(kPublish, kCallerPort + 1, kSocket + 1);
  EXPECT_EQ(balancer.picked.size(), 1u);
}

TEST_F(SrtProxyTest, TooManyHandshakesIs1402) {
  env.opt.max_handshakes = 2;
  caller_concludes(kPublish, kCallerPort, kSocket);  // both wait for the balancer
  caller_concludes(kPublish, kCallerPort + 1, kSocket + 1);
  EXPECT_EQ(proxy().in_flight(), 2u);
  caller_concludes(kPublish, kCallerPort + 2, kSocket + 2);
  EXPECT_EQ(rejection_to_caller(), srt::kRejXOverload);
  EXPECT_EQ(env.sent.back().dport, kCallerPort + 2);
  EXPECT_EQ(counters().rejected_for(label_of("overload")).get(), 1u);
  EXPECT_EQ(balancer.picked.size(), 2u);
  // One done: room again.
  balancer.answer(failed_pick(srt::kRejXNotFound));
  caller_concludes(kPublish, kCallerPort + 3, kSocket + 3);
  EXPECT_EQ(balancer.picked.size(), 3u);
}

TEST_F(SrtProxyTest, UnknownStreamIs1404) {
  // What the balancer answers for a player of an unknown stream under
  // unknown_stream_players = "reject".
  balancer.answer_now = failed_pick(srt::kRejXNotFound);
  caller_concludes("#!::r=live/nobody,m=request");
  expect_rejected(srt::kRejXNotFound, "not_found");
  EXPECT_EQ(balancer.picked, std::vector<std::string>{"__defaultVhost__/live/nobody"});
  EXPECT_EQ(proxy().in_flight(), 0u);
  EXPECT_EQ(proxy().legs_in_use(), 0u);
}

TEST_F(SrtProxyTest, BalancerDownIs1503) {
  balancer.answer_now = failed_pick(srt::kRejXDown);
  caller_concludes();
  expect_rejected(srt::kRejXDown, "down");
}

TEST_F(SrtProxyTest, BalancerThatNeverAnswersIs1503AfterItsDeadline) {
  caller_concludes();
  env.sent.clear();
  advance(ms(env.opt.backend_timeout_ms + 500) - 1);
  tick();
  EXPECT_TRUE(env.sent.empty());
  EXPECT_EQ(proxy().in_flight(), 1u);
  advance(1);
  tick();
  expect_rejected(srt::kRejXDown, "down");
  EXPECT_EQ(proxy().in_flight(), 0u);
  // Its late answer changes nothing.
  env.sent.clear();
  balancer.answer(ok_pick());
  EXPECT_TRUE(env.sent.empty());
  EXPECT_EQ(proxy().legs_in_use(), 0u);
}

TEST_F(SrtProxyTest, NoRouteToTheOriginIs1502) {
  env.unroutable = {kOrigin};
  balancer.answer_now = ok_pick(9);
  caller_concludes();
  expect_rejected(srt::kRejXGw, "no_route");
  EXPECT_EQ(counters().rejected_for(label_of("gateway")).get(), 0u);
  EXPECT_EQ(sent_to(kOrigin), 0u);
  ASSERT_EQ(balancer.unclaims.size(), 1u);  // the claim on an origin we cannot reach goes
  EXPECT_EQ(balancer.unclaims[0].claim, 9u);
}

// An IPv6 origin and no IPv6 address of ours: refused before the origin
// hears of the caller, with 1502 (never 1402, which would say "try later").
TEST_F(SrtProxyTest, NoAddressOfTheOriginsFamilyIs1502BeforeContact) {
  Pick p = ok_pick(4);
  p.ip = *IpAddr::parse("2001:2:0:1::5");
  balancer.answer_now = p;
  caller_concludes();
  expect_rejected(srt::kRejXGw, "no_route");
  EXPECT_EQ(counters().rejected_for(label_of("overload")).get(), 0u);
  EXPECT_EQ(sent_to(p.ip), 0u);
  EXPECT_EQ(proxy().legs_in_use(), 0u);
  ASSERT_EQ(balancer.unclaims.size(), 1u);
}

TEST_F(SrtProxyTest, NoFreeLegPortIs1402) {
  env.opt.leg_port_min = env.opt.leg_port_max = 20000;
  balancer.answer_now = ok_pick(3);
  caller_concludes(kPublish, kCallerPort, kSocket);
  EXPECT_EQ(proxy().legs_in_use(), 1u);
  EXPECT_EQ(sent_to(kOrigin), 1u);
  caller_concludes(kPublish, kCallerPort + 1, kSocket + 1);
  EXPECT_EQ(rejection_to_caller(), srt::kRejXOverload);
  EXPECT_EQ(counters().rejected_for(label_of("overload")).get(), 1u);
  EXPECT_EQ(sent_to(kOrigin), 1u);
  EXPECT_EQ(balancer.unclaims.size(), 1u);
}

TEST_F(SrtProxyTest, NoLegAddressOfTheOriginsFamilyIs1402) {
  // A route whose source is not one of our leg addresses: no leg port.
  env.addresses = {kVip, IpAddr::from_v4_host(0xC6120002)};
  proxy();                                             // leg ports on both
  env.addresses = {IpAddr::from_v4_host(0xC6120003)};  // now routes from an unknown one
  balancer.answer_now = ok_pick();
  caller_concludes();
  expect_rejected(srt::kRejXOverload, "overload");
}

TEST_F(SrtProxyTest, OriginSilentIs1502AfterItsTimeout) {
  balancer.answer_now = ok_pick(11);
  caller_concludes();
  ASSERT_EQ(sent_to(kOrigin), 1u);
  advance(ms(env.opt.backend_timeout_ms) - 1);
  tick();
  EXPECT_FALSE(rejection_to_caller());
  advance(1);
  tick();
  expect_rejected(srt::kRejXGw, "gateway");
  EXPECT_EQ(proxy().legs_in_use(), 0u);
  EXPECT_EQ(proxy().in_flight(), 0u);
  ASSERT_EQ(balancer.unclaims.size(), 1u);
  EXPECT_EQ(balancer.unclaims[0].url, "__defaultVhost__/live/livestream");
  EXPECT_EQ(balancer.unclaims[0].server_key, "srs-proxy-server:origin-a");
  EXPECT_EQ(balancer.unclaims[0].claim, 11u);
}

TEST_F(SrtProxyTest, OriginsOwnRejectionIsRelayed) {
  for (uint32_t step = 0; step < 2; ++step) {  // at its INDUCTION, then at its CONCLUSION
    SCOPED_TRACE(step);
    env.sent.clear();
    balancer.unclaims.clear();
    balancer.answer_now = ok_pick(5);
    caller_concludes(kPublish, static_cast<uint16_t>(kCallerPort + step), kSocket + step);
    if (step == 1) from_origin(origin_induction_answer(last_sent()));
    srt::Handshake r = srt::make_rejection(last_sent(), srt::kRejXForbidden, {}, 0);
    from_origin(r);
    EXPECT_EQ(rejection_to_caller(), srt::kRejXForbidden);
    EXPECT_EQ(counters().backend_rejected.get(), step + 1);
    EXPECT_EQ(counters().rejected_for(label_of("backend")).get(), step + 1);
    EXPECT_EQ(proxy().legs_in_use(), 0u);
    ASSERT_EQ(balancer.unclaims.size(), 1u);
    // A second copy of the rejection is stray now.
    const size_t n = env.sent.size();
    from_origin(r);
    EXPECT_EQ(env.sent.size(), n);
  }
}

// ---- the origin leg ----

TEST_F(SrtProxyTest, OriginLegRunsInductionThenTheCallersConclusion) {
  balancer.answer_now = ok_pick();
  caller_concludes();
  const fake::Datagram* d = nullptr;
  const srt::Handshake ind = last_sent(&d);
  EXPECT_EQ(d->dst, kOrigin);
  EXPECT_EQ(d->dport, kOriginPort);
  EXPECT_EQ(d->src, kVip);
  EXPECT_GE(d->sport, env.opt.leg_port_min);
  EXPECT_LE(d->sport, env.opt.leg_port_max);
  EXPECT_FALSE(d->dst_mac);  // resolved by the control plane
  EXPECT_EQ(ind.type, srt::HandshakeType::kInduction);
  EXPECT_EQ(ind.version, srt::kHandshakeVersion4);
  EXPECT_EQ(ind.socket_id, kSocket);
  EXPECT_EQ(ind.cookie, 0u);
  EXPECT_EQ(ind.peer_ip, srt::encode_peer_ipv4({198, 19, 0, 5}));
  const uint16_t leg_port = d->sport;

  from_origin(origin_induction_answer(ind));
  const srt::Handshake c = last_sent(&d);
  EXPECT_EQ(d->dst, kOrigin);
  EXPECT_EQ(d->sport, leg_port);
  EXPECT_EQ(c.type, srt::HandshakeType::kConclusion);
  EXPECT_EQ(c.cookie, 0x0c0ffee0u);  // the origin's
  EXPECT_EQ(srt::find_stream_id(c), kPublish);
  EXPECT_EQ(c.extensions, conclusion(0).extensions);  // the caller's, byte for byte
  EXPECT_EQ(c.peer_ip, srt::encode_peer_ipv4({198, 19, 0, 5}));
  EXPECT_EQ(proxy().in_flight(), 1u);
  EXPECT_EQ(counters().established.get(), 0u);
}

TEST_F(SrtProxyTest, EstablishedSessionIsInstalledAndTheCallerAnswered) {
  balancer.answer_now = ok_pick();
  const uint32_t cookie = cookie_for();
  from_caller(conclusion(cookie));
  const fake::Datagram* d = nullptr;
  last_sent(&d);
  const uint16_t leg_port = d->sport;
  from_origin(origin_induction_answer(last_sent()));
  from_origin(origin_conclusion_answer(last_sent()));

  ASSERT_EQ(env.installed.size(), 1u);
  const SessionRequest& r = env.installed[0];
  EXPECT_EQ(r.caller_ip, kCaller);
  EXPECT_EQ(r.caller_udp, kCallerPort);
  EXPECT_EQ(r.vip, kVip);
  EXPECT_EQ(r.vip_udp, kListen);
  EXPECT_EQ(r.caller_mac, kCallerMac);
  EXPECT_EQ(r.caller_port_id, kCallerPortId);
  EXPECT_EQ(r.backend_ip, kOrigin);
  EXPECT_EQ(r.backend_udp, kOriginPort);
  EXPECT_EQ(r.leg_ip, kVip);
  EXPECT_EQ(r.leg_udp, leg_port);
  EXPECT_EQ(r.backend_mac, kOriginMac);
  EXPECT_EQ(r.backend_port_id, 1u);
  EXPECT_EQ(r.caller_socket_id, kSocket);
  EXPECT_EQ(r.backend_socket_id, 0x0bac0bacu);

  const srt::Handshake answer = last_sent(&d);
  EXPECT_EQ(d->dst, kCaller);
  EXPECT_EQ(d->src, kVip);
  EXPECT_EQ(d->sport, kListen);
  EXPECT_EQ(answer.type, srt::HandshakeType::kConclusion);
  EXPECT_EQ(answer.cookie, cookie);  // ours, not the origin's
  EXPECT_EQ(answer.socket_id, 0x0bac0bacu);
  EXPECT_EQ(answer.dest_socket_id, kSocket);
  EXPECT_EQ(answer.peer_ip, srt::encode_peer_ipv4({198, 18, 10, 2}));
  ASSERT_NE(answer.find_extension(srt::kExtHsRsp), nullptr);
  EXPECT_EQ(counters().established.get(), 1u);
  EXPECT_EQ(proxy().in_flight(), 0u);
  EXPECT_EQ(proxy().legs_in_use(), 1u);
  EXPECT_EQ(counters().rejected_total(), 0u);
}

TEST_F(SrtProxyTest, OriginIsRetriedEveryBackendRetryMs) {
  env.opt.backend_retry_ms = 100;
  env.opt.backend_timeout_ms = 1000;
  balancer.answer_now = ok_pick();
  caller_concludes();
  ASSERT_EQ(sent_to(kOrigin), 1u);
  advance(ms(100) - 1);
  tick();
  EXPECT_EQ(sent_to(kOrigin), 1u);
  advance(1);
  tick();
  ASSERT_EQ(sent_to(kOrigin), 2u);
  EXPECT_EQ(last_sent().type, srt::HandshakeType::kInduction);
  advance(ms(100));
  tick();
  EXPECT_EQ(sent_to(kOrigin), 3u);
  EXPECT_EQ(counters().backend_retries.get(), 2u);
  // In the CONCLUSION step the CONCLUSION is retried.
  from_origin(origin_induction_answer(last_sent()));
  ASSERT_EQ(sent_to(kOrigin), 4u);
  advance(ms(100));
  tick();
  ASSERT_EQ(sent_to(kOrigin), 5u);
  EXPECT_EQ(last_sent().type, srt::HandshakeType::kConclusion);
  EXPECT_EQ(last_sent().cookie, 0x0c0ffee0u);
  EXPECT_EQ(counters().backend_retries.get(), 3u);
  // The timeout counts from the pick, not from each step.
  advance(ms(1000 - 300) - 1);
  tick();
  EXPECT_FALSE(rejection_to_caller());
  advance(1);
  tick();
  EXPECT_EQ(rejection_to_caller(), srt::kRejXGw);
}

TEST_F(SrtProxyTest, RetransmittedConclusionCarriesTheCallersClockAged) {
  // The CONCLUSION toward the origin carries the caller's timestamp plus the
  // time since it arrived (the origin's TSBPD base depends on it).
  balancer.answer_now = ok_pick();
  caller_concludes();  // caller timestamp 2000 us
  advance(ms(3));
  from_origin(origin_induction_answer(last_sent()));
  EXPECT_EQ(last_sent().timestamp, 2000u + 3000u);
}

TEST_F(SrtProxyTest, StrayOriginPacketsAreCountedNotUsed) {
  balancer.answer_now = ok_pick();
  caller_concludes();
  const fake::Datagram* d = nullptr;
  const srt::Handshake ind = last_sent(&d);
  const uint16_t leg_port = d->sport;
  // From another port of the origin: not the leg's peer.
  deliver(kOrigin, kOriginPort + 1, kVip, leg_port, kOriginMac, origin_induction_answer(ind));
  // To a leg port nobody uses.
  deliver(kOrigin, kOriginPort, kVip, leg_port + 1, kOriginMac, origin_induction_answer(ind));
  // A CONCLUSION before the cookie exchange.
  from_origin(origin_conclusion_answer(ind));
  EXPECT_EQ(counters().stray_backend.get(), 3u);
  EXPECT_EQ(sent_to(kOrigin), 1u);
  EXPECT_TRUE(env.installed.empty());
}

// ---- the caller's retransmissions ----

TEST_F(SrtProxyTest, RetransmittedConclusionGetsTheCachedAnswerAndNoSecondSession) {
  env.opt.backend_retry_ms = 1000;
  balancer.answer_now = ok_pick();
  const uint32_t cookie = cookie_for();
  from_caller(conclusion(cookie));
  // While the origin handshake runs: ignored.
  from_caller(conclusion(cookie));
  EXPECT_EQ(counters().in_progress_ignored.get(), 1u);
  EXPECT_EQ(sent_to(kOrigin), 1u);
  from_origin(origin_induction_answer(last_sent()));
  from_origin(origin_conclusion_answer(last_sent()));
  const srt::Handshake first = last_sent();
  advance(ms(250));
  from_caller(conclusion(cookie));
  const srt::Handshake again = last_sent();
  EXPECT_EQ(counters().cached_answers.get(), 1u);
  EXPECT_EQ(balancer.picked.size(), 1u);
  EXPECT_EQ(env.installed.size(), 1u);
  EXPECT_EQ(sent_to(kOrigin), 2u);
  // The same answer, its timestamp (the origin's clock) aged by the wait.
  EXPECT_EQ(again.timestamp, first.timestamp + 250000u);
  srt::Handshake same = again;
  same.timestamp = first.timestamp;
  EXPECT_EQ(same, first);
}

TEST_F(SrtProxyTest, RetransmittedConclusionAfterARejectionGetsItAgainUntilForgotten) {
  balancer.answer_now = failed_pick(srt::kRejXNotFound);
  const uint32_t cookie = cookie_for();
  from_caller(conclusion(cookie));
  EXPECT_EQ(rejection_to_caller(), srt::kRejXNotFound);
  env.sent.clear();
  from_caller(conclusion(cookie));
  EXPECT_EQ(rejection_to_caller(), srt::kRejXNotFound);
  EXPECT_EQ(counters().cached_answers.get(), 1u);
  EXPECT_EQ(balancer.picked.size(), 1u);
  EXPECT_EQ(proxy().tracked(), 1u);
  advance(ms(5000) - 1);
  tick();
  EXPECT_EQ(proxy().tracked(), 1u);
  advance(1);
  tick();
  EXPECT_EQ(proxy().tracked(), 0u);
  // Then the caller is a new one.
  balancer.answer_now = ok_pick();
  from_caller(conclusion(cookie_for()));
  EXPECT_EQ(balancer.picked.size(), 2u);
}

// ---- installs ----

TEST_F(SrtProxyTest, InstallThatCompletesLateIsStillAnswered) {
  // kInstalling has no deadline: the control plane always calls back, and a
  // rejection meanwhile would free the leg of a session about to go live.
  env.hold_installs = true;
  balancer.answer_now = ok_pick(4);
  caller_concludes();
  from_origin(origin_induction_answer(last_sent()));
  from_origin(origin_conclusion_answer(last_sent()));
  ASSERT_EQ(env.held.size(), 1u);
  const size_t n = env.sent.size();
  advance(ms(env.opt.backend_timeout_ms + 10000));
  tick();
  from_caller(conclusion(cookie_for()));  // while installing: ignored
  EXPECT_EQ(counters().in_progress_ignored.get(), 1u);
  EXPECT_EQ(env.sent.size(), n + 1);  // only the INDUCTION answer
  EXPECT_EQ(counters().rejected_total(), 0u);
  EXPECT_EQ(proxy().legs_in_use(), 1u);
  env.complete_held();
  EXPECT_EQ(last_sent().type, srt::HandshakeType::kConclusion);
  EXPECT_EQ(env.sent.back().dst, kCaller);
  EXPECT_EQ(counters().established.get(), 1u);
  EXPECT_TRUE(env.ended.empty());
  EXPECT_TRUE(balancer.unclaims.empty());
}

TEST_F(SrtProxyTest, InstallThatFailsIs1402AndUndoesTheClaim) {
  env.fail_installs = InstallStatus::kUnresolved;
  establish(21);
  expect_rejected(srt::kRejXOverload, "overload");
  EXPECT_EQ(proxy().legs_in_use(), 0u);
  ASSERT_EQ(balancer.unclaims.size(), 1u);
  EXPECT_EQ(balancer.unclaims[0].claim, 21u);
}

TEST_F(SrtProxyTest, StaleInstallCallbackEndsItsSession) {
  // The attempt is gone (its session ended and a new attempt of the same
  // caller socket took its place) when an old install completes: the session
  // that install made must not live on.
  env.hold_installs = true;
  balancer.answer_now = ok_pick();
  caller_concludes();
  from_origin(origin_induction_answer(last_sent()));
  from_origin(origin_conclusion_answer(last_sent()));
  ASSERT_EQ(env.held.size(), 1u);
  // Grab the pending install, then let a second one of the same attempt
  // finish first: the attempt is established, then its session ends.
  auto stale = std::move(env.held.front());
  env.held.pop_front();
  stale.done(42, InstallStatus::kInstalled);  // the first completion: established
  EXPECT_EQ(counters().established.get(), 1u);
  proxy().on_session_end(kCaller, kCallerPort, kSocket, stale.req.leg_ip, stale.req.leg_udp);
  EXPECT_EQ(proxy().tracked(), 0u);
  EXPECT_EQ(proxy().legs_in_use(), 0u);
  // The same caller socket comes again.
  caller_concludes();
  from_origin(origin_induction_answer(last_sent()));
  from_origin(origin_conclusion_answer(last_sent()));
  ASSERT_EQ(env.held.size(), 1u);
  // A late callback of the old attempt (e.g. a retried install) installs a
  // session: it is ended at once, and the new attempt is untouched.
  const size_t n = env.sent.size();
  stale.done(43, InstallStatus::kInstalled);
  EXPECT_EQ(env.ended, std::vector<uint32_t>{43});
  EXPECT_EQ(env.sent.size(), n);
  EXPECT_EQ(proxy().in_flight(), 1u);
  env.complete_held();
  EXPECT_EQ(counters().established.get(), 2u);
  EXPECT_EQ(env.ended, std::vector<uint32_t>{43});
}

// ---- sessions ending ----

TEST_F(SrtProxyTest, SessionEndForgetsItsAttemptAndFreesTheLeg) {
  establish();
  const SessionRequest r = env.installed.at(0);
  // A session of another leg (an older attempt's) leaves this one alone.
  proxy().on_session_end(kCaller, kCallerPort, kSocket, r.leg_ip,
                         static_cast<uint16_t>(r.leg_udp + 1));
  EXPECT_EQ(proxy().tracked(), 1u);
  proxy().on_session_end(kCaller, kCallerPort, kSocket, r.leg_ip, r.leg_udp);
  EXPECT_EQ(proxy().tracked(), 0u);
  EXPECT_EQ(proxy().legs_in_use(), 0u);
  EXPECT_TRUE(balancer.unclaims.empty());  // the mapping outlives a session
}

// The admin API's view of a session: its stream, mode and origin, kept
// while the session lives and gone with it.
TEST_F(SrtProxyTest, SessionStreamKnownWhileTheSessionLives) {
  establish();
  ASSERT_EQ(env.live.size(), 1u);
  const uint32_t index = env.live[0];
  const auto ss = proxy().session_stream(index);
  ASSERT_TRUE(ss.has_value());
  EXPECT_EQ(ss->session, index);
  EXPECT_EQ(ss->url, "__defaultVhost__/live/livestream");
  EXPECT_EQ(ss->mode, srt::Mode::Publish);
  EXPECT_EQ(ss->server_key, "srs-proxy-server:origin-a");
  EXPECT_FALSE(proxy().session_stream(index + 1).has_value());
  const auto all = proxy().session_streams();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].url, ss->url);
  const SessionRequest r = env.installed.at(0);
  proxy().on_session_end(kCaller, kCallerPort, kSocket, r.leg_ip, r.leg_udp);
  EXPECT_FALSE(proxy().session_stream(index).has_value());
  EXPECT_TRUE(proxy().session_streams().empty());
}

TEST_F(SrtProxyTest, NewSocketOnTheSameCallerPortEndsTheOldSession) {
  establish();
  EXPECT_TRUE(env.ended_callers.empty());
  caller_concludes(kPublish, kCallerPort, kSocket + 1);
  ASSERT_EQ(env.ended_callers.size(), 1u);
  EXPECT_EQ(env.ended_callers[0].first, kCaller);
  EXPECT_EQ(env.ended_callers[0].second, kCallerPort);
  EXPECT_EQ(balancer.picked.size(), 2u);
}

TEST_F(SrtProxyTest, LegPortsAreReusedAsLateAsPossible) {
  env.opt.leg_port_min = 20000;
  env.opt.leg_port_max = 20001;
  balancer.answer_now = ok_pick();
  caller_concludes(kPublish, kCallerPort, kSocket);
  EXPECT_EQ(env.sent.back().sport, 20000);
  advance(ms(env.opt.backend_timeout_ms));
  tick();  // 1502, port 20000 back at the end of the queue
  caller_concludes(kPublish, kCallerPort + 1, kSocket + 1);
  EXPECT_EQ(env.sent.back().sport, 20001);
}

// ---- claims ----

TEST_F(SrtProxyTest, ClaimIsKeptWhenTheLegSucceeds) {
  establish(17);
  EXPECT_EQ(counters().established.get(), 1u);
  EXPECT_TRUE(balancer.unclaims.empty());
  // Nor undone by the session's end.
  const SessionRequest r = env.installed.at(0);
  proxy().on_session_end(kCaller, kCallerPort, kSocket, r.leg_ip, r.leg_udp);
  EXPECT_TRUE(balancer.unclaims.empty());
}

TEST_F(SrtProxyTest, PickWithoutAClaimIsNotUndone) {
  balancer.answer_now = ok_pick(0);
  caller_concludes();
  advance(ms(env.opt.backend_timeout_ms));
  tick();
  EXPECT_EQ(rejection_to_caller(), srt::kRejXGw);
  EXPECT_TRUE(balancer.unclaims.empty());
}

// ---- the tick ----

TEST_F(SrtProxyTest, TickPollsTheBalancerAndPublishesLevels) {
  env.opt.leg_port_min = 20000;
  env.opt.leg_port_max = 20009;
  balancer.answer_now = ok_pick();
  caller_concludes(kPublish, kCallerPort, kSocket);
  balancer.answer_now.reset();
  caller_concludes(kPublish, kCallerPort + 1, kSocket + 1);
  tick();
  EXPECT_EQ(balancer.polls, 1u);
  EXPECT_EQ(counters().in_flight.get(), 2u);
  EXPECT_EQ(counters().tracked.get(), 2u);
  EXPECT_EQ(counters().legs_in_use.get(), 1u);
}

// ---- [limits]: allow and deny lists, per-source caps and INDUCTION rate ----

const IpAddr kOtherCaller = IpAddr::from_v4_host(0xC6120A03);  // 198.18.10.3

net::Prefix prefix(const char* text) {
  auto p = net::Prefix::parse(text);
  EXPECT_TRUE(p.has_value()) << text;
  return p.value_or(net::Prefix{});
}

TEST_F(SrtProxyTest, DeniedSourceIs1403AtInductionAndAtConclusion) {
  const uint32_t cookie = cookie_for();  // before the deny list: a valid cookie
  env.opt.limits.deny = {prefix("198.18.10.0/24")};
  env.sent.clear();
  from_caller(induction());
  expect_rejected(srt::kRejXForbidden, "source_denied");
  EXPECT_EQ(counters().inductions.get(), 1u);  // only the one before
  // Its CONCLUSION, under a cookie it had, is refused as well, before any pick.
  from_caller(conclusion(cookie));
  EXPECT_EQ(rejection_to_caller(), srt::kRejXForbidden);
  EXPECT_EQ(counters().rejected_for(label_of("source_denied")).get(), 2u);
  EXPECT_TRUE(balancer.picked.empty());
  EXPECT_EQ(proxy().tracked(), 0u);
}

TEST_F(SrtProxyTest, AllowListAdmitsOnlyItsPrefixesAndDenyWins) {
  env.opt.limits.allow = {prefix("198.18.10.2/32"), prefix("2001:2::/48")};
  env.opt.limits.deny = {prefix("2001:2:0:9::/64")};
  from_caller(induction());
  EXPECT_EQ(last_sent().type, srt::HandshakeType::kInduction);
  deliver(kOtherCaller, kCallerPort, kVip, kListen, kCallerMac, induction());
  EXPECT_EQ(env.sent.back().dst, kOtherCaller);
  EXPECT_EQ(srt::reject_reason_for_handshake_type(last_sent().type), srt::kRejXForbidden);
  const IpAddr v6_ok = *IpAddr::parse("2001:2:0:1::7"), v6_denied = *IpAddr::parse("2001:2:0:9::7");
  const IpAddr vip6 = *IpAddr::parse("2001:2::1");
  env.addresses.push_back(vip6);
  deliver(v6_ok, kCallerPort, vip6, kListen, kCallerMac, induction());
  EXPECT_EQ(last_sent().type, srt::HandshakeType::kInduction);
  deliver(v6_denied, kCallerPort, vip6, kListen, kCallerMac, induction());
  EXPECT_EQ(srt::reject_reason_for_handshake_type(last_sent().type), srt::kRejXForbidden);
  EXPECT_EQ(counters().inductions.get(), 2u);
  EXPECT_EQ(counters().rejected_for(label_of("source_denied")).get(), 2u);
}

TEST_F(SrtProxyTest, InductionsOverTheSourceRateAreDroppedAndCounted) {
  env.opt.limits.inductions_per_source_s = 3;
  for (int i = 0; i < 3; ++i) from_caller(induction());
  EXPECT_EQ(env.sent.size(), 3u);
  from_caller(induction());
  from_caller(induction(), kCallerPort + 1);  // the source, not the socket, is limited
  EXPECT_EQ(env.sent.size(), 3u);
  EXPECT_EQ(counters().dropped_inductions.get(), 2u);
  EXPECT_EQ(counters().rejected_total(), 0u);  // no answer at all
  // Another source has its own bucket.
  deliver(kOtherCaller, kCallerPort, kVip, kListen, kCallerMac, induction());
  EXPECT_EQ(env.sent.size(), 4u);
  // A third of a second refills one.
  advance(env.tsc_hz() / 3 + 1);
  from_caller(induction());
  EXPECT_EQ(env.sent.size(), 5u);
  from_caller(induction());
  EXPECT_EQ(env.sent.size(), 5u);
  EXPECT_EQ(counters().dropped_inductions.get(), 3u);
  EXPECT_EQ(counters().inductions.get(), 5u);
}

TEST_F(SrtProxyTest, SourceOverItsHandshakeCapIs1402) {
  env.opt.limits.max_handshakes_per_source = 1;
  const uint32_t second_cookie = cookie_for(kCallerPort + 1, kSocket + 1);
  caller_concludes(kPublish, kCallerPort, kSocket);  // waits for the balancer
  EXPECT_EQ(proxy().in_flight(), 1u);
  // A new INDUCTION from the source is refused at once...
  env.sent.clear();
  from_caller(induction(kSocket + 2), kCallerPort + 2);
  EXPECT_EQ(rejection_to_caller(), srt::kRejXOverload);
  // ... and a CONCLUSION under a cookie it already had as well.
  from_caller(conclusion(second_cookie, kPublish, kSocket + 1), kCallerPort + 1);
  EXPECT_EQ(rejection_to_caller(), srt::kRejXOverload);
  EXPECT_EQ(counters().rejected_for(label_of("source_handshakes")).get(), 2u);
  EXPECT_EQ(balancer.picked.size(), 1u);
  // Another source is not held back.
  deliver(kOtherCaller, kCallerPort, kVip, kListen, kCallerMac, induction());
  EXPECT_EQ(last_sent().type, srt::HandshakeType::kInduction);
  // Its handshake over (refused by the balancer here): room again.
  balancer.answer(failed_pick(srt::kRejXNotFound));
  caller_concludes(kPublish, kCallerPort + 3, kSocket + 3);
  EXPECT_EQ(balancer.picked.size(), 2u);
}

TEST_F(SrtProxyTest, SourceOverItsSessionCapIs1402UntilOneEnds) {
  env.opt.limits.max_sessions_per_source = 1;
  env.opt.limits.max_handshakes_per_source = 1;
  establish();
  ASSERT_EQ(env.live.size(), 1u);
  // An established session is no handshake in flight any more...
  env.sent.clear();
  from_caller(induction(kSocket + 1), kCallerPort + 1);
  EXPECT_EQ(last_sent().type, srt::HandshakeType::kInduction);
  // ... but it is the source's one session.
  caller_concludes(kPublish, kCallerPort + 1, kSocket + 1);
  EXPECT_EQ(rejection_to_caller(), srt::kRejXOverload);
  EXPECT_EQ(counters().rejected_for(label_of("source_sessions")).get(), 1u);
  EXPECT_EQ(balancer.picked.size(), 1u);
  // The session ends: the source may open another.
  env.end_session(env.live.front(), EndReason::kIdle);
  caller_concludes(kPublish, kCallerPort + 2, kSocket + 2);
  EXPECT_EQ(balancer.picked.size(), 2u);
  EXPECT_EQ(counters().rejected_for(label_of("source_sessions")).get(), 1u);
}

TEST(SourceLimits, SlotsAreBoundedAndAnIpv6SourceIsItsSlash64) {
  LimitsOptions o;
  o.max_sessions_per_source = 1;
  o.source_slots = 8;
  SourceLimits l(o, 1'000'000'000);
  ASSERT_TRUE(l.per_source());
  for (uint32_t i = 0; i < 1000; ++i) EXPECT_LT(l.slot(IpAddr::from_v4_host(0xC6120000 + i)), 8u);
  EXPECT_EQ(l.slot(*IpAddr::parse("2001:2:0:1::1")), l.slot(*IpAddr::parse("2001:2:0:1:ffff::2")));
  // Nothing per source configured: no table at all.
  const LimitsOptions unset;  // SourceLimits keeps a reference to its options
  SourceLimits none(unset, 1'000'000'000);
  EXPECT_FALSE(none.per_source());
  EXPECT_TRUE(none.permitted(kCaller));
}

// ---- [hooks]: on_publish / on_play asked before any origin is contacted ----

class HookTest : public SrtProxyTest {
 protected:
  HookTest() {
    env.opt.hooks.on_publish = "http://127.0.0.1:8085/api/v1/publish";
    env.opt.hooks.on_play = "http://127.0.0.1:8085/api/v1/play";
    env.opt.hooks.server_id = "edge-1";
    balancer.answer_now = ok_pick();
  }
  // The caller concludes; its hook call is held.
  void caller_waits_for_hook(const std::string& sid = kPublish) {
    caller_concludes(sid);
    ASSERT_EQ(env.hooks.size(), 1u);
    EXPECT_TRUE(balancer.picked.empty());
    EXPECT_EQ(sent_to(kOrigin), 0u);
  }
};

TEST_F(HookTest, AllowedPublisherGoesToTheOriginAfterTheHook) {
  caller_waits_for_hook();
  EXPECT_EQ(env.hook_calls[0].url, "http://127.0.0.1:8085/api/v1/publish");
  EXPECT_EQ(proxy().in_flight(), 1u);
  // Its retransmitted CONCLUSION starts no second call and no origin handshake.
  from_caller(conclusion(cookie_for()));
  EXPECT_EQ(env.hook_calls.size(), 1u);
  EXPECT_EQ(counters().in_progress_ignored.get(), 1u);
  EXPECT_EQ(sent_to(kOrigin), 0u);
  env.answer_hook(HookVerdict::kAllowed);
  EXPECT_EQ(balancer.picked.size(), 1u);
  EXPECT_EQ(sent_to(kOrigin), 1u);  // the origin INDUCTION
  EXPECT_EQ(counters().hook_calls.get(), 1u);
  EXPECT_EQ(counters().hook_allowed.get(), 1u);
  from_origin(origin_induction_answer(last_sent()));
  from_origin(origin_conclusion_answer(last_sent()));
  EXPECT_EQ(counters().established.get(), 1u);
  EXPECT_EQ(counters().rejected_total(), 0u);
}

TEST_F(HookTest, TheBodyCarriesSrsFields) {
  caller_waits_for_hook("#!::h=example.com,r=live/cam1?token=abc,m=request");
  const auto j = nlohmann::json::parse(env.hook_calls[0].body);
  EXPECT_EQ(env.hook_calls[0].url, "http://127.0.0.1:8085/api/v1/play");
  EXPECT_EQ(j["action"], "on_play");
  EXPECT_EQ(j["ip"], "198.18.10.2");
  EXPECT_EQ(j["vhost"], "example.com");
  EXPECT_EQ(j["app"], "live");
  EXPECT_EQ(j["stream"], "cam1");
  EXPECT_EQ(j["param"], "?vhost=example.com&token=abc");  // as SRS builds it
  EXPECT_EQ(j["stream_url"], "example.com/live/cam1");
  EXPECT_EQ(j["stream_id"], "#!::h=example.com,r=live/cam1?token=abc,m=request");
  EXPECT_EQ(j["server_id"], "edge-1");
  EXPECT_EQ(j["tcUrl"], "srt://example.com/live");
  EXPECT_TRUE(j.contains("pageUrl"));
  EXPECT_FALSE(j["client_id"].get<std::string>().empty());
}

TEST_F(HookTest, PublisherBodyOnTheDefaultVhost) {
  caller_waits_for_hook();
  const auto j = nlohmann::json::parse(env.hook_calls[0].body);
  EXPECT_EQ(j["action"], "on_publish");
  EXPECT_EQ(j["vhost"], "__defaultVhost__");
  EXPECT_EQ(j["stream_url"], "/live/livestream");
  EXPECT_EQ(j["param"], "");
  EXPECT_FALSE(j.contains("pageUrl"));
}

TEST_F(HookTest, DeniedIs1403AndTheOriginNeverHearsOfIt) {
  caller_waits_for_hook();
  env.answer_hook(HookVerdict::kDenied);
  expect_rejected(srt::kRejXForbidden, "forbidden");
  EXPECT_EQ(counters().hook_denied.get(), 1u);
  EXPECT_TRUE(balancer.picked.empty());
  EXPECT_EQ(sent_to(kOrigin), 0u);
  EXPECT_EQ(proxy().in_flight(), 0u);
  // A retransmission gets the cached rejection, no second call.
  from_caller(conclusion(cookie_for()));
  EXPECT_EQ(rejection_to_caller(), srt::kRejXForbidden);
  EXPECT_EQ(env.hook_calls.size(), 1u);
  EXPECT_EQ(counters().cached_answers.get(), 1u);
}

TEST_F(HookTest, ErrorRejectsWith1503ByDefault) {
  caller_waits_for_hook();
  env.answer_hook(HookVerdict::kError);
  expect_rejected(srt::kRejXDown, "hook_down");
  EXPECT_EQ(counters().hook_errors.get(), 1u);
  EXPECT_TRUE(balancer.picked.empty());
}

TEST_F(HookTest, ErrorLetsTheCallerInWithOnErrorAllow) {
  env.opt.hooks.allow_on_error = true;
  caller_waits_for_hook();
  env.answer_hook(HookVerdict::kError);
  EXPECT_EQ(balancer.picked.size(), 1u);
  EXPECT_EQ(sent_to(kOrigin), 1u);
  EXPECT_EQ(counters().rejected_total(), 0u);
}

TEST_F(HookTest, TimeoutFollowsOnErrorAndTheLateAnswerIsIgnored) {
  env.opt.hooks.timeout_ms = 500;
  caller_waits_for_hook();
  advance(ms(500) - 1);
  tick();
  EXPECT_EQ(counters().rejected_total(), 0u);
  advance(1);
  tick();
  expect_rejected(srt::kRejXDown, "hook_down");
  EXPECT_EQ(counters().hook_timeouts.get(), 1u);
  // The hook answers after all: too late, nothing changes.
  env.sent.clear();
  env.answer_hook(HookVerdict::kAllowed);
  EXPECT_EQ(counters().hook_late.get(), 1u);
  EXPECT_TRUE(env.sent.empty());
  EXPECT_TRUE(balancer.picked.empty());
}

TEST_F(HookTest, TimeoutWithOnErrorAllowGoesOnAndALateDenialIsIgnored) {
  env.opt.hooks.allow_on_error = true;
  caller_waits_for_hook();
  advance(ms(env.opt.hooks.timeout_ms));
  tick();
  EXPECT_EQ(counters().hook_timeouts.get(), 1u);
  EXPECT_EQ(balancer.picked.size(), 1u);
  env.answer_hook(HookVerdict::kDenied);
  EXPECT_EQ(counters().hook_late.get(), 1u);
  EXPECT_EQ(counters().rejected_total(), 0u);
  from_origin(origin_induction_answer(last_sent()));
  from_origin(origin_conclusion_answer(last_sent()));
  EXPECT_EQ(counters().established.get(), 1u);
}

TEST_F(HookTest, AnswerAfterTheAttemptEndedIsIgnored) {
  env.opt.hooks.allow_on_error = true;
  caller_waits_for_hook();
  advance(ms(env.opt.hooks.timeout_ms));
  tick();  // let in on time-out
  from_origin(origin_induction_answer(last_sent()));
  from_origin(origin_conclusion_answer(last_sent()));
  ASSERT_EQ(env.live.size(), 1u);
  env.end_session(env.live.front(), EndReason::kIdle);  // the attempt is gone
  EXPECT_EQ(proxy().tracked(), 0u);
  env.answer_hook(HookVerdict::kDenied);
  EXPECT_EQ(counters().hook_late.get(), 1u);
  EXPECT_EQ(counters().rejected_total(), 0u);
}

TEST_F(HookTest, NoRoomForACallIs1402) {
  env.hook_room = 1;
  caller_concludes(kPublish, kCallerPort, kSocket);
  caller_concludes(kPublish, kCallerPort + 1, kSocket + 1);
  EXPECT_EQ(rejection_to_caller(), srt::kRejXOverload);
  EXPECT_EQ(counters().rejected_for(label_of("hook_busy")).get(), 1u);
  EXPECT_EQ(counters().hook_overflow.get(), 1u);
  EXPECT_EQ(counters().hook_calls.get(), 1u);
  EXPECT_EQ(proxy().in_flight(), 1u);
}

TEST_F(HookTest, AModeWithoutAHookIsNotAsked) {
  env.opt.hooks.on_play.clear();
  caller_concludes("#!::r=live/livestream,m=request");
  EXPECT_TRUE(env.hook_calls.empty());
  EXPECT_EQ(balancer.picked.size(), 1u);
}

TEST(HookAnswer, ReadAsSrsReadsIt) {
  EXPECT_EQ(read_hook_answer(200, "0"), HookVerdict::kAllowed);
  EXPECT_EQ(read_hook_answer(200, "0\n"), HookVerdict::kAllowed);
  EXPECT_EQ(read_hook_answer(200, R"({"code": 0})"), HookVerdict::kAllowed);
  EXPECT_EQ(read_hook_answer(200, R"({"code": 0, "data": "ok"})"), HookVerdict::kAllowed);
  EXPECT_EQ(read_hook_answer(200, R"({"code": 1})"), HookVerdict::kDenied);
  EXPECT_EQ(read_hook_answer(200, R"({"code": "0"})"), HookVerdict::kDenied);
  EXPECT_EQ(read_hook_answer(200, R"({"data": 0})"), HookVerdict::kDenied);
  EXPECT_EQ(read_hook_answer(200, "[0]"), HookVerdict::kDenied);
  EXPECT_EQ(read_hook_answer(200, ""), HookVerdict::kDenied);
  EXPECT_EQ(read_hook_answer(200, "1"), HookVerdict::kDenied);
  EXPECT_EQ(read_hook_answer(200, "{not json"), HookVerdict::kDenied);
  EXPECT_EQ(read_hook_answer(403, "0"), HookVerdict::kDenied);
  EXPECT_EQ(read_hook_answer(500, R"({"code": 0})"), HookVerdict::kDenied);
}

}  // namespace
}  // namespace srtfwd::control

// In-memory stand-ins for what SrtProxy works through: a HandshakeEnv that
// records what it is asked to send, install and end, on a clock the test
// moves, and a Balancer whose picks the test answers now, later or never.
// Shared by the unit tests and the fuzz target; no DPDK, no gtest.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "srtfwd/control/balancer.h"
#include "srtfwd/control/handshake_env.h"
#include "srtfwd/control/srt_proxy.h"

namespace srtfwd::control::fake {

struct Datagram {
  net::IpAddr src, dst;
  uint16_t sport = 0, dport = 0;
  std::vector<uint8_t> bytes;
  std::optional<net::MacAddr> dst_mac;
  std::optional<uint16_t> port_hint;
};

class Env : public HandshakeEnv {
 public:
  // 1 GHz: a tick is a nanosecond.
  static constexpr uint64_t kHz = 1'000'000'000;
  Options opt;
  uint64_t clock = 5 * kHz;  // not 0: SrtProxy treats 0 as "never"
  std::vector<net::IpAddr> addresses;
  // Destinations without a route (everything else routes out of port 1 from
  // the first address of the destination's family).
  std::vector<net::IpAddr> unroutable;
  std::vector<Datagram> sent;
  // Installs: answered at once (kInstalled, next index) unless hold_installs.
  bool hold_installs = false;
  std::optional<InstallStatus> fail_installs;
  struct PendingInstall {
    SessionRequest req;
    InstallDone done;
  };
  std::deque<PendingInstall> held;
  std::vector<SessionRequest> installed;  // every request that got a session, by index
  std::vector<uint32_t> live;             // their indexes, until ended
  std::vector<uint32_t> ended;            // every end_session() asked
  std::vector<std::pair<net::IpAddr, uint16_t>> ended_callers;
  uint32_t next_index = 0;
  SrtProxy* proxy = nullptr;
  // Hook calls: held until answer_hook(); beyond hook_room refused (no room).
  struct PendingHook {
    HookCall call;
    HookDone done;
  };
  std::deque<PendingHook> hooks;
  std::vector<HookCall> hook_calls;  // every call made, in order
  size_t hook_room = 64;

  const Options& options() const override { return opt; }
  uint64_t now() const override { return clock; }
  uint64_t tsc_hz() const override { return kHz; }
  std::vector<net::IpAddr> local_addresses() const override { return addresses; }
  std::optional<Route> route(const net::IpAddr& dst) const override {
    for (const auto& u : unroutable)
      if (u == dst) return std::nullopt;
    for (const auto& a : addresses)
      if (a.is_v4() == dst.is_v4()) return Route{1, dst, a};
    return std::nullopt;
  }
  std::string no_route_reason(const net::IpAddr& dst) const override {
    return "no route to origin " + dst.to_string();
  }
  bool send_udp(const net::IpAddr& src, uint16_t sport, const net::IpAddr& dst, uint16_t dport,
                std::span<const uint8_t> payload, std::optional<net::MacAddr> dst_mac,
                std::optional<uint16_t> port_hint) override {
    sent.push_back(
        Datagram{src, dst, sport, dport, {payload.begin(), payload.end()}, dst_mac, port_hint});
    return true;
  }
  void install_session(const SessionRequest& req, InstallDone done) override {
    if (hold_installs) {
      held.push_back({req, std::move(done)});
      return;
    }
    complete(req, done);
  }
  // Completes the oldest held install.
  void complete_held() {
    auto p = std::move(held.front());
    held.pop_front();
    complete(p.req, p.done);
  }
  bool call_hook(const HookCall& call, HookDone done) override {
    if (hooks.size() >= hook_room) return false;
    hook_calls.push_back(call);
    hooks.push_back({call, std::move(done)});
    return true;
  }
  // Answers the held hook call at index i (the oldest by default).
  void answer_hook(HookVerdict v, size_t i = 0, const std::string& detail = "test") {
    auto h = std::move(hooks[i]);
    hooks.erase(hooks.begin() + static_cast<std::ptrdiff_t>(i));
    h.done(v, detail);
  }
  // Tells the proxy (when set), as ControlPlane::end_session does.
  void end_session(uint32_t session, EndReason /*why*/) override {
    ended.push_back(session);
    if (std::find(live.begin(), live.end(), session) == live.end()) return;  // not one of ours
    std::erase(live, session);
    const SessionRequest& r = installed[session];
    if (proxy != nullptr)
      proxy->on_session_end(r.caller_ip, r.caller_udp, r.caller_socket_id, r.leg_ip, r.leg_udp);
  }
  // Ends the live session of this caller 4-tuple, as the session table
  // lookup does.
  void end_caller_session(const net::IpAddr& caller_ip, uint16_t caller_udp, const net::IpAddr& vip,
                          uint16_t vip_udp, EndReason why) override {
    for (uint32_t index : live) {
      const SessionRequest& r = installed[index];
      if (r.caller_ip == caller_ip && r.caller_udp == caller_udp && r.vip == vip &&
          r.vip_udp == vip_udp) {
        ended_callers.emplace_back(caller_ip, caller_udp);
        end_session(index, why);
        return;
      }
    }
  }

 private:
  void complete(const SessionRequest& req, InstallDone& done) {
    if (fail_installs) {
      done(std::nullopt, *fail_installs);
      return;
    }
    const uint32_t index = next_index++;
    installed.push_back(req);
    live.push_back(index);
    done(index, InstallStatus::kInstalled);
  }
};

class Balancer : public control::Balancer {
 public:
  // Answered at once with this, when set; else held until answer().
  std::optional<Pick> answer_now;
  struct PendingPick {
    std::string url;
    srt::Mode mode;
    Done done;
  };
  std::deque<PendingPick> held;
  std::vector<std::string> picked;  // urls, in order
  struct Unclaim {
    std::string url, server_key;
    uint64_t claim;
  };
  std::vector<Unclaim> unclaims;
  uint64_t polls = 0;

  void pick(const std::string& url, srt::Mode mode, uint64_t /*now_ms*/, Done done) override {
    picked.push_back(url);
    if (answer_now) {
      done(*answer_now);
      return;
    }
    held.push_back({url, mode, std::move(done)});
  }
  // Answers the oldest held pick.
  void answer(const Pick& p) {
    auto h = std::move(held.front());
    held.pop_front();
    h.done(p);
  }
  void unclaim(const std::string& url, const std::string& server_key, uint64_t claim) override {
    unclaims.push_back({url, server_key, claim});
  }
  void register_server(const ServerInfo& /*s*/, uint64_t /*now_ms*/) override {}
  void poll(uint64_t /*now_ms*/) override { ++polls; }
  std::vector<ServerInfo> servers(uint64_t /*now_ms*/) const override { return {}; }
  std::string state() const override { return "fake"; }
};

}  // namespace srtfwd::control::fake

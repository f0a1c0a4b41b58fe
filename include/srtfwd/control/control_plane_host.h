// SrtProxy on a ControlPlane: the HandshakeEnv it works through, and the
// SrtHandler that hands it the control plane's packets (and frees each mbuf),
// ticks and session ends.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "srtfwd/control/balancer.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/control/handshake_env.h"
#include "srtfwd/control/hook_client.h"
#include "srtfwd/control/srt_proxy.h"

namespace srtfwd::control {

class ControlPlaneHost final : public HandshakeEnv, public SrtHandler {
 public:
  ControlPlaneHost(ControlPlane& cp, Balancer& balancer);
  ~ControlPlaneHost() override;
  SrtProxy& proxy() { return *proxy_; }
  const SrtProxy& proxy() const { return *proxy_; }

  // SrtHandler
  void on_packet(rte_mbuf* m, const net::FrameInfo& fi, uint64_t now) override;
  void on_tick(uint64_t now) override;
  void on_session_end(dataplane::Session& s, EndReason why) override;
  void on_caller_moved(dataplane::Session& s, const net::IpAddr& old_ip, uint16_t old_udp) override;

  // HandshakeEnv
  const Options& options() const override { return cp_.options(); }
  uint64_t now() const override;
  uint64_t tsc_hz() const override { return cp_.tsc_hz(); }
  std::vector<net::IpAddr> local_addresses() const override;
  std::optional<Route> route(const net::IpAddr& dst) const override { return cp_.route(dst); }
  std::string no_route_reason(const net::IpAddr& dst) const override {
    return cp_.no_route_reason(dst);
  }
  bool send_udp(const net::IpAddr& src, uint16_t sport, const net::IpAddr& dst, uint16_t dport,
                std::span<const uint8_t> payload, std::optional<net::MacAddr> dst_mac,
                std::optional<uint16_t> port_hint) override;
  void install_session(const SessionRequest& req, InstallDone done) override;
  void end_session(uint32_t session, EndReason why) override;
  bool call_hook(const HookCall& call, HookDone done) override;
  void end_caller_session(const net::IpAddr& caller_ip, uint16_t caller_udp, const net::IpAddr& vip,
                          uint16_t vip_udp, EndReason why) override;

 private:
  ControlPlane& cp_;
  // [hooks]: the calls out, by ticket, and their verdicts polled each tick.
  std::unique_ptr<HookClient> hooks_;
  std::unordered_map<uint64_t, HookDone> hook_done_;
  uint64_t next_hook_ticket_ = 1;
  std::vector<HookClient::Result> hook_results_;
  std::unique_ptr<SrtProxy> proxy_;  // built once this env is whole
};

}  // namespace srtfwd::control

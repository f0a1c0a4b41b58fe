// What the SRT handshake state machine (SrtProxy) needs of the control plane,
// and nothing else: send a datagram, route, install and end sessions, our
// addresses, the options and the clock. ControlPlaneHost implements it over
// a ControlPlane; unit tests and the fuzzer implement it in memory, so the
// handshake logic runs without EAL, mbufs or root. No DPDK header here.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "srtfwd/control/hooks.h"
#include "srtfwd/control/options.h"
#include "srtfwd/net/addr.h"

namespace srtfwd::control {

enum class EndReason : uint8_t { kShutdown, kIdle, kAdmin, kDrain, kCount };
inline constexpr std::array<const char*, static_cast<size_t>(EndReason::kCount)> kEndReasonNames = {
    "shutdown", "idle", "admin", "drain"};

// A session to install; next-hop MACs are resolved by the control plane
// unless given (e.g. the caller's MAC from its own handshake packet).
struct SessionRequest {
  uint16_t caller_port_id = 0;
  net::IpAddr caller_ip, vip;
  uint16_t caller_udp = 0, vip_udp = 0;
  std::optional<net::MacAddr> caller_mac;
  uint16_t backend_port_id = 0;
  net::IpAddr backend_ip, leg_ip;
  uint16_t backend_udp = 0, leg_udp = 0;
  std::optional<net::MacAddr> backend_mac;
  uint32_t caller_socket_id = 0, backend_socket_id = 0;
};

enum class InstallStatus : uint8_t { kInstalled, kNoRoute, kUnresolved, kTableError };
const char* to_string(InstallStatus s) noexcept;

struct Route {
  uint16_t port = 0;
  net::IpAddr next_hop;  // the destination itself, or the port's gateway
  net::IpAddr source;    // our address on that port, same family
};

class HandshakeEnv {
 public:
  // The installed session's index in the session table, or nullopt (not
  // installed, see the status). Runs on the control lcore, maybe before
  // install_session() returns.
  using InstallDone = std::function<void(std::optional<uint32_t> session, InstallStatus)>;

  virtual ~HandshakeEnv() = default;
  virtual const Options& options() const = 0;
  // The clock: TSC ticks (rte_rdtsc() on the control lcore) and their rate.
  virtual uint64_t now() const = 0;
  virtual uint64_t tsc_hz() const = 0;
  uint64_t ms_to_tsc(uint64_t ms) const { return tsc_hz() / 1000 * ms; }
  // Every address of ours (IPv4 and IPv6 of every port): the sources of legs.
  virtual std::vector<net::IpAddr> local_addresses() const = 0;
  virtual std::optional<Route> route(const net::IpAddr& dst) const = 0;
  // Why route(dst) has no answer, for the log: names the missing address
  // (e.g. "no IPv6 address on port 1 to reach origin 2001:2::5").
  virtual std::string no_route_reason(const net::IpAddr& dst) const = 0;
  // A UDP datagram from one of our addresses; the next hop is resolved unless
  // dst_mac is given. False if unroutable or out of buffers.
  virtual bool send_udp(const net::IpAddr& src, uint16_t sport, const net::IpAddr& dst,
                        uint16_t dport, std::span<const uint8_t> payload,
                        std::optional<net::MacAddr> dst_mac = std::nullopt,
                        std::optional<uint16_t> port_hint = std::nullopt) = 0;
  virtual void install_session(const SessionRequest& req, InstallDone done) = 0;
  // Ends the session at this index (from InstallDone), if still installed.
  virtual void end_session(uint32_t session, EndReason why) = 0;
  // Posts an HTTP hook call and returns at once: done runs later on the
  // control lcore (never inside call_hook), at most once, maybe never (the
  // caller keeps its own deadline). False: no room ([hooks] max_in_flight
  // calls are out), done never runs.
  virtual bool call_hook(const HookCall& call, HookDone done) = 0;
  // Ends the session of the caller 4-tuple (caller -> our vip), if any.
  virtual void end_caller_session(const net::IpAddr& caller_ip, uint16_t caller_udp,
                                  const net::IpAddr& vip, uint16_t vip_udp, EndReason why) = 0;
};

}  // namespace srtfwd::control

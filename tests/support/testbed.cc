// srtfwd-testbed: the real srtfwd process plus options to install sessions
// and neighbours through the control plane's internal API before the workers
// start. Used by the pcap replay tests, the end-to-end data-plane tests and
// the benchmarks, where no SRT handshake creates the sessions.
//
//   --session "caller=IP:PORT vip=IP:PORT backend=IP:PORT leg=IP:PORT
//              [caller_mac=MAC] [backend_mac=MAC]"       (repeatable)
//   --session-count N   install each --session N times (benchmarks): session i
//                       uses caller port + i % 50000 on caller address + i / 50000,
//                       and leg port + i % 40000 toward backend address + i / 40000,
//                       so 4-tuples stay unique past 65,535 sessions
//   --neighbour "PORT IP MAC"                              (repeatable, static)
//   --hop-port N        take hop packets (net/encap.h) on UDP N from 198.18.0.0/24,
//                       as [directory] does with the Redis balancer
//   --hop "caller=IP:PORT vip=IP:PORT owner=IP owner_mac=MAC [hop_port=N]"
//                       a second-chance hop entry: the caller's packets are
//                       encapsulated to owner (repeatable)
// IPv6 addresses go in brackets: caller=[2001:db8::2]:5000.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <sstream>
#include <stdexcept>

#include "srtfwd/app/config.h"
#include "srtfwd/app/run.h"
#include "srtfwd/control/control_plane.h"
#include "srtfwd/net/endpoint.h"

using srtfwd::control::ControlPlane;
using srtfwd::control::InstallStatus;
using srtfwd::control::SessionRequest;
using srtfwd::net::IpAddr;
using srtfwd::net::MacAddr;

namespace {

std::pair<IpAddr, uint16_t> endpoint(const std::string& s) {
  std::string error;
  const auto ep = srtfwd::net::parse_endpoint(s, {}, &error);
  if (!ep) throw std::runtime_error("endpoint \"" + s + "\" " + error);
  auto ip = IpAddr::parse(ep->host);
  if (!ip) throw std::runtime_error("bad address " + ep->host);
  return {*ip, ep->port};
}

SessionRequest parse_session(const std::string& text) {
  SessionRequest r;
  std::istringstream in(text);
  std::string kv;
  int seen = 0;
  while (in >> kv) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw std::runtime_error("bad session field " + kv);
    const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "caller_mac" || k == "backend_mac") {
      auto m = MacAddr::parse(v);
      if (!m) throw std::runtime_error("bad MAC " + v);
      (k == "caller_mac" ? r.caller_mac : r.backend_mac) = *m;
      continue;
    }
    auto [ip, port] = endpoint(v);
    if (k == "caller") {
      r.caller_ip = ip;
      r.caller_udp = port;
      seen |= 1;
    } else if (k == "vip") {
      r.vip = ip;
      r.vip_udp = port;
      seen |= 2;
    } else if (k == "backend") {
      r.backend_ip = ip;
      r.backend_udp = port;
      seen |= 4;
    } else if (k == "leg") {
      r.leg_ip = ip;
      r.leg_udp = port;
      seen |= 8;
    } else
      throw std::runtime_error("unknown session field " + k);
  }
  if (seen != 15) throw std::runtime_error("session needs caller=, vip=, backend=, leg=: " + text);
  return r;
}

// ip + n, carrying across bytes (both families).
IpAddr add(IpAddr ip, unsigned n) {
  for (int b = 15; b >= 0 && n != 0; --b) {
    const unsigned v = ip.b[b] + (n & 0xff);
    ip.b[b] = static_cast<uint8_t>(v);
    n = (n >> 8) + (v >> 8);
  }
  return ip;
}

// A --hop entry into the flow table.
void install_hop(ControlPlane& cp, const std::string& text) {
  std::istringstream in(text);
  std::string kv;
  srtfwd::dataplane::SessionKey k{};
  std::optional<IpAddr> owner;
  std::optional<MacAddr> mac;
  uint16_t hop_port = 19523;
  while (in >> kv) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw std::runtime_error("bad hop field " + kv);
    const std::string f = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (f == "caller" || f == "vip") {
      auto [ip, port] = endpoint(v);
      (f == "caller" ? k.src : k.dst) = ip;
      (f == "caller" ? k.sport_be : k.dport_be) = srtfwd::net::to_be16(port);
    } else if (f == "owner") {
      owner = IpAddr::parse(v);
    } else if (f == "owner_mac") {
      mac = MacAddr::parse(v);
    } else if (f == "hop_port") {
      hop_port = static_cast<uint16_t>(std::stoul(v));
    } else {
      throw std::runtime_error("unknown hop field " + f);
    }
  }
  if (!owner || !mac) throw std::runtime_error("hop needs owner= and owner_mac=: " + text);
  auto route = cp.route(*owner);
  if (!route) throw std::runtime_error("hop: no route to " + owner->to_string());
  srtfwd::net::Rewrite outer;
  outer.dst_mac = *mac;
  outer.src = route->source;
  outer.dst = *owner;
  outer.sport_be = srtfwd::net::to_be16(50000);
  outer.dport_be = srtfwd::net::to_be16(hop_port);
  if (cp.dataplane().sessions().install_hop(k, 0, outer, route->port) < 0)
    throw std::runtime_error("hop not installed: " + text);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> sessions, neighbours, hops;
  unsigned count = 1;
  unsigned hop_port = 0;
  srtfwd::app::Hooks hooks;
  hooks.add_options = [&](CLI::App& app) {
    app.add_option("--session", sessions, "session to install (see testbed.cc)");
    app.add_option("--session-count", count, "install each session N times");
    app.add_option("--neighbour", neighbours, "static neighbour: PORT IP MAC");
    app.add_option("--hop-port", hop_port, "take hop packets on this UDP port");
    app.add_option("--hop", hops, "second-chance hop entry (see testbed.cc)");
  };
  hooks.on_config = [&](srtfwd::app::Config& cfg) {
    if (hop_port == 0) return;
    cfg.dataplane.hop_port = static_cast<uint16_t>(hop_port);
    cfg.dataplane.hop_peers = {*srtfwd::net::Prefix::parse("198.18.0.0/24")};
  };
  hooks.on_ready = [&](ControlPlane& cp) {
    for (const auto& n : neighbours) {
      std::istringstream in(n);
      unsigned port;
      std::string ip, mac;
      in >> port >> ip >> mac;
      auto a = IpAddr::parse(ip);
      auto m = MacAddr::parse(mac);
      if (!in || !a || !m) throw std::runtime_error("bad --neighbour " + n);
      cp.neighbours().set_static(static_cast<uint16_t>(port), *a, *m);
    }
    for (const auto& h : hops) install_hop(cp, h);
    unsigned installed = 0, failed = 0;
    for (const auto& s : sessions) {
      SessionRequest base = parse_session(s);
      // With explicit MACs the control plane trusts the request's ports;
      // take them from the routing table as the handshake code does.
      if (auto rc = cp.route(base.caller_ip)) base.caller_port_id = rc->port;
      if (auto rb = cp.route(base.backend_ip)) base.backend_port_id = rb->port;
      for (unsigned i = 0; i < count; ++i) {
        SessionRequest r = base;
        r.caller_udp = static_cast<uint16_t>(base.caller_udp + i % 50000);
        r.caller_ip = add(base.caller_ip, i / 50000);
        r.leg_udp = static_cast<uint16_t>(base.leg_udp + i % 40000);
        r.backend_ip = add(base.backend_ip, i / 40000);
        cp.install_session(r, [&](srtfwd::dataplane::Session* sess, InstallStatus st) {
          if (sess != nullptr) {
            ++installed;
          } else if (++failed <= 5) {
            spdlog::error("testbed: session not installed: {}", srtfwd::control::to_string(st));
          }
        });
      }
    }
    // Sessions whose next hops need ARP finish later; report what is done now.
    spdlog::info("testbed: {} session(s) installed, {} failed, {} waiting for neighbours",
                 installed, failed, cp.pending_installs());
  };
  return srtfwd::app::run(argc, argv, hooks);
}

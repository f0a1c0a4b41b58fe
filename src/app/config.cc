#include "srtfwd/app/config.h"

#include <toml.hpp>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "srtfwd/control/hook_client.h"
#include "srtfwd/srt/cookie_secret.h"
#include "srtfwd/srt/stream_id.h"

#include "srtfwd/net/endpoint.h"
#include "srtfwd/net/vlan.h"

namespace srtfwd::app {

namespace {

[[noreturn]] void fail(const std::string& key, const std::string& problem) {
  throw ConfigError(key + ": " + problem);
}

using Table = toml::table;

// Rejects keys we do not know: a typo must not silently become a default.
void only_keys(const Table& t, const std::string& where, std::initializer_list<const char*> known) {
  std::set<std::string> k;
  for (auto* s : known) k.insert(s);
  for (const auto& [name, _] : t)
    if (!k.count(name)) fail(where.empty() ? name : where + "." + name, "unknown key");
}

const toml::value* find(const Table& t, const char* key) {
  auto it = t.find(key);
  return it == t.end() ? nullptr : &it->second;
}

int64_t get_int(const Table& t, const std::string& where, const char* key, int64_t def, int64_t lo,
                int64_t hi) {
  const toml::value* v = find(t, key);
  if (v == nullptr) return def;
  const std::string name = where + "." + key;
  if (!v->is_integer()) fail(name, "must be an integer");
  const int64_t x = v->as_integer();
  if (x < lo || x > hi)
    fail(name, std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]");
  return x;
}

std::string get_str(const Table& t, const std::string& where, const char* key,
                    const std::string& def) {
  const toml::value* v = find(t, key);
  if (v == nullptr) return def;
  if (!v->is_string()) fail(where + "." + key, "must be a string");
  return v->as_string().str;
}

const Table* get_table(const Table& root, const char* key) {
  const toml::value* v = find(root, key);
  if (v == nullptr) return nullptr;
  if (!v->is_table()) fail(key, "must be a table ([" + std::string(key) + "])");
  return &v->as_table();
}

std::vector<const Table*> get_array_of_tables(const Table& root, const char* key) {
  std::vector<const Table*> out;
  const toml::value* v = find(root, key);
  if (v == nullptr) return out;
  if (!v->is_array()) fail(key, "must be an array of tables ([[" + std::string(key) + "]])");
  for (const auto& e : v->as_array()) {
    if (!e.is_table()) fail(key, "must be an array of tables ([[" + std::string(key) + "]])");
    out.push_back(&e.as_table());
  }
  return out;
}

net::IpAddr parse_ip(const std::string& key, const std::string& s) {
  auto a = net::IpAddr::parse(s);
  if (!a) fail(key, "\"" + s + "\" is not an IPv4 or IPv6 address");
  return *a;
}

uint16_t parse_port(const std::string& key, int64_t v) {
  if (v < 1 || v > 65535) fail(key, std::to_string(v) + " is not a UDP port (1-65535)");
  return static_cast<uint16_t>(v);
}

// "20000-59999"
void parse_range(const std::string& key, const std::string& s, uint16_t* lo, uint16_t* hi) {
  const auto dash = s.find('-');
  int a = 0, b = 0;
  auto ok = [](std::string_view p, int* out) {
    auto r = std::from_chars(p.data(), p.data() + p.size(), *out);
    return r.ec == std::errc() && r.ptr == p.data() + p.size();
  };
  if (dash == std::string::npos || !ok(std::string_view(s).substr(0, dash), &a) ||
      !ok(std::string_view(s).substr(dash + 1), &b) || a < 1 || b > 65535 || a > b)
    fail(key, "\"" + s + "\" is not a port range like \"20000-59999\"");
  *lo = static_cast<uint16_t>(a);
  *hi = static_cast<uint16_t>(b);
}

// A list of CIDR prefixes under `key`, appended to out; absent: nothing.
void get_prefixes(const Table& t, const std::string& where, const char* key,
                  std::vector<net::Prefix>* out) {
  const toml::value* v = find(t, key);
  if (v == nullptr) return;
  const std::string name = where + "." + key;
  if (!v->is_array())
    fail(name, "must be a list of CIDR prefixes like [\"198.18.0.0/15\", \"2001:2::/48\"]");
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) fail(name, "must be a list of CIDR prefixes (strings)");
    const std::string text = e.as_string().str;
    auto p = net::Prefix::parse(text);
    if (!p) fail(name, "\"" + text + "\" is not an IPv4 or IPv6 prefix (ADDRESS/LENGTH)");
    out->push_back(*p);
  }
}

void parse_host_port(const std::string& key, const std::string& s, std::string* host,
                     uint16_t* port) {
  std::string error;
  auto ep = net::parse_endpoint(s, {}, &error);
  if (!ep) fail(key, "\"" + s + "\" " + error);
  *host = std::move(ep->host);
  *port = ep->port;
}

Config build(const toml::value& doc) {
  if (!doc.is_table()) fail("config", "not a TOML table");
  const Table& root = doc.as_table();
  only_keys(root, "",
            {"port", "srt", "balancer", "backend", "admin", "dataplane", "limits", "hooks", "bgp",
             "directory"});
  Config c;

  // [[port]]
  const auto ports = get_array_of_tables(root, "port");
  if (ports.empty()) fail("port", "at least one [[port]] table is required");
  for (size_t i = 0; i < ports.size(); ++i) {
    const Table& t = *ports[i];
    const std::string w = "port[" + std::to_string(i) + "]";
    only_keys(t, w, {"ipv4", "ipv6", "gateway", "gateway6", "vlan", "vips", "announce_vips"});
    dataplane::PortOptions po;
    control::PortRoute route;
    if (auto s = get_str(t, w, "ipv4", ""); !s.empty()) {
      auto p = net::Prefix::parse(s);
      if (!p || !p->addr.is_v4())
        fail(w + ".ipv4", "\"" + s + "\" is not an IPv4 address/prefix like \"198.18.0.1/24\"");
      po.ipv4 = *p;
    }
    if (auto s = get_str(t, w, "ipv6", ""); !s.empty()) {
      auto p = net::Prefix::parse(s);
      if (!p || p->addr.is_v4())
        fail(w + ".ipv6", "\"" + s + "\" is not an IPv6 address/prefix like \"2001:db8::1/64\"");
      po.ipv6 = *p;
    }
    if (!po.ipv4 && !po.ipv6) fail(w, "needs ipv4 or ipv6 (or both)");
    if (const toml::value* v = find(t, "vlan")) {
      // 0 and 4095 are reserved VIDs (priority tag, implementation use).
      if (!v->is_integer() || v->as_integer() < 1 || v->as_integer() > net::kVlanIdMax)
        fail(w + ".vlan",
             "must be an 802.1Q VLAN ID from 1 to 4094 (leave it out for an untagged port)");
      po.vlan = static_cast<uint16_t>(v->as_integer());
    }
    if (auto s = get_str(t, w, "gateway", ""); !s.empty()) {
      auto g = parse_ip(w + ".gateway", s);
      if (!g.is_v4()) fail(w + ".gateway", "must be an IPv4 address (use gateway6 for IPv6)");
      if (!po.ipv4) fail(w + ".gateway", "given without ipv4");
      if (!po.ipv4->contains(g))
        fail(w + ".gateway", "\"" + s + "\" is outside " + po.ipv4->to_string());
      route.gateway4 = g;
    }
    if (auto s = get_str(t, w, "gateway6", ""); !s.empty()) {
      auto g = parse_ip(w + ".gateway6", s);
      if (g.is_v4()) fail(w + ".gateway6", "must be an IPv6 address");
      if (!po.ipv6) fail(w + ".gateway6", "given without ipv6");
      route.gateway6 = g;
    }
    if (const toml::value* v = find(t, "vips")) {
      const std::string key = w + ".vips";
      if (!v->is_array()) fail(key, "must be an array of addresses like [\"198.18.200.1\"]");
      for (const auto& e : v->as_array()) {
        if (!e.is_string()) fail(key, "must be an array of addresses like [\"198.18.200.1\"]");
        const std::string& text = e.as_string().str;
        const auto a = net::IpAddr::parse(text);
        if (!a) fail(key, "\"" + text + "\" is not an IPv4 or IPv6 address (no prefix)");
        if (a->is_unspecified() || a->is_multicast() || *a == net::IpAddr::from_v4_host(0xffffffff))
          fail(key, "\"" + text + "\" is not a unicast address");
        // A VIP's ARP/NDP, and its sessions' neighbours, are the port's own
        // family's business.
        if (a->is_v4() ? !po.ipv4 : !po.ipv6)
          fail(key, "\"" + text + "\" needs the port's " + (a->is_v4() ? "ipv4" : "ipv6"));
        if (std::find(po.vips.begin(), po.vips.end(), *a) != po.vips.end())
          fail(key, "\"" + text + "\" is listed twice");
        po.vips.push_back(*a);
      }
      if (po.vips.size() > dataplane::kMaxVips)
        fail(key, "more than " + std::to_string(dataplane::kMaxVips) + " addresses");
    }
    if (const toml::value* v = find(t, "announce_vips")) {
      if (!v->is_boolean()) fail(w + ".announce_vips", "must be true or false");
      po.announce_vips = v->as_boolean();
    }
    c.dataplane.ports.push_back(po);
    c.control.routes.push_back(route);
  }
  // A VIP is an address no port has as its own, on one port only.
  for (size_t i = 0; i < c.dataplane.ports.size(); ++i)
    for (const auto& vip : c.dataplane.ports[i].vips)
      for (size_t j = 0; j < c.dataplane.ports.size(); ++j) {
        const auto& o = c.dataplane.ports[j];
        const std::string key = "port[" + std::to_string(i) + "].vips";
        if ((o.ipv4 && o.ipv4->addr == vip) || (o.ipv6 && o.ipv6->addr == vip))
          fail(key, "\"" + vip.to_string() + "\" is port[" + std::to_string(j) + "]'s own address");
        if (j > i && std::find(o.vips.begin(), o.vips.end(), vip) != o.vips.end())
          fail(key, "\"" + vip.to_string() + "\" is also a VIP of port[" + std::to_string(j) + "]");
      }

  // [srt]
  if (const Table* t = get_table(root, "srt")) {
    only_keys(*t, "srt",
              {"listen", "leg_ports", "idle_timeout_ms", "shutdown_grace_ms", "backend_retry_ms",
               "backend_timeout_ms", "max_handshakes", "cookie_bucket_s", "drain_timeout_ms",
               "default_streamid", "cookie_secret_file", "follow_rebinding", "rebinding_per_s"});
    if (const toml::value* v = find(*t, "listen")) {
      c.control.listen_ports.clear();
      if (v->is_integer()) {
        c.control.listen_ports.push_back(parse_port("srt.listen", v->as_integer()));
      } else if (v->is_array()) {
        for (const auto& e : v->as_array()) {
          if (!e.is_integer()) fail("srt.listen", "must be a list of UDP ports");
          c.control.listen_ports.push_back(parse_port("srt.listen", e.as_integer()));
        }
      } else {
        fail("srt.listen", "must be a list of UDP ports like [10080]");
      }
      if (c.control.listen_ports.empty()) fail("srt.listen", "needs at least one port");
    }
    parse_range("srt.leg_ports", get_str(*t, "srt", "leg_ports", "20000-59999"),
                &c.control.leg_port_min, &c.control.leg_port_max);
    c.control.idle_timeout_ms = static_cast<uint32_t>(
        get_int(*t, "srt", "idle_timeout_ms", c.control.idle_timeout_ms, 100, 3600000));
    c.control.shutdown_grace_ms = static_cast<uint32_t>(
        get_int(*t, "srt", "shutdown_grace_ms", c.control.shutdown_grace_ms, 0, 60000));
    c.control.backend_retry_ms = static_cast<uint32_t>(
        get_int(*t, "srt", "backend_retry_ms", c.control.backend_retry_ms, 10, 10000));
    c.control.backend_timeout_ms = static_cast<uint32_t>(
        get_int(*t, "srt", "backend_timeout_ms", c.control.backend_timeout_ms, 50, 60000));
    c.control.max_handshakes = static_cast<uint32_t>(
        get_int(*t, "srt", "max_handshakes", c.control.max_handshakes, 1, 1 << 20));
    c.control.cookie_bucket_s = static_cast<uint32_t>(
        get_int(*t, "srt", "cookie_bucket_s", c.control.cookie_bucket_s, 1, 3600));
    c.control.drain_timeout_ms = static_cast<uint32_t>(
        get_int(*t, "srt", "drain_timeout_ms", c.control.drain_timeout_ms, 0, 3600000));
    c.control.default_streamid = get_str(*t, "srt", "default_streamid", c.control.default_streamid);
    // The file itself is read by load_config() and at start-up (a path here).
    c.control.cookie_secret_file = get_str(*t, "srt", "cookie_secret_file", "");
    if (!c.control.default_streamid.empty()) {
      srt::StreamId id;
      if (auto e = srt::parse_stream_id(c.control.default_streamid, id);
          e != srt::StreamIdError::Ok)
        fail("srt.default_streamid",
             "\"" + c.control.default_streamid + "\": " + std::string(srt::to_string(e)));
    }
    const std::string follow = get_str(*t, "srt", "follow_rebinding", "off");
    if (follow == "off")
      c.control.follow_rebinding = control::FollowRebinding::kOff;
    else if (follow == "same_ip")
      c.control.follow_rebinding = control::FollowRebinding::kSameIp;
    else if (follow == "any_ip")
      c.control.follow_rebinding = control::FollowRebinding::kAnyIp;
    else
      fail("srt.follow_rebinding",
           "\"" + follow + "\": must be \"off\", \"same_ip\" or \"any_ip\"");
    c.control.rebinding_per_s = static_cast<uint32_t>(
        get_int(*t, "srt", "rebinding_per_s", c.control.rebinding_per_s, 1, 1000000));
  }
  // A rebound caller's packets miss the flow table: the workers send them to
  // control (the miss gate) within the same budget.
  if (c.control.follow_rebinding != control::FollowRebinding::kOff)
    c.dataplane.miss_to_control_per_s =
        std::max(c.dataplane.miss_to_control_per_s, c.control.rebinding_per_s);
  for (uint16_t p : c.control.listen_ports)
    if (p >= c.control.leg_port_min && p <= c.control.leg_port_max)
      fail("srt.leg_ports", "overlaps listen port " + std::to_string(p));

  // [balancer]
  if (const Table* t = get_table(root, "balancer")) {
    only_keys(*t, "balancer",
              {"type", "redis", "password", "db", "server_ttl_s", "unknown_stream_players",
               "sentinels", "master_name", "sentinel_password"});
    c.control.balancer.type = get_str(*t, "balancer", "type", "memory");
    if (c.control.balancer.type != "memory" && c.control.balancer.type != "redis")
      fail("balancer.type",
           "\"" + c.control.balancer.type + "\" is neither \"memory\" nor \"redis\"");
    if (auto s = get_str(*t, "balancer", "redis", ""); !s.empty())
      parse_host_port("balancer.redis", s, &c.control.balancer.redis_host,
                      &c.control.balancer.redis_port);
    c.control.balancer.redis_password = get_str(*t, "balancer", "password", "");
    c.control.balancer.redis_db = static_cast<int>(get_int(*t, "balancer", "db", 0, 0, 1 << 16));
    c.control.balancer.server_ttl_s = static_cast<uint32_t>(
        get_int(*t, "balancer", "server_ttl_s", c.control.balancer.server_ttl_s, 1, 86400));
    const std::string players = get_str(*t, "balancer", "unknown_stream_players", "route");
    if (players != "route" && players != "reject")
      fail("balancer.unknown_stream_players",
           "\"" + players + "\" is neither \"route\" nor \"reject\"");
    c.control.balancer.route_unknown_players = players == "route";
    if (const toml::value* v = find(*t, "sentinels")) {
      if (!v->is_array()) fail("balancer.sentinels", "must be a list of \"HOST:PORT\" strings");
      for (const auto& e : v->as_array()) {
        if (!e.is_string()) fail("balancer.sentinels", "must be a list of \"HOST:PORT\" strings");
        control::BalancerOptions::Sentinel s;
        parse_host_port("balancer.sentinels", e.as_string().str, &s.host, &s.port);
        c.control.balancer.sentinels.push_back(std::move(s));
      }
    }
    c.control.balancer.master_name = get_str(*t, "balancer", "master_name", "");
    c.control.balancer.sentinel_password = get_str(*t, "balancer", "sentinel_password", "");
    if (!c.control.balancer.sentinels.empty()) {
      if (c.control.balancer.type != "redis") fail("balancer.sentinels", "need type = \"redis\"");
      // Sentinel's own rule for a master's name: one token it can print.
      const auto& name = c.control.balancer.master_name;
      if (name.empty()) fail("balancer.master_name", "is required with balancer.sentinels");
      if (name.size() > 128 || std::any_of(name.begin(), name.end(), [](unsigned char ch) {
            return ch <= 0x20 || ch >= 0x7f;
          }))
        fail("balancer.master_name",
             "\"" + name + "\" is not one printable word of at most 128 bytes");
    } else if (!c.control.balancer.master_name.empty()) {
      fail("balancer.master_name", "has no balancer.sentinels to ask");
    }
  }

  // [limits]
  if (const Table* t = get_table(root, "limits")) {
    only_keys(*t, "limits",
              {"allow", "deny", "max_handshakes_per_source", "max_sessions_per_source",
               "inductions_per_source_s", "source_slots"});
    auto& l = c.control.limits;
    get_prefixes(*t, "limits", "allow", &l.allow);
    get_prefixes(*t, "limits", "deny", &l.deny);
    l.max_handshakes_per_source = static_cast<uint32_t>(get_int(
        *t, "limits", "max_handshakes_per_source", l.max_handshakes_per_source, 0, 1 << 20));
    l.max_sessions_per_source = static_cast<uint32_t>(
        get_int(*t, "limits", "max_sessions_per_source", l.max_sessions_per_source, 0, 1 << 26));
    l.inductions_per_source_s = static_cast<uint32_t>(
        get_int(*t, "limits", "inductions_per_source_s", l.inductions_per_source_s, 0, 1000000));
    l.source_slots =
        static_cast<uint32_t>(get_int(*t, "limits", "source_slots", l.source_slots, 1, 1 << 24));
  }

  // [hooks]
  {
    auto& h = c.control.hooks;
    char host[256] = {};
    h.server_id = gethostname(host, sizeof host - 1) == 0 && host[0] != '\0' ? host : "srtfwd";
  }
  if (const Table* t = get_table(root, "hooks")) {
    only_keys(*t, "hooks",
              {"on_publish", "on_play", "timeout_ms", "on_error", "max_in_flight", "server_id"});
    auto& h = c.control.hooks;
    auto url = [&](const char* key) {
      const std::string u = get_str(*t, "hooks", key, "");
      std::string origin, path;
      if (!u.empty() && !control::HookClient::split_url(u, &origin, &path))
        fail(std::string("hooks.") + key,
             "\"" + u + "\" is not an http:// URL (https is not supported)");
      return u;
    };
    h.on_publish = url("on_publish");
    h.on_play = url("on_play");
    // The caller hears within a second whatever the hook does.
    h.timeout_ms = static_cast<uint32_t>(get_int(*t, "hooks", "timeout_ms", h.timeout_ms, 10, 900));
    const std::string on_error = get_str(*t, "hooks", "on_error", "reject");
    if (on_error != "reject" && on_error != "allow")
      fail("hooks.on_error", "\"" + on_error + "\" is neither \"reject\" nor \"allow\"");
    h.allow_on_error = on_error == "allow";
    h.max_in_flight =
        static_cast<uint32_t>(get_int(*t, "hooks", "max_in_flight", h.max_in_flight, 1, 65536));
    h.server_id = get_str(*t, "hooks", "server_id", h.server_id);
  }

  // [directory]: the session directory and the second chance between hosts
  // (control/directory.h); the Redis balancer's only (run.cc decides).
  {
    auto& d = c.control.directory;
    if (const Table* t = get_table(root, "directory")) {
      only_keys(*t, "directory", {"enabled", "address", "port", "ttl_s", "peers"});
      if (const toml::value* v = find(*t, "enabled")) {
        if (!v->is_boolean()) fail("directory.enabled", "must be true or false");
        d.enabled = v->as_boolean();
      }
      if (auto s = get_str(*t, "directory", "address", ""); !s.empty()) {
        d.address = parse_ip("directory.address", s);
        if (!d.address->is_v4()) fail("directory.address", "must be an IPv4 address");
      }
      d.port = parse_port("directory.port", get_int(*t, "directory", "port", d.port, 1, 65535));
      d.ttl_s = static_cast<uint32_t>(get_int(*t, "directory", "ttl_s", d.ttl_s, 3, 86400));
      get_prefixes(*t, "directory", "peers", &d.peers);
      for (const auto& p : d.peers)
        if (!p.addr.is_v4()) fail("directory.peers", "\"" + p.to_string() + "\" is not IPv4");
      if (d.peers.size() > dataplane::kMaxHopPeers)
        fail("directory.peers", "at most " + std::to_string(dataplane::kMaxHopPeers) + " prefixes");
    }
    // Our data address: where other hosts send the hop; one of our ports'.
    if (!d.address) {
      for (const auto& po : c.dataplane.ports)
        if (po.ipv4) {
          d.address = po.ipv4->addr;
          break;
        }
    } else {
      bool ours = false;
      for (const auto& po : c.dataplane.ports)
        ours = ours || (po.ipv4 && po.ipv4->addr == *d.address);
      if (!ours)
        fail("directory.address",
             "\"" + d.address->to_string() + "\" is not the ipv4 address of any [[port]]");
    }
    // A hop packet is told apart by its port: a caller's packet to a listen
    // port must never be taken for one. (Without an IPv4 port there is no
    // hop: run.cc logs that the directory is off.)
    for (uint16_t p : c.control.listen_ports)
      if (p == d.port) fail("directory.port", "is also an srt.listen port");
    if (get_table(root, "directory") != nullptr && d.port >= c.control.leg_port_min &&
        d.port <= c.control.leg_port_max)
      fail("directory.port", "lies in srt.leg_ports");
  }

  // [[backend]]
  const auto backends = get_array_of_tables(root, "backend");
  for (size_t i = 0; i < backends.size(); ++i) {
    const std::string w = "backend[" + std::to_string(i) + "]";
    only_keys(*backends[i], w, {"ip", "srt"});
    control::StaticBackend b;
    const std::string ip = get_str(*backends[i], w, "ip", "");
    if (ip.empty()) fail(w + ".ip", "is required");
    b.ip = parse_ip(w + ".ip", ip);
    b.srt_port = parse_port(w + ".srt", get_int(*backends[i], w, "srt", 10080, 1, 65535));
    c.control.balancer.backends.push_back(b);
  }

  // [admin]
  if (const Table* t = get_table(root, "admin")) {
    only_keys(*t, "admin", {"listen", "register_token"});
    const std::string l = get_str(*t, "admin", "listen", "127.0.0.1:12025");
    c.admin.register_token = get_str(*t, "admin", "register_token", "");
    // It travels in a URL (path or query) and an HTTP header: printable
    // ASCII that needs no escaping there.
    for (const unsigned char ch : c.admin.register_token)
      if (ch <= 0x20 || ch >= 0x7f || std::strchr("&#%+/?", ch) != nullptr)
        fail("admin.register_token",
             "must be printable ASCII without spaces or any of & # % + / ? (it goes in a URL)");
    if (l.empty()) {
      c.admin.enabled = false;
    } else {
      parse_host_port("admin.listen", l, &c.admin.host, &c.admin.port);
    }
  }

  // [bgp]: the hooks a BGP speaker (BIRD) follows; see docs/operations.md.
  if (const Table* t = get_table(root, "bgp")) {
    only_keys(*t, "bgp", {"ready_command", "draining_command", "withdraw_wait_ms"});
    c.bgp.ready_command = get_str(*t, "bgp", "ready_command", "");
    c.bgp.draining_command = get_str(*t, "bgp", "draining_command", "");
    c.bgp.withdraw_wait_ms = static_cast<uint32_t>(
        get_int(*t, "bgp", "withdraw_wait_ms", c.bgp.withdraw_wait_ms, 0, 60000));
  }

  // [dataplane]: sizing and back-off (optional; defaults fit 1 GiB).
  if (const Table* t = get_table(root, "dataplane")) {
    only_keys(*t, "dataplane",
              {"sessions", "mbufs", "rx_descriptors", "tx_descriptors", "control_ring",
               "idle_polls", "idle_sleep_us"});
    auto& d = c.dataplane;
    d.sessions =
        static_cast<uint32_t>(get_int(*t, "dataplane", "sessions", d.sessions, 1, 1 << 26));
    d.mbufs = static_cast<uint32_t>(get_int(*t, "dataplane", "mbufs", d.mbufs, 1023, 1 << 24));
    d.rx_descriptors = static_cast<uint16_t>(
        get_int(*t, "dataplane", "rx_descriptors", d.rx_descriptors, 64, 16384));
    d.tx_descriptors = static_cast<uint16_t>(
        get_int(*t, "dataplane", "tx_descriptors", d.tx_descriptors, 64, 16384));
    d.control_ring = static_cast<uint32_t>(
        get_int(*t, "dataplane", "control_ring", d.control_ring, 64, 1 << 20));
    if ((d.control_ring & (d.control_ring - 1)) != 0)
      fail("dataplane.control_ring", "must be a power of two");
    d.idle_polls =
        static_cast<uint32_t>(get_int(*t, "dataplane", "idle_polls", d.idle_polls, 1, 1 << 30));
    d.idle_sleep_us = static_cast<uint32_t>(
        get_int(*t, "dataplane", "idle_sleep_us", d.idle_sleep_us, 0, 100000));
  }
  return c;
}

std::string one_line(const std::string& s) {
  // toml11 errors span several lines with a source excerpt; keep it one line.
  std::string out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" |^-~>") == std::string::npos) continue;
    if (!out.empty()) out += " ";
    out += line;
  }
  return out;
}

}  // namespace

Config parse_config(const std::string& text, const std::string& origin) {
  toml::value doc;
  try {
    std::istringstream in(text);
    doc = toml::parse(in, origin);
  } catch (const std::exception& e) { throw ConfigError(origin + ": " + one_line(e.what())); }
  return build(doc);
}

Config load_config(const std::string& path) {
  toml::value doc;
  try {
    doc = toml::parse(path);
  } catch (const std::exception& e) {  // toml::syntax_error is no runtime_error
    throw ConfigError(path + ": " + one_line(e.what()));
  }
  Config c = build(doc);
  // A start refuses a secret file it cannot use (a SIGHUP keeps the running
  // secret instead, in SrtProxy::reload_cookie_secret).
  if (!c.control.cookie_secret_file.empty()) {
    try {
      (void)srt::read_cookie_secret(c.control.cookie_secret_file);
    } catch (const std::exception& e) {
      throw ConfigError(std::string("srt.cookie_secret_file: ") + e.what());
    }
  }
  return c;
}

std::string read_config_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();  // an empty file reads as "" (parse_config says what is missing)
  if (in.bad()) throw ConfigError(path + ": cannot read");
  return text.str();
}

std::vector<std::string> restart_only_changes(const std::string& running_text,
                                              const std::string& new_text) {
  auto parse = [](const std::string& text) {
    std::istringstream in(text);
    return toml::parse(in, "config").as_table();
  };
  const Table a = parse(running_text), b = parse(new_text);
  // The reloadable keys: whole top-level tables, or keys inside one.
  const std::set<std::string> reloadable = {"backend", "srt.idle_timeout_ms"};
  std::set<std::string> names;
  for (const auto& [k, _] : a) names.insert(k);
  for (const auto& [k, _] : b) names.insert(k);
  auto differs = [](const toml::value* x, const toml::value* y) {
    return (x == nullptr) != (y == nullptr) || (x != nullptr && !(*x == *y));
  };
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (reloadable.count(name)) continue;
    const toml::value* x = find(a, name.c_str());
    const toml::value* y = find(b, name.c_str());
    const bool x_table = x == nullptr || x->is_table(), y_table = y == nullptr || y->is_table();
    if (x_table && y_table) {
      // Key by key inside a table (an absent one as empty), so that the log
      // names what changed.
      static const Table kEmpty;
      const Table& xt = x != nullptr ? x->as_table() : kEmpty;
      const Table& yt = y != nullptr ? y->as_table() : kEmpty;
      std::set<std::string> keys;
      for (const auto& [k, _] : xt) keys.insert(k);
      for (const auto& [k, _] : yt) keys.insert(k);
      for (const auto& k : keys) {
        const std::string full = name + "." + k;
        if (reloadable.count(full)) continue;
        if (differs(find(xt, k.c_str()), find(yt, k.c_str()))) out.push_back(full);
      }
      continue;
    }
    if (differs(x, y)) out.push_back(name);
  }
  return out;
}

namespace {

// A variable as the Go proxy reads it: unset and empty are the same.
std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// The value as shown in an error: control characters as \xNN, so that the
// error stays one line.
[[noreturn]] void env_fail(const char* name, const std::string& value, const std::string& problem) {
  std::string shown;
  for (unsigned char ch : value) {
    if (ch < 0x20 || ch == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      shown += buf;
    } else {
      shown += static_cast<char>(ch);
    }
  }
  throw ConfigError(std::string(name) + ": \"" + shown + "\" " + problem);
}

int64_t env_int(const char* name, const std::string& v, int64_t lo, int64_t hi, const char* what) {
  int64_t x = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || x < lo || x > hi)
    env_fail(name, v, what);
  return x;
}

// "20080", ":20080" or "HOST:20080" (Go's net.Listen forms); host empty
// when not given.
std::pair<std::string, uint16_t> env_listen(const char* name, const std::string& v) {
  std::string error;
  auto ep = net::parse_endpoint(v, {.empty_host = true, .port_only = true}, &error);
  if (!ep) env_fail(name, v, error + " (give PORT, :PORT or HOST:PORT)");
  return {std::move(ep->host), ep->port};
}

bool env_bool(const char* name, const std::string& v) {
  std::string l = v;
  for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "on" || l == "true" || l == "1") return true;
  if (l == "off" || l == "false" || l == "0") return false;
  env_fail(name, v, "is neither on/true nor off/false");
}

// A Go time.ParseDuration string ("45s", "2m", "1h30m", "1.5s"), positive,
// in nanoseconds; nullopt when it is not one.
std::optional<double> go_duration_ns(const std::string& v) {
  static const std::pair<const char*, double> kUnits[] = {
      {"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
      {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
  std::string_view s = v;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    if (s.front() == '-') return std::nullopt;  // negative: never a TTL
    s.remove_prefix(1);
  }
  if (s == "0") return 0.0;
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    double number = 0;
    bool digits = false;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      number = number * 10 + (s[i] - '0');
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      double scale = 0.1;
      for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) {
        number += (s[i] - '0') * scale;
        digits = true;
      }
    }
    if (!digits) return std::nullopt;
    s.remove_prefix(i);
    std::size_t unit_len = 0;
    double unit = 0;
    for (const auto& [name, ns] : kUnits) {
      const std::string_view u = name;
      // The longest unit that matches: "ms" before "m".
      if (s.starts_with(u) && u.size() > unit_len) {
        unit_len = u.size();
        unit = ns;
      }
    }
    if (unit_len == 0) return std::nullopt;
    s.remove_prefix(unit_len);
    total += number * unit;
  }
  return total;
}

// Names and ports the Go proxy registers: short, printable, no separators.
std::string env_token(const char* name, const std::string& v) {
  if (v.size() > 64) env_fail(name, v, "is longer than 64 bytes");
  for (unsigned char ch : v)
    if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
      env_fail(name, v, "has a character that is not printable ASCII");
  return v;
}

}  // namespace

std::vector<std::string> apply_environment(Config& c) {
  std::vector<std::string> applied;
  auto took = [&](const char* name, const std::string& shown, const std::string& key) {
    applied.push_back(std::string(name) + "=" + shown + " -> " + key);
  };
  auto& b = c.control.balancer;

  if (auto v = env_value("PROXY_SRT_SERVER")) {
    const auto [host, port] = env_listen("PROXY_SRT_SERVER", *v);
    // srtfwd listens on every [[port]] address; only a wildcard host says so.
    if (!host.empty() && host != "0.0.0.0" && host != "::")
      env_fail("PROXY_SRT_SERVER", *v,
               "names a host; srtfwd listens on every [[port]] address, give PORT");
    if (port >= c.control.leg_port_min && port <= c.control.leg_port_max)
      env_fail("PROXY_SRT_SERVER", *v,
               "is inside srt.leg_ports " + std::to_string(c.control.leg_port_min) + "-" +
                   std::to_string(c.control.leg_port_max) + " (move leg_ports in the config)");
    c.control.listen_ports = {port};
    took("PROXY_SRT_SERVER", *v, "srt.listen = [" + std::to_string(port) + "]");
  }
  if (auto v = env_value("PROXY_SYSTEM_API")) {
    // The Go proxy listens on ":PORT" (every address) for a bare port.
    auto [host, port] = env_listen("PROXY_SYSTEM_API", *v);
    if (host.empty()) host = "0.0.0.0";
    if (!net::IpAddr::parse(host))
      env_fail("PROXY_SYSTEM_API", *v, "has a host that is not an IPv4 or IPv6 address");
    c.admin.enabled = true;
    c.admin.host = host;
    c.admin.port = port;
    took("PROXY_SYSTEM_API", *v, "admin.listen = \"" + host + ":" + std::to_string(port) + "\"");
  }
  if (auto v = env_value("PROXY_LOAD_BALANCER_TYPE")) {
    if (*v != "memory" && *v != "redis")
      env_fail("PROXY_LOAD_BALANCER_TYPE", *v, "is neither \"memory\" nor \"redis\"");
    b.type = *v;
    took("PROXY_LOAD_BALANCER_TYPE", *v, "balancer.type");
  }
  if (auto v = env_value("PROXY_REDIS_HOST")) {
    b.redis_host = *v;
    took("PROXY_REDIS_HOST", *v, "balancer.redis host");
  }
  if (auto v = env_value("PROXY_REDIS_PORT")) {
    b.redis_port =
        static_cast<uint16_t>(env_int("PROXY_REDIS_PORT", *v, 1, 65535, "is not a TCP port"));
    took("PROXY_REDIS_PORT", *v, "balancer.redis port");
  }
  // Set but empty clears a password from the config: a Redis without AUTH.
  if (const char* pw = std::getenv("PROXY_REDIS_PASSWORD"); pw != nullptr) {
    b.redis_password = pw;
    took("PROXY_REDIS_PASSWORD", "***", "balancer.password");
  }
  if (auto v = env_value("PROXY_REDIS_DB")) {
    b.redis_db =
        static_cast<int>(env_int("PROXY_REDIS_DB", *v, 0, 1 << 16, "is not a database number"));
    took("PROXY_REDIS_DB", *v, "balancer.db");
  }
  if (auto v = env_value("PROXY_REDIS_KEY_PREFIX")) {
    // Part of every key; the keys appear in logs and the admin API.
    if (v->size() > 128 ||
        std::any_of(v->begin(), v->end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; }))
      env_fail("PROXY_REDIS_KEY_PREFIX", *v, "is longer than 128 bytes or has a control character");
    b.key_prefix = *v;
    took("PROXY_REDIS_KEY_PREFIX", *v, "Redis keys \"" + *v + ":srs-proxy-...\"");
  }
  if (auto v = env_value("PROXY_ORIGIN_SERVER_TTL")) {
    const auto ns = go_duration_ns(*v);
    if (!ns || *ns < 1e9 || *ns > 86400e9)
      env_fail("PROXY_ORIGIN_SERVER_TTL", *v,
               "is not a duration from 1s to 24h like \"45s\" or \"2m\"");
    // Redis TTLs are whole seconds: round up, never shorter than asked.
    b.server_ttl_s = static_cast<uint32_t>((*ns + 1e9 - 1) / 1e9);
    took("PROXY_ORIGIN_SERVER_TTL", *v,
         "balancer.server_ttl_s = " + std::to_string(b.server_ttl_s));
  }

  // The default backend: every variable checked when set, used when enabled.
  DefaultBackend d;
  bool enabled = false;
  if (auto v = env_value("PROXY_DEFAULT_BACKEND_ENABLED"))
    enabled = env_bool("PROXY_DEFAULT_BACKEND_ENABLED", *v);
  const auto ip_text = env_value("PROXY_DEFAULT_BACKEND_IP");
  std::optional<net::IpAddr> ip;
  if (ip_text) {
    ip = net::IpAddr::parse(*ip_text);
    if (!ip) env_fail("PROXY_DEFAULT_BACKEND_IP", *ip_text, "is not an IPv4 or IPv6 address");
  }
  const auto srt_text = env_value("PROXY_DEFAULT_BACKEND_SRT");
  if (srt_text)
    d.srt_port = static_cast<uint16_t>(
        env_int("PROXY_DEFAULT_BACKEND_SRT", *srt_text, 1, 65535, "is not a UDP port"));
  if (auto v = env_value("PROXY_DEFAULT_BACKEND_RTMP"))
    d.rtmp = env_token("PROXY_DEFAULT_BACKEND_RTMP", *v);
  if (auto v = env_value("PROXY_DEFAULT_BACKEND_API"))
    d.api = env_token("PROXY_DEFAULT_BACKEND_API", *v);
  if (auto v = env_value("PROXY_DEFAULT_BACKEND_RTC"))
    d.rtc = env_token("PROXY_DEFAULT_BACKEND_RTC", *v);
  if (auto v = env_value("PROXY_DEFAULT_BACKEND_HTTP"))
    d.http = env_token("PROXY_DEFAULT_BACKEND_HTTP", *v);
  if (enabled) {
    // The Go proxy's default IP; an origin srtfwd reaches through a
    // [[port]] wants PROXY_DEFAULT_BACKEND_IP.
    if (!ip) ip = net::IpAddr::parse("127.0.0.1");
    d.ip = ip->to_string();
    c.default_backend = d;
    if (b.type == "memory") {
      control::StaticBackend sb;
      sb.ip = *ip;
      sb.srt_port = d.srt_port;
      b.backends.push_back(sb);
    }
    const std::string where = b.type == "memory" ? "a static backend" : "registered in Redis";
    took("PROXY_DEFAULT_BACKEND_ENABLED", "on", "default backend " + where);
    if (ip_text) took("PROXY_DEFAULT_BACKEND_IP", *ip_text, "default backend ip");
    if (srt_text) took("PROXY_DEFAULT_BACKEND_SRT", *srt_text, "default backend srt port");
  } else {
    c.default_backend.reset();
  }
  return applied;
}

}  // namespace srtfwd::app

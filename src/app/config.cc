#include "srtfwd/app/config.h"

#include <toml.hpp>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

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

int64_t get_int(const Table& t, const std::string& where, const char* key, int64_t def,
                int64_t lo, int64_t hi) {
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

void parse_host_port(const std::string& key, const std::string& s, std::string* host,
                     uint16_t* port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) fail(key, "\"" + s + "\" is not HOST:PORT");
  std::string h = s.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  auto r = std::from_chars(s.data() + colon + 1, s.data() + s.size(), p);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || p < 1 || p > 65535)
    fail(key, "\"" + s + "\" has no valid port");
  *host = h;
  *port = static_cast<uint16_t>(p);
}

Config build(const toml::value& doc) {
  if (!doc.is_table()) fail("config", "not a TOML table");
  const Table& root = doc.as_table();
  only_keys(root, "", {"port", "srt", "balancer", "backend", "admin", "dataplane"});
  Config c;

  // [[port]]
  const auto ports = get_array_of_tables(root, "port");
  if (ports.empty()) fail("port", "at least one [[port]] table is required");
  for (size_t i = 0; i < ports.size(); ++i) {
    const Table& t = *ports[i];
    const std::string w = "port[" + std::to_string(i) + "]";
    only_keys(t, w, {"ipv4", "ipv6", "gateway", "gateway6", "vlan"});
    dataplane::PortOptions po;
    control::PortRoute route;
    if (auto s = get_str(t, w, "ipv4", ""); !s.empty()) {
      auto p = net::Prefix::parse(s);
      if (!p || !p->addr.is_v4()) fail(w + ".ipv4", "\"" + s + "\" is not an IPv4 address/prefix like \"198.18.0.1/24\"");
      po.ipv4 = *p;
    }
    if (auto s = get_str(t, w, "ipv6", ""); !s.empty()) {
      auto p = net::Prefix::parse(s);
      if (!p || p->addr.is_v4()) fail(w + ".ipv6", "\"" + s + "\" is not an IPv6 address/prefix like \"2001:db8::1/64\"");
      po.ipv6 = *p;
    }
    if (!po.ipv4 && !po.ipv6) fail(w, "needs ipv4 or ipv6 (or both)");
    if (const toml::value* v = find(t, "vlan")) {
      // 0 and 4095 are reserved VIDs (priority tag, implementation use).
      if (!v->is_integer() || v->as_integer() < 1 || v->as_integer() > net::kVlanIdMax)
        fail(w + ".vlan", "must be an 802.1Q VLAN ID from 1 to 4094 (leave it out for an untagged port)");
      po.vlan = static_cast<uint16_t>(v->as_integer());
    }
    if (auto s = get_str(t, w, "gateway", ""); !s.empty()) {
      auto g = parse_ip(w + ".gateway", s);
      if (!g.is_v4()) fail(w + ".gateway", "must be an IPv4 address (use gateway6 for IPv6)");
      if (!po.ipv4) fail(w + ".gateway", "given without ipv4");
      if (!po.ipv4->contains(g)) fail(w + ".gateway", "\"" + s + "\" is outside " + po.ipv4->to_string());
      route.gateway4 = g;
    }
    if (auto s = get_str(t, w, "gateway6", ""); !s.empty()) {
      auto g = parse_ip(w + ".gateway6", s);
      if (g.is_v4()) fail(w + ".gateway6", "must be an IPv6 address");
      if (!po.ipv6) fail(w + ".gateway6", "given without ipv6");
      route.gateway6 = g;
    }
    c.dataplane.ports.push_back(po);
    c.control.routes.push_back(route);
  }

  // [srt]
  if (const Table* t = get_table(root, "srt")) {
    only_keys(*t, "srt", {"listen", "leg_ports", "idle_timeout_ms", "shutdown_grace_ms",
                          "backend_retry_ms", "backend_timeout_ms", "max_handshakes",
                          "cookie_bucket_s", "drain_timeout_ms"});
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
    c.control.idle_timeout_ms = static_cast<uint32_t>(get_int(*t, "srt", "idle_timeout_ms", c.control.idle_timeout_ms, 100, 3600000));
    c.control.shutdown_grace_ms = static_cast<uint32_t>(get_int(*t, "srt", "shutdown_grace_ms", c.control.shutdown_grace_ms, 0, 60000));
    c.control.backend_retry_ms = static_cast<uint32_t>(get_int(*t, "srt", "backend_retry_ms", c.control.backend_retry_ms, 10, 10000));
    c.control.backend_timeout_ms = static_cast<uint32_t>(get_int(*t, "srt", "backend_timeout_ms", c.control.backend_timeout_ms, 50, 60000));
    c.control.max_handshakes = static_cast<uint32_t>(get_int(*t, "srt", "max_handshakes", c.control.max_handshakes, 1, 1 << 20));
    c.control.cookie_bucket_s = static_cast<uint32_t>(get_int(*t, "srt", "cookie_bucket_s", c.control.cookie_bucket_s, 1, 3600));
    c.control.drain_timeout_ms = static_cast<uint32_t>(get_int(*t, "srt", "drain_timeout_ms", c.control.drain_timeout_ms, 0, 3600000));
  }
  for (uint16_t p : c.control.listen_ports)
    if (p >= c.control.leg_port_min && p <= c.control.leg_port_max)
      fail("srt.leg_ports", "overlaps listen port " + std::to_string(p));

  // [balancer]
  if (const Table* t = get_table(root, "balancer")) {
    only_keys(*t, "balancer", {"type", "redis", "password", "db", "server_ttl_s"});
    c.control.balancer.type = get_str(*t, "balancer", "type", "memory");
    if (c.control.balancer.type != "memory" && c.control.balancer.type != "redis")
      fail("balancer.type", "\"" + c.control.balancer.type + "\" is neither \"memory\" nor \"redis\"");
    if (auto s = get_str(*t, "balancer", "redis", ""); !s.empty())
      parse_host_port("balancer.redis", s, &c.control.balancer.redis_host, &c.control.balancer.redis_port);
    c.control.balancer.redis_password = get_str(*t, "balancer", "password", "");
    c.control.balancer.redis_db = static_cast<int>(get_int(*t, "balancer", "db", 0, 0, 1 << 16));
    c.control.balancer.server_ttl_s = static_cast<uint32_t>(get_int(*t, "balancer", "server_ttl_s", c.control.balancer.server_ttl_s, 1, 86400));
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
    only_keys(*t, "admin", {"listen"});
    const std::string l = get_str(*t, "admin", "listen", "127.0.0.1:12025");
    if (l.empty()) {
      c.admin.enabled = false;
    } else {
      parse_host_port("admin.listen", l, &c.admin.host, &c.admin.port);
    }
  }

  // [dataplane]: sizing and back-off (optional; defaults fit 1 GiB).
  if (const Table* t = get_table(root, "dataplane")) {
    only_keys(*t, "dataplane", {"sessions", "mbufs", "rx_descriptors", "tx_descriptors",
                                "control_ring", "idle_polls", "idle_sleep_us"});
    auto& d = c.dataplane;
    d.sessions = static_cast<uint32_t>(get_int(*t, "dataplane", "sessions", d.sessions, 1, 1 << 26));
    d.mbufs = static_cast<uint32_t>(get_int(*t, "dataplane", "mbufs", d.mbufs, 1023, 1 << 24));
    d.rx_descriptors = static_cast<uint16_t>(get_int(*t, "dataplane", "rx_descriptors", d.rx_descriptors, 64, 16384));
    d.tx_descriptors = static_cast<uint16_t>(get_int(*t, "dataplane", "tx_descriptors", d.tx_descriptors, 64, 16384));
    d.control_ring = static_cast<uint32_t>(get_int(*t, "dataplane", "control_ring", d.control_ring, 64, 1 << 20));
    if ((d.control_ring & (d.control_ring - 1)) != 0)
      fail("dataplane.control_ring", "must be a power of two");
    d.idle_polls = static_cast<uint32_t>(get_int(*t, "dataplane", "idle_polls", d.idle_polls, 1, 1 << 30));
    d.idle_sleep_us = static_cast<uint32_t>(get_int(*t, "dataplane", "idle_sleep_us", d.idle_sleep_us, 0, 100000));
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
  } catch (const std::exception& e) {
    throw ConfigError(origin + ": " + one_line(e.what()));
  }
  return build(doc);
}

Config load_config(const std::string& path) {
  toml::value doc;
  try {
    doc = toml::parse(path);
  } catch (const std::runtime_error& e) {
    throw ConfigError(path + ": " + one_line(e.what()));
  }
  return build(doc);
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

void apply_environment(Config& c) {
  auto& b = c.control.balancer;
  if (const char* h = std::getenv("PROXY_REDIS_HOST"); h && *h) b.redis_host = h;
  if (const char* p = std::getenv("PROXY_REDIS_PORT"); p && *p) {
    int v = 0;
    auto r = std::from_chars(p, p + std::char_traits<char>::length(p), v);
    if (r.ec != std::errc() || v < 1 || v > 65535)
      throw ConfigError(std::string("PROXY_REDIS_PORT: \"") + p + "\" is not a TCP port");
    b.redis_port = static_cast<uint16_t>(v);
  }
  if (const char* pw = std::getenv("PROXY_REDIS_PASSWORD"); pw) b.redis_password = pw;
  if (const char* db = std::getenv("PROXY_REDIS_DB"); db && *db) {
    int v = 0;
    auto r = std::from_chars(db, db + std::char_traits<char>::length(db), v);
    if (r.ec != std::errc() || v < 0) throw ConfigError(std::string("PROXY_REDIS_DB: \"") + db + "\" is not a database number");
    b.redis_db = v;
  }
}

}  // namespace srtfwd::app

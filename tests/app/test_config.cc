// The configuration: named defaults, every documented key, and one-line
// errors that name the key.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "srtfwd/app/config.h"

using srtfwd::app::Config;
using srtfwd::app::ConfigError;
using srtfwd::app::parse_config;

namespace {

// The minimal form of the README's configuration example.
const char* kMinimal = R"(
[[port]]
ipv4 = "198.18.0.1/24"
[srt]
listen = [10080]
leg_ports = "20000-59999"
idle_timeout_ms = 5000
[balancer]
type = "memory"
[[backend]]
ip = "198.18.1.2"
srt = 10080
[admin]
listen = "127.0.0.1:12025"
)";

std::string error_of(const std::string& text) {
  try {
    parse_config(text);
  } catch (const ConfigError& e) { return e.what(); }
  return "";
}

}  // namespace

TEST(Config, MinimalFormFromTheDesign) {
  const Config c = parse_config(kMinimal);
  ASSERT_EQ(c.dataplane.ports.size(), 1u);
  EXPECT_EQ(c.dataplane.ports[0].ipv4->to_string(), "198.18.0.1/24");
  EXPECT_FALSE(c.dataplane.ports[0].ipv6.has_value());
  EXPECT_EQ(c.control.listen_ports, std::vector<uint16_t>{10080});
  EXPECT_EQ(c.control.leg_port_min, 20000);
  EXPECT_EQ(c.control.leg_port_max, 59999);
  EXPECT_EQ(c.control.idle_timeout_ms, 5000u);
  EXPECT_EQ(c.control.balancer.type, "memory");
  ASSERT_EQ(c.control.balancer.backends.size(), 1u);
  EXPECT_EQ(c.control.balancer.backends[0].ip.to_string(), "198.18.1.2");
  EXPECT_EQ(c.control.balancer.backends[0].srt_port, 10080);
  EXPECT_EQ(c.admin.host, "127.0.0.1");
  EXPECT_EQ(c.admin.port, 12025);
  // Defaults that must fit --no-huge -m 1024.
  EXPECT_EQ(c.dataplane.sessions, 65536u);
  EXPECT_EQ(c.dataplane.mbufs, 16383u);
}

TEST(Config, Ipv6AndGateways) {
  const Config c = parse_config(R"(
[[port]]
ipv4 = "198.18.0.1/24"
ipv6 = "2001:db8::1/64"
gateway = "198.18.0.254"
gateway6 = "2001:db8::fe"
[[port]]
ipv6 = "2001:db8:1::1/64"
[balancer]
type = "redis"
redis = "[::1]:6380"
[[backend]]
ip = "2001:db8:1::2"
)");
  ASSERT_EQ(c.dataplane.ports.size(), 2u);
  EXPECT_EQ(c.dataplane.ports[0].ipv6->to_string(), "2001:db8::1/64");
  EXPECT_EQ(c.control.routes[0].gateway4->to_string(), "198.18.0.254");
  EXPECT_EQ(c.control.routes[0].gateway6->to_string(), "2001:db8::fe");
  EXPECT_FALSE(c.dataplane.ports[1].ipv4.has_value());
  EXPECT_EQ(c.control.balancer.redis_host, "::1");
  EXPECT_EQ(c.control.balancer.redis_port, 6380);
  EXPECT_EQ(c.control.balancer.backends[0].srt_port, 10080);  // default
}

TEST(Config, BalancerSentinels) {
  const Config c = parse_config(R"(
[[port]]
ipv4 = "198.18.0.1/24"
[balancer]
type = "redis"
sentinels = ["198.18.0.9:26379", "[2001:2::9]:26380", "sentinel.example:26381"]
master_name = "srs"
sentinel_password = "spw"
password = "mpw"
db = 2
)");
  const auto& b = c.control.balancer;
  ASSERT_EQ(b.sentinels.size(), 3u);
  EXPECT_EQ(b.sentinels[0].host, "198.18.0.9");
  EXPECT_EQ(b.sentinels[0].port, 26379);
  EXPECT_EQ(b.sentinels[1].host, "2001:2::9");
  EXPECT_EQ(b.sentinels[1].port, 26380);
  EXPECT_EQ(b.sentinels[2].host, "sentinel.example");
  EXPECT_EQ(b.master_name, "srs");
  EXPECT_EQ(b.sentinel_password, "spw");
  // The master's own AUTH and database still apply.
  EXPECT_EQ(b.redis_password, "mpw");
  EXPECT_EQ(b.redis_db, 2);
  // Without sentinels: none, and the plain Redis address.
  const Config plain =
      parse_config("[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"redis\"\n");
  EXPECT_TRUE(plain.control.balancer.sentinels.empty());
  EXPECT_EQ(plain.control.balancer.sentinel_password, "");
}

TEST(Config, PortVlan) {
  // Absent: an untagged port; given: the VLAN of that port only.
  const Config c = parse_config(R"(
[[port]]
ipv4 = "198.18.0.1/24"
vlan = 100
[[port]]
ipv4 = "198.18.1.1/24"
[[port]]
ipv6 = "2001:db8:2::1/64"
vlan = 4094
[[port]]
ipv4 = "198.18.3.1/24"
vlan = 1
)");
  ASSERT_EQ(c.dataplane.ports.size(), 4u);
  EXPECT_EQ(c.dataplane.ports[0].vlan, 100);
  EXPECT_EQ(c.dataplane.ports[1].vlan, 0);
  EXPECT_EQ(c.dataplane.ports[2].vlan, 4094);
  EXPECT_EQ(c.dataplane.ports[3].vlan, 1);
}

TEST(Config, PortVips) {
  // Absent: no VIP, not announced; given: IPv4 and IPv6 addresses of the
  // port's families, announced only when asked.
  const Config c = parse_config(R"(
[[port]]
ipv4 = "198.18.0.1/24"
ipv6 = "2001:2::1/64"
vips = ["198.18.200.1", "2001:2::200", "198.18.200.2"]
[[port]]
ipv4 = "198.18.1.1/24"
[[port]]
ipv4 = "198.18.2.1/24"
vips = ["198.18.201.1"]
announce_vips = true
)");
  ASSERT_EQ(c.dataplane.ports.size(), 3u);
  const auto& v = c.dataplane.ports[0].vips;
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].to_string(), "198.18.200.1");
  EXPECT_EQ(v[1].to_string(), "2001:2::200");
  EXPECT_EQ(v[2].to_string(), "198.18.200.2");
  EXPECT_FALSE(c.dataplane.ports[0].announce_vips);
  EXPECT_TRUE(c.dataplane.ports[1].vips.empty());
  EXPECT_FALSE(c.dataplane.ports[1].announce_vips);
  ASSERT_EQ(c.dataplane.ports[2].vips.size(), 1u);
  EXPECT_TRUE(c.dataplane.ports[2].announce_vips);
}

TEST(Config, VipErrorsNameTheKey) {
  const std::string port = "[[port]]\nipv4 = \"198.18.0.1/24\"\n";
  std::string seventeen = "vips = [";
  for (int i = 1; i <= 17; ++i)
    seventeen += (i > 1 ? ", " : "") + std::string("\"198.18.200.") + std::to_string(i) + "\"";
  seventeen += "]\n";
  struct Case {
    std::string text;
    const char* expect;
  } cases[] = {
      {port + "vips = \"198.18.200.1\"\n", "port[0].vips: must be an array of addresses"},
      {port + "vips = [1]\n", "port[0].vips: must be an array of addresses"},
      {port + "vips = [\"198.18.200.1/32\"]\n", "port[0].vips: \"198.18.200.1/32\" is not an"},
      {port + "vips = [\"vip\"]\n", "port[0].vips: \"vip\" is not an IPv4 or IPv6 address"},
      {port + "vips = [\"0.0.0.0\"]\n", "port[0].vips: \"0.0.0.0\" is not a unicast address"},
      {port + "vips = [\"239.1.1.1\"]\n", "port[0].vips: \"239.1.1.1\" is not a unicast"},
      {port + "vips = [\"2001:2::200\"]\n", "port[0].vips: \"2001:2::200\" needs the port's ipv6"},
      {port + "vips = [\"198.18.0.1\"]\n", "port[0].vips: \"198.18.0.1\" is port[0]'s own address"},
      {port + "vips = [\"198.18.200.1\", \"198.18.200.1\"]\n", "is listed twice"},
      {port + seventeen, "port[0].vips: more than 16 addresses"},
      {port + "vips = [\"198.18.1.1\"]\n[[port]]\nipv4 = \"198.18.1.1/24\"\n",
       "port[0].vips: \"198.18.1.1\" is port[1]'s own address"},
      {port +
           "vips = [\"198.18.9.9\"]\n[[port]]\nipv4 = \"198.18.1.1/24\"\nvips = [\"198.18.9.9\"]\n",
       "port[0].vips: \"198.18.9.9\" is also a VIP of port[1]"},
      {port + "announce_vips = 1\n", "port[0].announce_vips: must be true or false"},
  };
  for (const auto& k : cases) {
    const std::string e = error_of(k.text);
    EXPECT_NE(e.find(k.expect), std::string::npos) << k.text << " -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

TEST(Config, ErrorsNameTheKeyInOneLine) {
  struct Case {
    const char* text;
    const char* expect;  // substring of the message
  } cases[] = {
      {"", "port: at least one [[port]]"},
      {"[[port]]\nipv4 = \"198.18.0.1/33\"\n", "port[0].ipv4:"},
      {"[[port]]\nipv4 = \"2001:db8::1/64\"\n", "port[0].ipv4:"},
      {"[[port]]\n", "port[0]: needs ipv4 or ipv6"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nipv4x = 1\n", "port[0].ipv4x: unknown key"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\ngateway = \"198.19.9.1\"\n", "port[0].gateway:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nvlan = 0\n",
       "port[0].vlan: must be an 802.1Q VLAN ID from 1 to 4094"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nvlan = 4095\n",
       "port[0].vlan: must be an 802.1Q VLAN ID from 1 to 4094"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nvlan = -3\n",
       "port[0].vlan: must be an 802.1Q VLAN ID"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nvlan = \"100\"\n",
       "port[0].vlan: must be an 802.1Q VLAN ID"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nlisten = [0]\n", "srt.listen:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nlisten = \"x\"\n", "srt.listen:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nleg_ports = \"9-2\"\n", "srt.leg_ports:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nlisten = [20001]\n",
       "srt.leg_ports: overlaps listen port 20001"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nidle_timeout_ms = 5\n",
       "srt.idle_timeout_ms: 5 is out of range"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"dns\"\n", "balancer.type:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\nredis = \"localhost\"\n",
       "balancer.redis:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\nunknown_stream_players = \"drop\"\n",
       "balancer.unknown_stream_players: \"drop\" is neither \"route\" nor \"reject\""},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\nunknown_stream_players = 1\n",
       "balancer.unknown_stream_players: must be a string"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[[backend]]\nsrt = 1\n", "backend[0].ip: is required"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[[backend]]\nip = \"nope\"\n", "backend[0].ip:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[admin]\nlisten = \"127.0.0.1\"\n", "admin.listen:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[admin]\nlisten = \"::1:12025\"\n",
       "admin.listen: \"::1:12025\" has an IPv6 address without brackets"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\nredis = \"127.0.0.1:0\"\n",
       "balancer.redis: \"127.0.0.1:0\" has no port 1-65535"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"redis\"\nsentinels = "
       "[\"198.18.0.9\"]\nmaster_name = \"m\"\n",
       "balancer.sentinels: \"198.18.0.9\" is not HOST:PORT"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"redis\"\nsentinels = "
       "\"198.18.0.9:26379\"\nmaster_name = \"m\"\n",
       "balancer.sentinels: must be a list of \"HOST:PORT\" strings"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"redis\"\nsentinels = [26379]\n"
       "master_name = \"m\"\n",
       "balancer.sentinels: must be a list of \"HOST:PORT\" strings"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"redis\"\nsentinels = "
       "[\"198.18.0.9:26379\"]\n",
       "balancer.master_name: is required with balancer.sentinels"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"redis\"\nsentinels = "
       "[\"198.18.0.9:26379\"]\nmaster_name = \"my master\"\n",
       "balancer.master_name: \"my master\" is not one printable word"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\nsentinels = [\"198.18.0.9:26379\"]\n"
       "master_name = \"m\"\n",
       "balancer.sentinels: need type = \"redis\""},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"redis\"\nmaster_name = \"m\"\n",
       "balancer.master_name: has no balancer.sentinels to ask"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[dataplane]\ncontrol_ring = 1000\n",
       "dataplane.control_ring: must be a power of two"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[typo]\n", "typo: unknown key"},
      {"[[port]\n", "config:"},  // TOML syntax error
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.expect), std::string::npos) << "config:\n" << c.text << "\nerror: " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "not one line: " << e;
  }
}

TEST(Config, LimitsAndHooks) {
  const std::string base = "[[port]]\nipv4 = \"198.18.0.1/24\"\n";
  const Config d = parse_config(base);
  EXPECT_TRUE(d.control.limits.allow.empty());
  EXPECT_FALSE(d.control.limits.per_source());
  EXPECT_FALSE(d.control.hooks.any());
  EXPECT_EQ(d.control.hooks.timeout_ms, 500u);
  EXPECT_FALSE(d.control.hooks.allow_on_error);
  EXPECT_FALSE(d.control.hooks.server_id.empty());  // the host name
  const Config c = parse_config(base + R"(
[limits]
allow = ["198.18.0.0/15", "2001:2::/48"]
deny = ["198.18.9.9/32"]
max_handshakes_per_source = 4
max_sessions_per_source = 8
inductions_per_source_s = 20
source_slots = 1024
[hooks]
on_publish = "http://127.0.0.1:8085/api/v1/streams"
on_play = "http://hooks.example:80/play"
timeout_ms = 250
on_error = "allow"
max_in_flight = 16
server_id = "edge-1"
)");
  const auto& l = c.control.limits;
  ASSERT_EQ(l.allow.size(), 2u);
  EXPECT_TRUE(l.allow[1].contains(*srtfwd::net::IpAddr::parse("2001:2:0:5::1")));
  EXPECT_TRUE(l.deny[0].contains(*srtfwd::net::IpAddr::parse("198.18.9.9")));
  EXPECT_EQ(l.max_handshakes_per_source, 4u);
  EXPECT_EQ(l.max_sessions_per_source, 8u);
  EXPECT_EQ(l.inductions_per_source_s, 20u);
  EXPECT_EQ(l.source_slots, 1024u);
  const auto& h = c.control.hooks;
  EXPECT_EQ(h.on_publish, "http://127.0.0.1:8085/api/v1/streams");
  EXPECT_EQ(h.on_play, "http://hooks.example:80/play");
  EXPECT_EQ(h.timeout_ms, 250u);
  EXPECT_TRUE(h.allow_on_error);
  EXPECT_EQ(h.max_in_flight, 16u);
  EXPECT_EQ(h.server_id, "edge-1");
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"[limits]\nallow = \"198.18.0.0/15\"\n", "limits.allow: must be a list of CIDR prefixes"},
      {"[limits]\ndeny = [\"198.18.0.0/33\"]\n",
       "limits.deny: \"198.18.0.0/33\" is not an IPv4 or IPv6 prefix"},
      {"[limits]\ndeny = [1]\n", "limits.deny: must be a list of CIDR prefixes"},
      {"[limits]\nmax_sessions_per_source = -1\n",
       "limits.max_sessions_per_source: -1 is out of range"},
      {"[limits]\nsource_slots = 0\n", "limits.source_slots: 0 is out of range"},
      {"[hooks]\non_publish = \"https://h/x\"\n",
       "hooks.on_publish: \"https://h/x\" is not an http:// URL"},
      {"[hooks]\non_play = \"h:80/x\"\n", "hooks.on_play:"},
      {"[hooks]\ntimeout_ms = 1000\n", "hooks.timeout_ms: 1000 is out of range"},
      {"[hooks]\non_error = \"ignore\"\n",
       "hooks.on_error: \"ignore\" is neither \"reject\" nor \"allow\""},
      {"[hooks]\nmax_in_flight = 0\n", "hooks.max_in_flight: 0 is out of range"},
      {"[hooks]\nurl = \"http://h/\"\n", "hooks.url: unknown key"},
  };
  for (const auto& k : cases) {
    const std::string e = error_of(base + k.text);
    EXPECT_NE(e.find(k.expect), std::string::npos) << k.text << "\nerror: " << e;
  }
}

TEST(Config, DirectoryDefaultsAndKeys) {
  const std::string ports =
      "[[port]]\nipv6 = \"2001:2::1/64\"\n[[port]]\nipv4 = \"198.18.2.1/24\"\n"
      "[[port]]\nipv4 = \"198.18.3.1/24\"\n";
  const auto d = parse_config(ports).control.directory;
  EXPECT_TRUE(d.enabled);
  ASSERT_TRUE(d.address.has_value());
  EXPECT_EQ(d.address->to_string(), "198.18.2.1");  // the first IPv4 port's
  EXPECT_EQ(d.port, 19523);
  EXPECT_EQ(d.ttl_s, 30u);
  EXPECT_TRUE(d.peers.empty());
  const auto c = parse_config(ports +
                              "[directory]\nenabled = false\naddress = \"198.18.3.1\"\n"
                              "port = 6000\nttl_s = 60\npeers = [\"198.18.0.0/16\"]\n")
                     .control.directory;
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.address->to_string(), "198.18.3.1");
  EXPECT_EQ(c.port, 6000);
  EXPECT_EQ(c.ttl_s, 60u);
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_EQ(c.peers[0].to_string(), "198.18.0.0/16");
  // Without an IPv4 port there is no address: the directory stays off.
  EXPECT_FALSE(parse_config("[[port]]\nipv6 = \"2001:2::1/64\"\n").control.directory.address);
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"[directory]\nenabled = 1\n", "directory.enabled: must be true or false"},
      {"[directory]\naddress = \"198.18.9.9\"\n",
       "directory.address: \"198.18.9.9\" is not the ipv4 address of any [[port]]"},
      {"[directory]\naddress = \"2001:2::1\"\n", "directory.address: must be an IPv4 address"},
      {"[directory]\nport = 0\n", "directory.port: 0 is out of range"},
      {"[directory]\nport = 10080\n", "directory.port: is also an srt.listen port"},
      {"[directory]\nport = 30000\n", "directory.port: lies in srt.leg_ports"},
      {"[directory]\nttl_s = 1\n", "directory.ttl_s: 1 is out of range"},
      {"[directory]\npeers = [\"2001:2::/48\"]\n", "directory.peers: \"2001:2::/48\" is not IPv4"},
      {"[directory]\npeers = \"198.18.0.0/15\"\n", "directory.peers: must be a list of CIDR"},
      {"[directory]\nhop = 1\n", "directory.hop: unknown key"},
  };
  for (const auto& k : cases) {
    const std::string e = error_of(ports + k.text);
    EXPECT_NE(e.find(k.expect), std::string::npos) << k.text << "\nerror: " << e;
  }
}

TEST(Config, UnknownStreamPlayersRouteByDefault) {
  const std::string base = "[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\n";
  EXPECT_TRUE(parse_config(base).control.balancer.route_unknown_players);
  EXPECT_TRUE(parse_config(base + "unknown_stream_players = \"route\"\n")
                  .control.balancer.route_unknown_players);
  EXPECT_FALSE(parse_config(base + "unknown_stream_players = \"reject\"\n")
                   .control.balancer.route_unknown_players);
}

TEST(Config, FollowRebinding) {
  using srtfwd::control::FollowRebinding;
  const std::string base = "[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\n";
  const Config off = parse_config(base);
  EXPECT_EQ(off.control.follow_rebinding, FollowRebinding::kOff);
  EXPECT_EQ(off.control.rebinding_per_s, 100u);
  EXPECT_EQ(off.dataplane.miss_to_control_per_s, 0u);  // the miss gate closed
  const Config same = parse_config(base + "follow_rebinding = \"same_ip\"\n");
  EXPECT_EQ(same.control.follow_rebinding, FollowRebinding::kSameIp);
  EXPECT_EQ(same.dataplane.miss_to_control_per_s, 100u);
  const Config any = parse_config(base + "follow_rebinding = \"any_ip\"\nrebinding_per_s = 7\n");
  EXPECT_EQ(any.control.follow_rebinding, FollowRebinding::kAnyIp);
  EXPECT_EQ(any.control.rebinding_per_s, 7u);
  EXPECT_EQ(any.dataplane.miss_to_control_per_s, 7u);
  EXPECT_EQ(parse_config(base + "rebinding_per_s = 7\n").dataplane.miss_to_control_per_s, 0u);
  std::string e = error_of(base + "follow_rebinding = \"yes\"\n");
  EXPECT_NE(e.find("srt.follow_rebinding"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  e = error_of(base + "rebinding_per_s = 0\n");
  EXPECT_NE(e.find("srt.rebinding_per_s"), std::string::npos) << e;
}

TEST(Config, AdminCanBeDisabled) {
  const Config c = parse_config("[[port]]\nipv4 = \"198.18.0.1/24\"\n[admin]\nlisten = \"\"\n");
  EXPECT_FALSE(c.admin.enabled);
}

TEST(Config, RegisterToken) {
  const std::string base = "[[port]]\nipv4 = \"198.18.0.1/24\"\n[admin]\n";
  EXPECT_EQ(parse_config(base).admin.register_token, "");
  EXPECT_EQ(parse_config(base + "register_token = \"s3cret-T0k.en_~\"\n").admin.register_token,
            "s3cret-T0k.en_~");
  for (const char* bad : {"a b", "a&b", "a#b", "a%20", "a+b", "a/b", "a?b", "\\u00e9"}) {
    try {
      parse_config(base + "register_token = \"" + bad + "\"\n");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("admin.register_token"), std::string::npos) << e.what();
    }
  }
}

TEST(Config, RedisEnvironmentOverridesAsTheGoProxy) {
  Config c = parse_config(kMinimal);
  setenv("PROXY_REDIS_HOST", "198.18.5.5", 1);
  setenv("PROXY_REDIS_PORT", "6390", 1);
  setenv("PROXY_REDIS_PASSWORD", "pw", 1);
  setenv("PROXY_REDIS_DB", "3", 1);
  srtfwd::app::apply_environment(c);
  EXPECT_EQ(c.control.balancer.redis_host, "198.18.5.5");
  EXPECT_EQ(c.control.balancer.redis_port, 6390);
  EXPECT_EQ(c.control.balancer.redis_password, "pw");
  EXPECT_EQ(c.control.balancer.redis_db, 3);
  setenv("PROXY_REDIS_PORT", "x", 1);
  EXPECT_THROW(srtfwd::app::apply_environment(c), ConfigError);
  for (auto* v : {"PROXY_REDIS_HOST", "PROXY_REDIS_PORT", "PROXY_REDIS_PASSWORD", "PROXY_REDIS_DB"})
    unsetenv(v);
}

// The Go proxy's other variables (its proxy/internal/env): each overrides
// its key, says so in one line, and a bad value is one line naming it.
namespace {

const char* const kProxyVariables[] = {
    "PROXY_SRT_SERVER",
    "PROXY_SYSTEM_API",
    "PROXY_LOAD_BALANCER_TYPE",
    "PROXY_REDIS_HOST",
    "PROXY_REDIS_PORT",
    "PROXY_REDIS_PASSWORD",
    "PROXY_REDIS_DB",
    "PROXY_REDIS_KEY_PREFIX",
    "PROXY_ORIGIN_SERVER_TTL",
    "PROXY_DEFAULT_BACKEND_ENABLED",
    "PROXY_DEFAULT_BACKEND_IP",
    "PROXY_DEFAULT_BACKEND_SRT",
    "PROXY_DEFAULT_BACKEND_RTMP",
    "PROXY_DEFAULT_BACKEND_API",
    "PROXY_DEFAULT_BACKEND_RTC",
    "PROXY_DEFAULT_BACKEND_HTTP",
};

// Unsets every variable before and after a test.
struct CleanEnvironment {
  CleanEnvironment() { clear(); }
  ~CleanEnvironment() { clear(); }
  static void clear() {
    for (const char* v : kProxyVariables) unsetenv(v);
  }
};

std::string env_error_of(const char* name, const char* value, Config c = parse_config(kMinimal)) {
  CleanEnvironment clean;
  setenv(name, value, 1);
  try {
    (void)srtfwd::app::apply_environment(c);
  } catch (const ConfigError& e) { return e.what(); }
  return "";
}

bool has_line(const std::vector<std::string>& lines, const std::string& start) {
  for (const auto& l : lines)
    if (l.rfind(start, 0) == 0) return true;
  return false;
}

}  // namespace

TEST(ConfigEnvironment, NothingSetChangesNothing) {
  CleanEnvironment clean;
  Config c = parse_config(kMinimal);
  EXPECT_TRUE(srtfwd::app::apply_environment(c).empty());
  EXPECT_EQ(c.control.listen_ports, std::vector<uint16_t>{10080});
  EXPECT_EQ(c.admin.host, "127.0.0.1");
  EXPECT_EQ(c.control.balancer.key_prefix, "");
  EXPECT_EQ(c.control.balancer.server_ttl_s, 300u);
  EXPECT_FALSE(c.default_backend.has_value());
  ASSERT_EQ(c.control.balancer.backends.size(), 1u);
}

TEST(ConfigEnvironment, EveryVariableOverridesItsKeyAndIsLogged) {
  CleanEnvironment clean;
  Config c = parse_config(kMinimal);
  setenv("PROXY_SRT_SERVER", "10090", 1);
  setenv("PROXY_SYSTEM_API", "127.0.0.2:12026", 1);
  setenv("PROXY_LOAD_BALANCER_TYPE", "redis", 1);
  setenv("PROXY_REDIS_HOST", "198.18.5.5", 1);
  setenv("PROXY_REDIS_PASSWORD", "secret-pw", 1);
  setenv("PROXY_REDIS_KEY_PREFIX", "tenant1", 1);
  setenv("PROXY_ORIGIN_SERVER_TTL", "45s", 1);
  setenv("PROXY_DEFAULT_BACKEND_ENABLED", "on", 1);
  setenv("PROXY_DEFAULT_BACKEND_IP", "198.18.1.9", 1);
  setenv("PROXY_DEFAULT_BACKEND_SRT", "10081", 1);
  const auto lines = srtfwd::app::apply_environment(c);
  EXPECT_EQ(c.control.listen_ports, std::vector<uint16_t>{10090});
  EXPECT_EQ(c.admin.host, "127.0.0.2");
  EXPECT_EQ(c.admin.port, 12026);
  EXPECT_EQ(c.control.balancer.type, "redis");
  EXPECT_EQ(c.control.balancer.redis_host, "198.18.5.5");
  EXPECT_EQ(c.control.balancer.redis_password, "secret-pw");
  EXPECT_EQ(c.control.balancer.key_prefix, "tenant1");
  EXPECT_EQ(c.control.balancer.server_ttl_s, 45u);
  ASSERT_TRUE(c.default_backend.has_value());
  EXPECT_EQ(c.default_backend->ip, "198.18.1.9");
  EXPECT_EQ(c.default_backend->srt_port, 10081);
  EXPECT_EQ(c.default_backend->rtmp, "1935");  // the Go proxy's defaults
  EXPECT_EQ(c.default_backend->api, "1985");
  // Redis mode: registered, not a static backend.
  EXPECT_EQ(c.control.balancer.backends.size(), 1u);

  // One line per variable, the value shown except the password's.
  EXPECT_EQ(lines.size(), 10u);
  for (const char* v : {"PROXY_SRT_SERVER=10090", "PROXY_SYSTEM_API=127.0.0.2:12026",
                        "PROXY_LOAD_BALANCER_TYPE=redis", "PROXY_REDIS_HOST=198.18.5.5",
                        "PROXY_REDIS_PASSWORD=***", "PROXY_REDIS_KEY_PREFIX=tenant1",
                        "PROXY_ORIGIN_SERVER_TTL=45s", "PROXY_DEFAULT_BACKEND_ENABLED=on",
                        "PROXY_DEFAULT_BACKEND_IP=198.18.1.9", "PROXY_DEFAULT_BACKEND_SRT=10081"})
    EXPECT_TRUE(has_line(lines, v)) << v;
  for (const auto& l : lines) EXPECT_EQ(l.find("secret-pw"), std::string::npos) << l;
}

TEST(ConfigEnvironment, SrtServerTakesTheGoProxyForms) {
  for (const char* v : {"10090", ":10090", "0.0.0.0:10090", "[::]:10090"}) {
    CleanEnvironment clean;
    Config c = parse_config(kMinimal);
    setenv("PROXY_SRT_SERVER", v, 1);
    (void)srtfwd::app::apply_environment(c);
    EXPECT_EQ(c.control.listen_ports, std::vector<uint16_t>{10090}) << v;
  }
  // The Go proxy's default port is inside srtfwd's default leg ports.
  EXPECT_NE(env_error_of("PROXY_SRT_SERVER", "20080")
                .find("PROXY_SRT_SERVER: \"20080\" is inside srt.leg_ports"),
            std::string::npos);
  Config moved = parse_config(std::string(kMinimal) + "");
  moved.control.leg_port_min = 21000;
  EXPECT_EQ(env_error_of("PROXY_SRT_SERVER", "20080", moved), "");
}

TEST(ConfigEnvironment, SystemApiTakesTheGoProxyForms) {
  struct {
    const char* value;
    const char* host;
  } cases[] = {{"12030", "0.0.0.0"},
               {":12030", "0.0.0.0"},
               {"127.0.0.1:12030", "127.0.0.1"},
               {"[::1]:12030", "::1"}};
  for (const auto& k : cases) {
    CleanEnvironment clean;
    Config c = parse_config("[[port]]\nipv4 = \"198.18.0.1/24\"\n[admin]\nlisten = \"\"\n");
    setenv("PROXY_SYSTEM_API", k.value, 1);
    (void)srtfwd::app::apply_environment(c);
    EXPECT_TRUE(c.admin.enabled) << k.value;
    EXPECT_EQ(c.admin.host, k.host) << k.value;
    EXPECT_EQ(c.admin.port, 12030) << k.value;
  }
}

TEST(ConfigEnvironment, OriginServerTtlIsAGoDuration) {
  struct {
    const char* value;
    uint32_t seconds;
  } cases[] = {{"45s", 45},   {"2m", 120},    {"1h30m", 5400}, {"1.5s", 2},
               {"1500ms", 2}, {"+300s", 300}, {"24h", 86400}};
  for (const auto& k : cases) {
    CleanEnvironment clean;
    Config c = parse_config(kMinimal);
    setenv("PROXY_ORIGIN_SERVER_TTL", k.value, 1);
    (void)srtfwd::app::apply_environment(c);
    EXPECT_EQ(c.control.balancer.server_ttl_s, k.seconds) << k.value;
  }
}

TEST(ConfigEnvironment, DefaultBackendInMemoryModeIsAStaticBackend) {
  CleanEnvironment clean;
  Config c = parse_config("[[port]]\nipv4 = \"198.18.0.1/24\"\n");
  setenv("PROXY_DEFAULT_BACKEND_ENABLED", "true", 1);
  setenv("PROXY_DEFAULT_BACKEND_IP", "198.18.1.7", 1);
  (void)srtfwd::app::apply_environment(c);
  ASSERT_EQ(c.control.balancer.backends.size(), 1u);
  EXPECT_EQ(c.control.balancer.backends[0].ip.to_string(), "198.18.1.7");
  EXPECT_EQ(c.control.balancer.backends[0].srt_port, 10080);  // the Go proxy's default
  // Off (the Go proxy's default): the other variables are checked, not used.
  Config off = parse_config("[[port]]\nipv4 = \"198.18.0.1/24\"\n");
  setenv("PROXY_DEFAULT_BACKEND_ENABLED", "off", 1);
  (void)srtfwd::app::apply_environment(off);
  EXPECT_TRUE(off.control.balancer.backends.empty());
  EXPECT_FALSE(off.default_backend.has_value());
  // Enabled without an IP: the Go proxy's 127.0.0.1.
  Config local = parse_config("[[port]]\nipv4 = \"198.18.0.1/24\"\n");
  unsetenv("PROXY_DEFAULT_BACKEND_IP");
  setenv("PROXY_DEFAULT_BACKEND_ENABLED", "on", 1);
  (void)srtfwd::app::apply_environment(local);
  ASSERT_TRUE(local.default_backend.has_value());
  EXPECT_EQ(local.default_backend->ip, "127.0.0.1");
}

TEST(ConfigEnvironment, BadValuesAreOneLineNamingTheVariable) {
  struct {
    const char* name;
    const char* value;
  } cases[] = {
      {"PROXY_SRT_SERVER", "x"},
      {"PROXY_SRT_SERVER", "0"},
      {"PROXY_SRT_SERVER", "70000"},
      {"PROXY_SRT_SERVER", "198.18.0.1:10090"},
      {"PROXY_SYSTEM_API", "abc"},
      {"PROXY_SYSTEM_API", "example.com:12025"},
      {"PROXY_SYSTEM_API", "::1:12025"},  // IPv6 without brackets
      {"PROXY_LOAD_BALANCER_TYPE", "dns"},
      {"PROXY_REDIS_PORT", "x"},
      {"PROXY_REDIS_DB", "-1"},
      {"PROXY_REDIS_KEY_PREFIX", "a\nb"},
      {"PROXY_ORIGIN_SERVER_TTL", "300"},  // Go wants a unit
      {"PROXY_ORIGIN_SERVER_TTL", "0"},
      {"PROXY_ORIGIN_SERVER_TTL", "-5s"},
      {"PROXY_ORIGIN_SERVER_TTL", "500ms"},
      {"PROXY_ORIGIN_SERVER_TTL", "5x"},
      {"PROXY_ORIGIN_SERVER_TTL", "25h"},
      {"PROXY_DEFAULT_BACKEND_ENABLED", "yes please"},
      {"PROXY_DEFAULT_BACKEND_IP", "origin.example"},
      {"PROXY_DEFAULT_BACKEND_SRT", "0"},
      {"PROXY_DEFAULT_BACKEND_RTMP", "19 35"},
      {"PROXY_DEFAULT_BACKEND_API", "\"1985\""},
      {"PROXY_DEFAULT_BACKEND_RTC",
       "88888888888888888888888888888888888888888888888888888888888888888"},
      {"PROXY_DEFAULT_BACKEND_HTTP", "80\x7f"},
  };
  for (const auto& k : cases) {
    const std::string e = env_error_of(k.name, k.value);
    EXPECT_EQ(e.rfind(std::string(k.name) + ": \"", 0), 0u)
        << k.name << "=" << k.value << " -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "not one line: " << e;
  }
}

TEST(ConfigEnvironment, DefaultStreamIdIsCheckedAndCanBeOff) {
  const Config c = parse_config(kMinimal);
  EXPECT_EQ(c.control.default_streamid, "#!::r=live/livestream,m=publish");  // SRS's
  const Config off =
      parse_config("[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\ndefault_streamid = \"\"\n");
  EXPECT_EQ(off.control.default_streamid, "");
  EXPECT_NE(
      error_of("[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\ndefault_streamid = \"#!::m=publish\"\n")
          .find("srt.default_streamid: \"#!::m=publish\": no resource"),
      std::string::npos);
}

// SIGHUP: which changed keys a reload cannot apply.
TEST(ConfigReload, RestartOnlyChangesNameTheKeysAReloadLeaves) {
  using srtfwd::app::restart_only_changes;
  const std::string base = kMinimal;
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    const auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  EXPECT_TRUE(restart_only_changes(base, base).empty());
  // Comments, spacing and number spelling change no value.
  EXPECT_TRUE(restart_only_changes(
                  base, "# a comment\n" + replaced("listen = [10080]", "listen = [ 10_080 ]"))
                  .empty());
  // The reloadable keys: backends (changed, added, removed) and the idle timeout.
  EXPECT_TRUE(
      restart_only_changes(base, replaced("ip = \"198.18.1.2\"", "ip = \"198.18.1.9\"")).empty());
  EXPECT_TRUE(restart_only_changes(base, base + "[[backend]]\nip = \"198.18.1.3\"\n").empty());
  EXPECT_TRUE(
      restart_only_changes(base, replaced("idle_timeout_ms = 5000", "idle_timeout_ms = 900"))
          .empty());
  EXPECT_TRUE(restart_only_changes(base, replaced("idle_timeout_ms = 5000", "")).empty());
  // Everything else is named, key by key inside a table.
  using V = std::vector<std::string>;
  EXPECT_EQ(restart_only_changes(
                base, replaced("leg_ports = \"20000-59999\"", "leg_ports = \"30000-39999\"")),
            V{"srt.leg_ports"});
  EXPECT_EQ(restart_only_changes(base, replaced("idle_timeout_ms = 5000",
                                                "idle_timeout_ms = 900\ndrain_timeout_ms = 10")),
            V{"srt.drain_timeout_ms"});
  EXPECT_EQ(restart_only_changes(base, replaced("198.18.0.1/24", "198.18.0.7/24")), V{"port"});
  EXPECT_EQ(restart_only_changes(base, replaced("type = \"memory\"", "type = \"redis\"")),
            V{"balancer.type"});
  EXPECT_EQ(restart_only_changes(base, base + "[dataplane]\nsessions = 4096\n"),
            V{"dataplane.sessions"});
}

TEST(ConfigReload, AnUnreadableFileIsOneLineNamingIt) {
  try {
    srtfwd::app::read_config_text("/nonexistent/srtfwd.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("/nonexistent/srtfwd.toml: cannot read: ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(ConfigReload, AnEmptyFileReadsAsEmpty) {
  char path[] = "/tmp/srtfwd-config-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(srtfwd::app::read_config_text(path), "");
  unlink(path);
}

// A file with this content, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    const int fd = mkstemp(path_);
    if (fd >= 0) {
      if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) path_[0] = 0;
      close(fd);
    }
  }
  ~TempFile() { unlink(path_); }
  std::string path() const { return path_; }

 private:
  char path_[32] = "/tmp/srtfwd-config-XXXXXX";
};

std::string load_error_of(const std::string& text) {
  TempFile f(text);
  try {
    srtfwd::app::load_config(f.path());
  } catch (const ConfigError& e) { return e.what(); }
  return "";
}

TEST(Config, CookieSecretFileIsReadAtStart) {
  EXPECT_EQ(parse_config(kMinimal).control.cookie_secret_file, "");  // random secret
  TempFile secret("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
  const std::string text =
      std::string(kMinimal).replace(std::string(kMinimal).find("[srt]\n"), 6,
                                    "[srt]\ncookie_secret_file = \"" + secret.path() + "\"\n");
  TempFile config(text);
  EXPECT_EQ(srtfwd::app::load_config(config.path()).control.cookie_secret_file, secret.path());

  // Too short, missing: refused at start, one line naming the key.
  TempFile short_secret("0011223344556677\n");
  for (const std::string& path : {short_secret.path(), std::string("/nonexistent/secret")}) {
    const std::string bad = std::string(kMinimal).replace(
        std::string(kMinimal).find("[srt]\n"), 6, "[srt]\ncookie_secret_file = \"" + path + "\"\n");
    const std::string e = load_error_of(bad);
    EXPECT_EQ(e.rfind("srt.cookie_secret_file: " + path + ": ", 0), 0u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_NE(load_error_of(std::string(kMinimal).replace(
                              std::string(kMinimal).find("[srt]\n"), 6,
                              "[srt]\ncookie_secret_file = \"" + short_secret.path() + "\"\n"))
                .find("too short"),
            std::string::npos);
}

TEST(Config, BgpHooks) {
  const Config d = parse_config(kMinimal);
  EXPECT_EQ(d.bgp.ready_command, "");
  EXPECT_EQ(d.bgp.draining_command, "");
  EXPECT_EQ(d.bgp.withdraw_wait_ms, 0u);
  const Config c = parse_config(std::string(kMinimal) + R"(
[bgp]
ready_command = "birdc enable srtfwd_vips"
draining_command = "birdc disable srtfwd_vips"
withdraw_wait_ms = 3000
)");
  EXPECT_EQ(c.bgp.ready_command, "birdc enable srtfwd_vips");
  EXPECT_EQ(c.bgp.draining_command, "birdc disable srtfwd_vips");
  EXPECT_EQ(c.bgp.withdraw_wait_ms, 3000u);
  EXPECT_NE(error_of(std::string(kMinimal) + "[bgp]\nwithdraw_wait_ms = 60001\n")
                .find("bgp.withdraw_wait_ms"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[bgp]\nwithdraw_wait_ms = -1\n")
                .find("bgp.withdraw_wait_ms"),
            std::string::npos);
  EXPECT_NE(
      error_of(std::string(kMinimal) + "[bgp]\nready_command = 1\n").find("bgp.ready_command"),
      std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[bgp]\nannounce = true\n")
                .find("bgp.announce: unknown key"),
            std::string::npos);
}

// The configuration: named defaults, every documented key, and one-line
// errors that name the key.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "srtfwd/app/config.h"

using srtfwd::app::Config;
using srtfwd::app::ConfigError;
using srtfwd::app::parse_config;

namespace {

// The minimal form of DESIGN.md "Interface".
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
  } catch (const ConfigError& e) {
    return e.what();
  }
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
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nvlan = 0\n", "port[0].vlan: must be an 802.1Q VLAN ID from 1 to 4094"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nvlan = 4095\n", "port[0].vlan: must be an 802.1Q VLAN ID from 1 to 4094"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nvlan = -3\n", "port[0].vlan: must be an 802.1Q VLAN ID"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\nvlan = \"100\"\n", "port[0].vlan: must be an 802.1Q VLAN ID"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nlisten = [0]\n", "srt.listen:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nlisten = \"x\"\n", "srt.listen:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nleg_ports = \"9-2\"\n", "srt.leg_ports:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nlisten = [20001]\n", "srt.leg_ports: overlaps listen port 20001"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[srt]\nidle_timeout_ms = 5\n", "srt.idle_timeout_ms: 5 is out of range"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\ntype = \"dns\"\n", "balancer.type:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[balancer]\nredis = \"localhost\"\n", "balancer.redis:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[[backend]]\nsrt = 1\n", "backend[0].ip: is required"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[[backend]]\nip = \"nope\"\n", "backend[0].ip:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[admin]\nlisten = \"127.0.0.1\"\n", "admin.listen:"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[dataplane]\ncontrol_ring = 1000\n", "dataplane.control_ring: must be a power of two"},
      {"[[port]]\nipv4 = \"198.18.0.1/24\"\n[typo]\n", "typo: unknown key"},
      {"[[port]\n", "config:"},  // TOML syntax error
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.expect), std::string::npos) << "config:\n" << c.text << "\nerror: " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "not one line: " << e;
  }
}

TEST(Config, AdminCanBeDisabled) {
  const Config c = parse_config("[[port]]\nipv4 = \"198.18.0.1/24\"\n[admin]\nlisten = \"\"\n");
  EXPECT_FALSE(c.admin.enabled);
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
  EXPECT_TRUE(restart_only_changes(base, "# a comment\n" + replaced("listen = [10080]", "listen = [ 10_080 ]")).empty());
  // The reloadable keys: backends (changed, added, removed) and the idle timeout.
  EXPECT_TRUE(restart_only_changes(base, replaced("ip = \"198.18.1.2\"", "ip = \"198.18.1.9\"")).empty());
  EXPECT_TRUE(restart_only_changes(base, base + "[[backend]]\nip = \"198.18.1.3\"\n").empty());
  EXPECT_TRUE(restart_only_changes(base, replaced("idle_timeout_ms = 5000", "idle_timeout_ms = 900")).empty());
  EXPECT_TRUE(restart_only_changes(base, replaced("idle_timeout_ms = 5000", "")).empty());
  // Everything else is named, key by key inside a table.
  using V = std::vector<std::string>;
  EXPECT_EQ(restart_only_changes(base, replaced("leg_ports = \"20000-59999\"", "leg_ports = \"30000-39999\"")),
            V{"srt.leg_ports"});
  EXPECT_EQ(restart_only_changes(base, replaced("idle_timeout_ms = 5000",
                                                "idle_timeout_ms = 900\ndrain_timeout_ms = 10")),
            V{"srt.drain_timeout_ms"});
  EXPECT_EQ(restart_only_changes(base, replaced("198.18.0.1/24", "198.18.0.7/24")), V{"port"});
  EXPECT_EQ(restart_only_changes(base, replaced("type = \"memory\"", "type = \"redis\"")), V{"balancer.type"});
  EXPECT_EQ(restart_only_changes(base, base + "[dataplane]\nsessions = 4096\n"), V{"dataplane.sessions"});
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

// The configuration: one validated struct built once from the TOML file, with
// named defaults (see README.md "Configuration" for every key). Every error
// names the key and the problem in one line.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "srtfwd/control/options.h"
#include "srtfwd/dataplane/dataplane.h"

namespace srtfwd::app {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct AdminOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 12025;
  bool enabled = true;  // listen = "" disables the admin listener
  // What POST /api/v1/srs/register must carry (?token= or Authorization:
  // Bearer); empty: the endpoint is open.
  std::string register_token;
};

// The Go proxy's debugging origin (PROXY_DEFAULT_BACKEND_*): a static
// backend in memory mode, a registration kept alive in Redis in redis mode.
struct DefaultBackend {
  std::string ip;
  uint16_t srt_port = 10080;
  // What the Go proxy registers beside SRT (its RTMP proxy needs rtmp[0] of
  // any origin in a shared Redis); not used by srtfwd.
  std::string rtmp = "1935", api = "1985", rtc = "8000", http;
};

// [bgp]: what srtfwd tells the host's BGP speaker (app/health.h).
struct BgpOptions {
  std::string ready_command;     // /bin/sh -c, once srtfwd is ready
  std::string draining_command;  // /bin/sh -c, first thing on SIGTERM
  // SIGTERM: keep serving everything (new callers too) this long after
  // draining_command starts, while the routers withdraw the route; then drain.
  uint32_t withdraw_wait_ms = 0;
};

struct Config {
  dataplane::Options dataplane;
  control::Options control;
  AdminOptions admin;
  BgpOptions bgp;
  std::optional<DefaultBackend> default_backend;
};

// Reads and validates a config file, and the files it names ([srt]
// cookie_secret_file). Throws ConfigError("key: problem").
Config load_config(const std::string& path);
// Same, from TOML text (tests). `origin` names the source in errors.
Config parse_config(const std::string& text, const std::string& origin = "config");
// The file's text, for parse_config() and restart_only_changes(). Throws
// ConfigError("path: cannot read: ...").
std::string read_config_text(const std::string& path);

// SIGHUP re-reads the config file and applies what is reloadable: the static
// [[backend]] list and [srt] idle_timeout_ms. Every other key needs a
// restart. restart_only_changes() names the keys (as "srt.listen", "port")
// whose values differ between two valid config texts, the reloadable ones
// left out: what a reload leaves as it was. Empty when nothing else changed.
std::vector<std::string> restart_only_changes(const std::string& running_text,
                                              const std::string& new_text);

// Applies the SRS Go proxy's environment variables (its proxy/internal/env),
// each overriding its config key: PROXY_SRT_SERVER ([srt] listen),
// PROXY_SYSTEM_API ([admin] listen), PROXY_LOAD_BALANCER_TYPE ([balancer]
// type), PROXY_REDIS_HOST/PORT/PASSWORD/DB ([balancer] redis, password, db),
// PROXY_REDIS_KEY_PREFIX, PROXY_ORIGIN_SERVER_TTL ([balancer] server_ttl_s)
// and PROXY_DEFAULT_BACKEND_ENABLED/IP/SRT (plus the RTMP/API/RTC/HTTP
// ports the Go proxy registers with it). An empty variable is unset, as
// for the Go proxy. Throws ConfigError("PROXY_X: problem") on a bad value.
// Returns one line per variable that took effect ("PROXY_X=value -> key"),
// a password shown as "***", for the start-up log.
std::vector<std::string> apply_environment(Config& c);

}  // namespace srtfwd::app

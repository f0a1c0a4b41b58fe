// The configuration: one validated struct built once from the TOML file, with
// named defaults (see README.md "Configuration" for every key). Every error
// names the key and the problem in one line.
#pragma once

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
};

struct Config {
  dataplane::Options dataplane;
  control::Options control;
  AdminOptions admin;
};

// Reads and validates a config file. Throws ConfigError("key: problem").
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

// Applies PROXY_REDIS_HOST/PORT/PASSWORD/DB from the environment, as the SRS
// Go proxy does (they override [balancer] redis).
void apply_environment(Config& c);

}  // namespace srtfwd::app

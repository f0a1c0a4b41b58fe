// The srtfwd process: EAL, config, data plane, control loop, admin thread,
// signals. `srtfwd [EAL options] -- --config FILE [--log-level LEVEL]`.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace srtfwd::control {
class ControlPlane;
}

namespace srtfwd::app {

struct Config;

// Extension points for test harnesses built on the same process (tests/):
// extra command-line options, and a callback on the control lcore once the
// ports are up, before the loop starts.
struct Hooks {
  std::function<void(CLI::App&)> add_options;
  // After the config file and the environment are read, before anything
  // uses them (a test bench adjusting the dataplane's options).
  std::function<void(Config&)> on_config;
  // After EAL and the command line, before the ports are set up (e.g. a
  // benchmark creating ring-based ports).
  std::function<void()> after_eal;
  std::function<void(control::ControlPlane&)> on_ready;
  // After the ports are closed, before the mbuf leak check and EAL clean-up.
  std::function<void()> on_shutdown;
};

int run(int argc, char** argv, const Hooks& hooks = {});

}  // namespace srtfwd::app

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

// Extension points for test harnesses built on the same process (tests/):
// extra command-line options, and a callback on the control lcore once the
// ports are up, before the loop starts.
struct Hooks {
  std::function<void(CLI::App&)> add_options;
  std::function<void(control::ControlPlane&)> on_ready;
};

int run(int argc, char** argv, const Hooks& hooks = {});

}  // namespace srtfwd::app

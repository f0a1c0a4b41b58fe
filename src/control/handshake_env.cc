#include "srtfwd/control/handshake_env.h"

namespace srtfwd::control {

const char* to_string(InstallStatus s) noexcept {
  switch (s) {
    case InstallStatus::kInstalled: return "installed";
    case InstallStatus::kNoRoute: return "no route";
    case InstallStatus::kUnresolved: return "next hop unresolved";
    case InstallStatus::kTableError: return "session table refused";
  }
  return "?";
}

}  // namespace srtfwd::control

// systemd's readiness protocol (sd_notify(3)) without libsystemd: one
// datagram of "KEY=VALUE\n..." to the AF_UNIX socket $NOTIFY_SOCKET names.
// Under Type=notify the unit is "started" only once READY=1 arrives, so a
// dependent unit or an operator's `systemctl start` waits until srtfwd
// answers ARP; STOPPING=1 and RELOADING=1 show the drain and a SIGHUP in
// `systemctl status`. Outside systemd (no NOTIFY_SOCKET) it does nothing.
#pragma once

#include <string>
#include <string_view>

namespace srtfwd::app {

// Sends `state` to $NOTIFY_SOCKET ("/path" or "@abstract"). Returns true
// when sent, false when NOTIFY_SOCKET is unset (not under systemd) or the
// send failed; *error (if given) says why in the latter case.
bool sd_notify(std::string_view state, std::string* error = nullptr);

// "RELOADING=1\nMONOTONIC_USEC=<now>" as Type=notify-reload (systemd 253+)
// requires, also accepted by older versions under Type=notify.
std::string sd_reloading_message();

}  // namespace srtfwd::app

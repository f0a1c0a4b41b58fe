#include "srtfwd/app/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace srtfwd::app {

bool sd_notify(std::string_view state, std::string* error) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return false;
  auto fail = [&](const std::string& why) {
    if (error != nullptr) *error = std::string("NOTIFY_SOCKET ") + path + ": " + why;
    return false;
  };
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  // "@name" is a socket in the abstract namespace (a leading NUL byte).
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
    return fail("not an absolute path or @abstract name");
  std::memcpy(sa.sun_path, path, len);
  if (path[0] == '@') sa.sun_path[0] = '\0';
  const socklen_t sa_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  const ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&sa), sa_len);
  const int err = errno;
  ::close(fd);
  if (n < 0) return fail(std::string("sendto: ") + std::strerror(err));
  if (static_cast<size_t>(n) != state.size()) return fail("short send");
  return true;
}

std::string sd_reloading_message() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const unsigned long long usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                                  static_cast<unsigned long long>(ts.tv_nsec) / 1000;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace srtfwd::app

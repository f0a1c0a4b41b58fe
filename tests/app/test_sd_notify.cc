// sd_notify: the datagram systemd's Type=notify reads, sent to a socket the
// test creates in place of systemd's.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <ctime>

#include "srtfwd/app/sd_notify.h"

namespace {

using srtfwd::app::sd_notify;

// A datagram socket bound to `name` ("/path" or "@abstract"), as systemd's.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, name.data(), name.size());
    if (name[0] == '@')
      sa.sun_path[0] = '\0';
    else
      ::unlink(name.c_str());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0;
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  // The next datagram, or "" after 2 s.
  std::string recv() {
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SdNotify, SendsTheStateToAPathSocket) {
  NotifySocket s(testing::TempDir() + "srtfwd-notify-" + std::to_string(::getpid()));
  ASSERT_TRUE(s.bound());
  std::string error;
  ASSERT_TRUE(sd_notify("READY=1\nSTATUS=forwarding", &error)) << error;
  EXPECT_EQ(s.recv(), "READY=1\nSTATUS=forwarding");
  ASSERT_TRUE(sd_notify("STOPPING=1"));
  EXPECT_EQ(s.recv(), "STOPPING=1");
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  NotifySocket s("@srtfwd-notify-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(s.bound());
  std::string error;
  ASSERT_TRUE(sd_notify("READY=1", &error)) << error;
  EXPECT_EQ(s.recv(), "READY=1");
}

TEST(SdNotify, ReloadingCarriesTheMonotonicClock) {
  NotifySocket s(testing::TempDir() + "srtfwd-notify-r-" + std::to_string(::getpid()));
  ASSERT_TRUE(s.bound());
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const unsigned long long before = ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
  ASSERT_TRUE(sd_notify(srtfwd::app::sd_reloading_message()));
  const std::string got = s.recv();
  ASSERT_EQ(got.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << got;
  const unsigned long long usec = std::stoull(got.substr(got.find('=', 12) + 1));
  EXPECT_GE(usec, before);
  EXPECT_LT(usec, before + 10000000ULL);
}

TEST(SdNotify, NothingOutsideSystemd) {
  ::unsetenv("NOTIFY_SOCKET");
  std::string error;
  EXPECT_FALSE(sd_notify("READY=1", &error));
  EXPECT_TRUE(error.empty()) << error;
}

TEST(SdNotify, ABadSocketIsAnError) {
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  std::string error;
  EXPECT_FALSE(sd_notify("READY=1", &error));
  EXPECT_NE(error.find("NOTIFY_SOCKET relative/path"), std::string::npos) << error;
  ::setenv("NOTIFY_SOCKET", "/nonexistent/srtfwd-notify", 1);
  error.clear();
  EXPECT_FALSE(sd_notify("READY=1", &error));
  EXPECT_NE(error.find("sendto"), std::string::npos) << error;
  ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace

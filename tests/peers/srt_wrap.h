// srt_wrap.h — small RAII wrappers around libsrt for the test peers.
//
// Library  : srt_startup()/srt_cleanup() for the life of main().
// Socket   : owns one SRTSOCKET (move-only, closed on destruction), typed
//            option setters/getters that throw srtw::Error with libsrt's text.
// Epoll    : owns one srt_epoll id; wait() wraps srt_epoll_uwait.
// Helpers  : last_error(), sockaddr parsing/formatting (IPv4 and IPv6).
#pragma once

#include <srt/srt.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace srtw {

class Error : public std::runtime_error {
 public:
  Error(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// Text and code of the calling thread's last libsrt error.
inline std::string last_error_text() { return srt_getlasterror_str(); }
inline int last_error_code() { return srt_getlasterror(nullptr); }

[[noreturn]] inline void throw_last(std::string_view what) {
  int code = last_error_code();
  throw Error(std::string(what) + ": " + last_error_text(), code);
}

class Library {
 public:
  Library() {
    if (srt_startup() < 0) throw_last("srt_startup");
  }
  ~Library() { srt_cleanup(); }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
};

class Socket {
 public:
  Socket() = default;
  explicit Socket(SRTSOCKET s) noexcept : s_(s) {}
  static Socket create() {
    SRTSOCKET s = srt_create_socket();
    if (s == SRT_INVALID_SOCK) throw_last("srt_create_socket");
    return Socket(s);
  }
  ~Socket() { close(); }
  Socket(Socket&& o) noexcept : s_(std::exchange(o.s_, SRT_INVALID_SOCK)) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      close();
      s_ = std::exchange(o.s_, SRT_INVALID_SOCK);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  SRTSOCKET get() const noexcept { return s_; }
  explicit operator bool() const noexcept { return s_ != SRT_INVALID_SOCK; }
  SRTSOCKET release() noexcept { return std::exchange(s_, SRT_INVALID_SOCK); }
  void close() noexcept {
    if (s_ != SRT_INVALID_SOCK) srt_close(std::exchange(s_, SRT_INVALID_SOCK));
  }

  // Fixed-size options (int, int64_t, bool, enums such as SRT_TRANSTYPE).
  template <class T>
  void set(SRT_SOCKOPT opt, const T& value, std::string_view name = "setsockflag") {
    if (srt_setsockflag(s_, opt, &value, static_cast<int>(sizeof value)) < 0) throw_last(name);
  }
  void set_string(SRT_SOCKOPT opt, std::string_view value, std::string_view name = "setsockflag") {
    if (srt_setsockflag(s_, opt, value.data(), static_cast<int>(value.size())) < 0)
      throw_last(name);
  }
  template <class T>
  T get_opt(SRT_SOCKOPT opt, std::string_view name = "getsockflag") const {
    T value{};
    int len = static_cast<int>(sizeof value);
    if (srt_getsockflag(s_, opt, &value, &len) < 0) throw_last(name);
    return value;
  }
  std::string get_string(SRT_SOCKOPT opt, std::string_view name = "getsockflag") const {
    char buf[1024] = {};
    int len = static_cast<int>(sizeof buf);
    if (srt_getsockflag(s_, opt, buf, &len) < 0) throw_last(name);
    return std::string(buf, static_cast<size_t>(len));
  }
  SRT_SOCKSTATUS state() const noexcept { return srt_getsockstate(s_); }

 private:
  SRTSOCKET s_ = SRT_INVALID_SOCK;
};

class Epoll {
 public:
  Epoll() : id_(srt_epoll_create()) {
    if (id_ < 0) throw_last("srt_epoll_create");
  }
  ~Epoll() {
    if (id_ >= 0) srt_epoll_release(id_);
  }
  Epoll(const Epoll&) = delete;
  Epoll& operator=(const Epoll&) = delete;

  int id() const noexcept { return id_; }
  void add(SRTSOCKET s, int events) {
    if (srt_epoll_add_usock(id_, s, &events) < 0) throw_last("srt_epoll_add_usock");
  }
  void update(SRTSOCKET s, int events) {
    if (srt_epoll_update_usock(id_, s, &events) < 0) throw_last("srt_epoll_update_usock");
  }
  // Removing a socket that libsrt already dropped is not an error for us.
  void remove(SRTSOCKET s) noexcept { srt_epoll_remove_usock(id_, s); }
  // Allow waiting on an empty set (returns 0 after the timeout).
  void allow_empty() { srt_epoll_set(id_, SRT_EPOLL_ENABLE_EMPTY); }
  // Number of ready sockets written to `out`, 0 on timeout.
  int wait(std::span<SRT_EPOLL_EVENT> out, int64_t timeout_ms) {
    int n = srt_epoll_uwait(id_, out.data(), static_cast<int>(out.size()), timeout_ms);
    if (n < 0) {
      if (last_error_code() == SRT_ETIMEOUT) return 0;
      throw_last("srt_epoll_uwait");
    }
    return n;
  }

 private:
  int id_;
};

// ---- addresses ---------------------------------------------------------------

struct Address {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&ss); }
  sockaddr* sa() noexcept { return reinterpret_cast<sockaddr*>(&ss); }
  int family() const noexcept { return ss.ss_family; }
};

inline std::optional<Address> make_address(const std::string& ip, uint16_t port) {
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  a.ss = {};
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

// "IP:PORT", "[IPv6]:PORT" (or "IPv6:PORT" split at the last colon).
inline std::optional<Address> parse_endpoint(std::string_view ep) {
  std::string host;
  std::string_view port;
  if (!ep.empty() && ep.front() == '[') {
    auto close = ep.find(']');
    if (close == std::string_view::npos || close + 1 >= ep.size() || ep[close + 1] != ':')
      return std::nullopt;
    host = std::string(ep.substr(1, close - 1));
    port = ep.substr(close + 2);
  } else {
    auto colon = ep.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(ep.substr(0, colon));
    port = ep.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5) return std::nullopt;
  unsigned p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    p = p * 10 + static_cast<unsigned>(c - '0');
  }
  if (p > 65535) return std::nullopt;
  return make_address(host, static_cast<uint16_t>(p));
}

inline std::string to_string(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  return "?";
}

inline std::string peer_name(SRTSOCKET s) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (srt_getpeername(s, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return "?";
  return to_string(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace srtw

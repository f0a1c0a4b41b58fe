#include "srtfwd/app/shell_command.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace srtfwd::app {

namespace {

// A command that prints more than this many lines has the rest counted, not
// logged: the log is for the operator, not for a runaway loop.
constexpr int kMaxLoggedLines = 100;
constexpr size_t kMaxLineBytes = 4096;
// How often the running command is looked at (exit, deadline, abort).
constexpr int kPollMs = 20;

long ms_since(ShellCommands::Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(ShellCommands::Clock::now() - t)
          .count());
}

}  // namespace

ShellCommands::ShellCommands(admin::BgpCounters& counters, const cpu_set_t* cpus)
    : counters_(counters) {
  CPU_ZERO(&cpus_);
  if (cpus != nullptr && CPU_COUNT(cpus) > 0) {
    cpus_ = *cpus;
    set_cpus_ = true;
  }
  thread_ = std::thread([this] { loop(); });
}

ShellCommands::~ShellCommands() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    abort_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

void ShellCommands::run(std::string name, std::string command, Clock::time_point deadline,
                        bool first) {
  if (command.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    if (first) {
      for (const Job& dropped : queue_)
        spdlog::warn("{}: not run, {} comes first", dropped.name, name);
      queue_.clear();
      if (busy_) abort_ = true;
    }
    queue_.push_back(Job{std::move(name), std::move(command), deadline});
  }
  cv_.notify_all();
}

bool ShellCommands::finish(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (cv_.wait_until(lock, deadline, [this] { return queue_.empty() && !busy_; })) return true;
  for (const Job& dropped : queue_) spdlog::warn("{}: not run, srtfwd is stopping", dropped.name);
  queue_.clear();
  abort_ = true;
  cv_.wait(lock, [this] { return !busy_; });
  return false;
}

void ShellCommands::loop() {
  if (set_cpus_) {
    if (const int e = pthread_setaffinity_np(pthread_self(), sizeof cpus_, &cpus_); e != 0)
      spdlog::warn("bgp commands: cannot set their CPUs: {}", std::strerror(e));
  }
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    abort_ = false;
    lock.unlock();
    execute(job);
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

void ShellCommands::execute(const Job& job) {
  const auto started = Clock::now();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    counters_.command_failures.add();
    spdlog::error("{}: not run: pipe: {}", job.name, std::strerror(errno));
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  // DPDK's and the admin server's descriptors (af_packet sockets, the
  // listener) are not the command's business.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  // srtfwd ignores SIGPIPE and catches SIGTERM/SIGHUP; the shell gets the
  // defaults, and its own process group for the kill at the deadline.
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string sh = "/bin/sh", dash_c = "-c", command = job.command;
  char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  counters_.commands.add();
  if (rc != 0) {
    ::close(fds[0]);
    counters_.command_failures.add();
    spdlog::error("{}: cannot start /bin/sh: {}", job.name, std::strerror(rc));
    return;
  }
  spdlog::info("{}: started (pid {}): {}", job.name, pid, job.command);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);

  std::string partial;
  int lines = 0, unlogged = 0;
  auto emit = [&](std::string line) {
    if (lines++ < kMaxLoggedLines)
      spdlog::info("{}: | {}", job.name, line);
    else
      ++unlogged;
  };
  auto drain_pipe = [&]() {
    char buf[1024];
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) return n == 0;  // EOF: true
      partial.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        emit(partial.substr(0, nl));
        partial.erase(0, nl + 1);
      }
      if (partial.size() > kMaxLineBytes) {
        emit(partial.substr(0, kMaxLineBytes) + "...");
        partial.clear();
      }
    }
  };

  int status = 0;
  bool exited = false;
  const char* killed_why = nullptr;
  bool eof = false;
  while (!exited) {
    pollfd p{fds[0], POLLIN, 0};
    if (!eof && ::poll(&p, 1, kPollMs) > 0) eof = drain_pipe();
    if (eof) ::poll(nullptr, 0, kPollMs);  // the shell closed its output: wait for its exit
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) {
      exited = true;
      break;
    }
    bool abort;
    {
      std::lock_guard lock(mu_);
      abort = abort_;
    }
    if (abort || Clock::now() >= job.deadline) {
      killed_why = abort ? "killed: srtfwd is stopping or a later command comes first"
                         : "killed at its deadline";
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
      exited = true;
    }
  }
  // What a command printed just before it ended; a background child that
  // still holds the pipe is not waited for.
  if (!eof) drain_pipe();
  if (!partial.empty()) emit(partial);
  ::close(fds[0]);
  if (unlogged > 0) spdlog::info("{}: {} more output lines not logged", job.name, unlogged);

  const long ms = ms_since(started);
  if (killed_why != nullptr) {
    counters_.command_timeouts.add();
    spdlog::warn("{}: {} after {} ms (pid {})", job.name, killed_why, ms, pid);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    spdlog::info("{}: exit status 0 after {} ms", job.name, ms);
  } else if (WIFEXITED(status)) {
    counters_.command_failures.add();
    spdlog::warn("{}: exit status {} after {} ms", job.name, WEXITSTATUS(status), ms);
  } else if (WIFSIGNALED(status)) {
    counters_.command_failures.add();
    spdlog::warn("{}: killed by signal {} after {} ms", job.name, WTERMSIG(status), ms);
  } else {
    counters_.command_failures.add();
    spdlog::warn("{}: ended (status {:#x}) after {} ms", job.name, status, ms);
  }
}

}  // namespace srtfwd::app

// The [bgp] commands: shell commands srtfwd runs when its health changes
// (ready, draining), such as `birdc enable srtfwd_vips`.
//
// They run one at a time, in order, on a thread of their own (never on an
// lcore: a command may take seconds and the control lcore answers ARP and
// handshakes meanwhile). Each is `/bin/sh -c COMMAND` started with
// posix_spawn (a vfork: a process with gigabytes of hugepages mapped is not
// copied), in a process group of its own so that a kill reaches whatever the
// shell started, with the default signal dispositions and no descriptor of
// ours but stdout and stderr, which are a pipe whose lines go to srtfwd's log.
// Every end is logged (exit status, signal, deadline) and counted
// (admin::BgpCounters).
#pragma once

#include <sched.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "srtfwd/admin/health.h"

namespace srtfwd::app {

class ShellCommands {
 public:
  using Clock = std::chrono::steady_clock;

  // cpus: where the commands run (the thread's affinity, which the shell
  // inherits): the CPUs no lcore polls on, so that a command does not share
  // a core with a busy-polling lcore. Null: the creating thread's.
  explicit ShellCommands(admin::BgpCounters& counters, const cpu_set_t* cpus = nullptr);
  // Kills the command running, forgets the queued ones, joins the thread.
  ~ShellCommands();
  ShellCommands(const ShellCommands&) = delete;
  ShellCommands& operator=(const ShellCommands&) = delete;

  // Queues `command` (name: how the log calls it, e.g. "bgp.ready_command"),
  // killed (SIGKILL to its process group) if still running at `deadline`.
  // first: kill the one running and drop the queued ones before it (the
  // draining command must not wait for, or be undone by, an older one).
  // Returns at once; an empty command is ignored.
  void run(std::string name, std::string command, Clock::time_point deadline, bool first = false);
  // Waits until every queued command has ended, but not beyond `deadline`:
  // then the one running is killed and the queued ones dropped. True when
  // all ended by themselves.
  bool finish(Clock::time_point deadline);

 private:
  struct Job {
    std::string name, command;
    Clock::time_point deadline;
  };
  void loop();
  void execute(const Job& job);

  admin::BgpCounters& counters_;
  cpu_set_t cpus_;
  bool set_cpus_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stop_ = false;
  // Set to kill the command running now (first, finish's deadline, stop).
  bool abort_ = false;
  std::thread thread_;
};

}  // namespace srtfwd::app

// The [bgp] commands: run through /bin/sh off the caller's thread, in order;
// exit status, failures and deadlines counted; a hung one killed in time.
#include "srtfwd/app/shell_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

using srtfwd::app::ShellCommands;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ShellCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/srtfwd-shell-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
  srtfwd::admin::BgpCounters counters_;
};

TEST_F(ShellCommandsTest, RunsInOrderAndCountsTheEnds) {
  ShellCommands sh(counters_);
  const auto far = ShellCommands::Clock::now() + 10s;
  const std::string marker = dir_ + "/marker";
  // Runs through the shell (redirection, &&), with srtfwd's environment.
  sh.run("first", "echo one >> " + marker + " && echo to-the-log", far);
  sh.run("fails", "echo two >> " + marker + "; exit 3", far);
  sh.run("empty", "", far);  // ignored
  sh.run("third", "echo three >> " + marker, far);
  EXPECT_TRUE(sh.finish(ShellCommands::Clock::now() + 10s));
  EXPECT_EQ(slurp(marker), "one\ntwo\nthree\n");
  EXPECT_EQ(counters_.commands.get(), 3u);
  EXPECT_EQ(counters_.command_failures.get(), 1u);
  EXPECT_EQ(counters_.command_timeouts.get(), 0u);
}

TEST_F(ShellCommandsTest, ReturnsAtOnce) {
  ShellCommands sh(counters_);
  const auto t0 = std::chrono::steady_clock::now();
  sh.run("slow", "sleep 1", ShellCommands::Clock::now() + 10s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
  EXPECT_TRUE(sh.finish(ShellCommands::Clock::now() + 10s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(counters_.command_failures.get(), 0u);
}

TEST_F(ShellCommandsTest, AHungCommandIsKilledAtItsDeadline) {
  ShellCommands sh(counters_);
  const auto t0 = ShellCommands::Clock::now();
  // The shell's child too: the kill goes to the process group.
  sh.run("hung", "sleep 30 & wait", t0 + 300ms);
  EXPECT_TRUE(sh.finish(t0 + 10s));
  EXPECT_LT(ShellCommands::Clock::now() - t0, 2s);
  EXPECT_EQ(counters_.command_timeouts.get(), 1u);
}

TEST_F(ShellCommandsTest, FinishKillsWhatRunsAtItsDeadline) {
  ShellCommands sh(counters_);
  const auto t0 = ShellCommands::Clock::now();
  sh.run("hung", "sleep 30", t0 + 60s);
  sh.run("queued", "touch " + dir_ + "/never", t0 + 60s);
  EXPECT_FALSE(sh.finish(t0 + 300ms));
  EXPECT_LT(ShellCommands::Clock::now() - t0, 2s);
  EXPECT_EQ(counters_.command_timeouts.get(), 1u);
  EXPECT_NE(access((dir_ + "/never").c_str(), F_OK), 0);
}

TEST_F(ShellCommandsTest, FirstPreemptsTheOneRunningAndTheQueued) {
  ShellCommands sh(counters_);
  const auto t0 = ShellCommands::Clock::now();
  const std::string marker = dir_ + "/marker";
  sh.run("ready", "sleep 30; echo ready >> " + marker, t0 + 60s);
  sh.run("queued", "echo queued >> " + marker, t0 + 60s);
  std::this_thread::sleep_for(100ms);  // "ready" is running
  sh.run("draining", "echo draining >> " + marker, t0 + 60s, /*first=*/true);
  EXPECT_TRUE(sh.finish(t0 + 10s));
  EXPECT_LT(ShellCommands::Clock::now() - t0, 2s);
  EXPECT_EQ(slurp(marker), "draining\n");
  EXPECT_EQ(counters_.command_timeouts.get(), 1u);
}

TEST_F(ShellCommandsTest, DestructionKillsWhatRuns) {
  const auto t0 = ShellCommands::Clock::now();
  {
    ShellCommands sh(counters_);
    sh.run("hung", "sleep 30", t0 + 60s);
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_LT(ShellCommands::Clock::now() - t0, 2s);
}

TEST_F(ShellCommandsTest, ABackgroundChildHoldingTheOutputDoesNotHoldTheCommand) {
  ShellCommands sh(counters_);
  const auto t0 = ShellCommands::Clock::now();
  sh.run("bg", "sleep 3 & echo started", t0 + 60s);
  EXPECT_TRUE(sh.finish(t0 + 10s));
  EXPECT_LT(ShellCommands::Clock::now() - t0, 2s);
  EXPECT_EQ(counters_.command_failures.get(), 0u);
  EXPECT_EQ(counters_.command_timeouts.get(), 0u);
}

TEST_F(ShellCommandsTest, CommandsRunOnTheCpusGiven) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  ShellCommands sh(counters_, &one);
  const std::string marker = dir_ + "/cpus";
  sh.run("cpus", "grep Cpus_allowed_list /proc/self/status > " + marker,
         ShellCommands::Clock::now() + 10s);
  EXPECT_TRUE(sh.finish(ShellCommands::Clock::now() + 10s));
  EXPECT_EQ(slurp(marker), "Cpus_allowed_list:\t0\n");
}

}  // namespace

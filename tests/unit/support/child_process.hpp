// A helper process for one test (the simulator, a redis-server): started with its stdout discarded, so its
// banner does not bury the test's output, and killed for sure.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace relay::test {

// args[0] is the program: a path, or a name looked up in PATH.
inline pid_t spawn_quiet(std::vector<std::string> args) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Kills and reaps it; sets pid to -1 so that a second call does nothing.
inline void kill_child(pid_t& pid) {
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
}

}  // namespace relay::test

// qq-gateway-sim: a local stand-in for the QQ bot platform. See docs/simulator.md.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gateway_server.hpp"
#include "log.hpp"
#include "sim_options.hpp"
#include "simulator.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) {
  g_stop = 1;
}

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: interrupt poll() so the loop sees the flag at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
}

// Benchmarks open ~1000 connections: raise the soft fd limit to the hard one.
void raise_fd_limit() {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  qqsim::Options options;
  if (const int rc = qqsim::parse_options(argc, argv, options); rc >= 0) {
    return rc;
  }
  if (options.quiet) {
    qqsim::g_log_level = qqsim::LogLevel::error;
  } else if (options.log_level == "error") {
    qqsim::g_log_level = qqsim::LogLevel::error;
  } else if (options.log_level == "info") {
    qqsim::g_log_level = qqsim::LogLevel::info;
  } else if (options.log_level == "debug") {
    qqsim::g_log_level = qqsim::LogLevel::debug;
  } else {
    qqsim::g_log_level = qqsim::LogLevel::warn;
  }
  install_signals();
  raise_fd_limit();

  qqsim::Simulator sim(options);
  if (const auto loaded = sim.load_fixtures(); !loaded) {
    qqsim::log(qqsim::LogLevel::error, "{}", loaded.error());
    return 1;
  }
  const int rc = qqsim::run_server(sim, g_stop);
  qqsim::log(qqsim::LogLevel::info, "exiting");
  // Every socket is closed by now; skip freeing up to --history-bytes of retained frames one by one.
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(rc);
}

#pragma once

#include <csignal>

#include "simulator.hpp"

namespace qqsim {

// Runs the lws server (HTTP + WebSocket on one port) for `sim` until `stop` becomes non-zero.
// Returns the process exit code.
int run_server(Simulator& sim, const volatile std::sig_atomic_t& stop);

}  // namespace qqsim

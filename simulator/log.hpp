#pragma once

#include <cstdio>
#include <utility>

#include <fmt/core.h>

namespace qqsim {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

// The process-wide threshold; set once by main before the loop starts.
inline LogLevel g_log_level = LogLevel::warn;

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (static_cast<int>(level) > static_cast<int>(g_log_level)) {
    return;
  }
  static constexpr const char* k_names[] = {"error", "warn", "info", "debug"};
  fmt::print(stderr, "qq-gateway-sim [{}] {}\n", k_names[static_cast<int>(level)],
             fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace qqsim

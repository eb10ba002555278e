#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "config/loader.hpp"

namespace relay::test {

// Loads `text` as if read from `path`, and fails the test on a configuration error.
inline config::Config config_of(std::string_view text, const std::string& path = "relay.toml") {
  auto result = config::load_string(text, path);
  if (!result) {
    FAIL("unexpected error: " << result.error().message);
  }
  return std::move(result).value();
}

// The error message loading `text` gives; fails the test if it loads.
inline std::string error_of(std::string_view text, const std::string& path = "relay.toml") {
  auto result = config::load_string(text, path);
  REQUIRE_FALSE(result.has_value());
  return result.error().message;
}

// Sets (or unsets, for nullptr) an environment variable for one test, so a developer's own
// CREDENTIALS_DIRECTORY cannot change the outcome.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : m_name(name) {
    if (const char* old = std::getenv(name)) {
      m_old = old;
    }
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (m_old) {
      ::setenv(m_name.c_str(), m_old->c_str(), 1);
    } else {
      ::unsetenv(m_name.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string m_name;
  std::optional<std::string> m_old;
};

}  // namespace relay::test

#pragma once

#include <catch2/catch.hpp>
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

}  // namespace relay::test

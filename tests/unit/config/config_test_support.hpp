#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "config/loader.hpp"

namespace relay::test {

// Loads `text` as if read from `path`, and fails the test on a configuration error.
inline config::Config config_of(std::string_view text, const std::string& path = "relay.toml") {
  auto result = config::load_string(text, path);
  if (const auto* error = std::get_if<config::ConfigError>(&result)) {
    FAIL("unexpected error: " << error->message);
  }
  return std::get<config::Config>(std::move(result));
}

// The error message loading `text` gives; fails the test if it loads.
inline std::string error_of(std::string_view text, const std::string& path = "relay.toml") {
  auto result = config::load_string(text, path);
  REQUIRE(std::holds_alternative<config::ConfigError>(result));
  return std::get<config::ConfigError>(result).message;
}

}  // namespace relay::test

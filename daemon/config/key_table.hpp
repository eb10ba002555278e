#pragma once

#include <toml++/toml.h>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/diagnostic.hpp"

namespace relay::config::detail {

// The config being built, plus what only the cross-key checks need.
struct Draft {
  Config config;
  std::optional<std::string> client_secret_file;      // as written, when valid
  std::map<std::string, Position, std::less<>> seen;  // "section.key" -> where the key was written
};

// The TOML type a key must have. The loader checks it before calling the setter, so setters may assume it;
// Custom keys accept several types and check them themselves.
enum class Expect { String, Integer, Boolean, StringArray, Custom };

// Whether a changed value takes effect on SIGHUP or only after a restart.
enum class Change { restart, reload };

using Setter = Outcome (*)(const toml::node& value, Draft& draft);

struct KeySpec {
  std::string_view section;
  std::string_view key;
  Expect expect;
  bool required;
  bool secret;  // its value must never reach a message, not even through a syntax error
  Change change;
  Setter apply;
};

// Every accepted key. Adding a key is adding a row here (and documenting it; a test checks that).
std::span<const KeySpec> key_table();

const KeySpec* find_key(std::string_view section, std::string_view key);

// Section names in table order, without duplicates.
std::vector<std::string_view> section_names();

}  // namespace relay::config::detail

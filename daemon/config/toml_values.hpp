#pragma once

#include <toml++/toml.h>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/diagnostic.hpp"
#include "config/key_table.hpp"

namespace relay::config::detail {

// "a string", "an integer", ...: for "expected X, got Y" messages.
std::string_view type_name(const toml::node& node);

// A user-supplied string made safe to embed in a one-line message: quoted, with control characters escaped.
std::string in_quotes(std::string_view text);

// A key's value as TOML text, to compare two loads of a file; for a secret, only a digest of it.
std::string written_text(const toml::node& value, bool secret);

Position position_of(const toml::source_position& where);
inline Position position_of(const toml::source_region& region) {
  return position_of(region.begin);
}

// The generic type check the loader applies before a key's setter runs.
Outcome check_type(const toml::node& value, Expect expect);

// The text of a key that the loader has already type-checked as a string.
const std::string& string_of(const toml::node& value);

// Where `name` ("section.key") was written, if it was.
std::optional<Position> seen(const Draft& draft, std::string_view name);

// A string key that must not be empty (a path, most often): copied to `out` when it is not.
Outcome non_empty_string(const toml::node& value, std::string& out);

// An "address:port" key of a listener: `listen` as written, and its host and port. `examples` are quoted in
// the message when it is not one.
Outcome listen_address(const toml::node& value, std::string_view examples, std::string& listen,
                       std::string& host, int& port);

// Reads an integer key that the loader has already type-checked, and range-checks it.
Outcome integer_in_range(const toml::node& value, std::int64_t low, std::int64_t high, std::int64_t& out);

}  // namespace relay::config::detail

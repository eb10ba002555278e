#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

namespace relay::config::detail {

// A place in the config text, 1-based. Ordering positions is what makes "the first error" well defined.
struct Position {
  std::uint32_t line = 1;
  std::uint32_t column = 1;

  auto operator<=>(const Position&) const = default;
};

// What a validator found wrong. `where` is set only when it is more precise than the key's value,
// e.g. one element of a multi-line array.
struct Problem {
  std::string what;
  std::optional<Position> where;
};

// nullopt means the value was accepted.
using Outcome = std::optional<Problem>;

// One error, not yet prefixed with the file path: renders as "<line>: <subject>: <what>".
struct Diagnostic {
  Position where;
  std::string subject;  // "bot.app_id", "[gatway]", or a syntax error's "syntax error"
  std::string what;
};

}  // namespace relay::config::detail

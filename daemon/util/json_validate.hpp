#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace relay::util {

// Containers nested deeper than this are refused: the check keeps one byte per level on the stack.
constexpr std::size_t k_max_json_depth = 1024;

// The fault of a document followed by more than whitespace; its offset is where the document ends.
constexpr std::string_view k_json_trailing_bytes = "more bytes after the document";

// The fault of a byte that is not part of well-formed UTF-8.
constexpr std::string_view k_json_not_utf8 = "not UTF-8";

// Where and why a text is not one strict JSON document.
struct JsonFault {
  std::size_t offset;
  std::string_view what;
};

// Empty when `text` is exactly one JSON value (RFC 8259), with only JSON whitespace around it, in well-formed
// UTF-8 (RFC 3629), every \u escape a Unicode scalar value (a surrogate only as a high-low pair), nested at
// most k_max_json_depth deep. Numbers are checked against the grammar, not for range.
std::optional<JsonFault> find_json_fault(std::string_view text);

inline bool is_valid_json(std::string_view text) {
  return !find_json_fault(text);
}

}  // namespace relay::util

#pragma once

#include <array>
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

// The members of a top-level object as the check met them, so that a reader of a small envelope
// (FrameDecoder) need not find them again. Filled only when the text has no fault.
struct JsonTopMembers {
  struct Member {
    std::string_view key;    // as written, between its quotes (escapes not undone)
    std::string_view value;  // the value's text, without the whitespace around it
  };
  static constexpr std::size_t k_max_members = 16;
  std::array<Member, k_max_members> members;
  std::size_t count = 0;
  bool is_object = false;     // the text is an object (else the members are empty)
  bool too_many = false;      // it had more than k_max_members members: only the first ones are listed
  std::size_t max_depth = 0;  // the deepest nesting met
};

// find_json_fault, and the top-level object's members into `members`.
std::optional<JsonFault> find_json_fault(std::string_view text, JsonTopMembers& members);

inline bool is_valid_json(std::string_view text) {
  return !find_json_fault(text);
}

}  // namespace relay::util

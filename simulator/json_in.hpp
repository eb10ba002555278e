#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/expected.hpp"

namespace qqsim {

enum class JsonKind { object, array, number, string, boolean, null };

// One member of a parsed JSON object: its kind, its raw text exactly as in the input (no surrounding
// whitespace), and, for strings, the unescaped value.
struct JsonMember {
  JsonKind kind = JsonKind::null;
  std::string raw;
  std::string str;
};

// A flat view of one JSON object's members (nested values stay raw; parse them again when needed).
class JsonObject {
 public:
  std::vector<std::pair<std::string, JsonMember>> members;

  const JsonMember* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Integer value of `key`; nullopt if absent, not a number or not an integer.
  std::optional<std::int64_t> get_int(std::string_view key) const;
  std::optional<double> get_double(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
};

// Parses `text` as a JSON object, or says why it is not one.
relay::util::Expected<JsonObject, std::string> parse_json_object(std::string_view text);

// Parses `text` as a JSON array of integers.
bool parse_int_array(std::string_view text, std::vector<std::int64_t>& out);

// Appends `text` as a quoted JSON string; invalid UTF-8 bytes become U+FFFD so the output stays valid.
void append_json_text(std::string& out, std::string_view text);

// Parses `text` (a JSON number) as an integer.
std::optional<std::int64_t> parse_int(std::string_view text);

}  // namespace qqsim

#include "json_in.hpp"

#include <charconv>

#include <simdjson.h>

#include "util/json_writer.hpp"

namespace qqsim {
namespace {

namespace od = simdjson::ondemand;

// The simulator is single-threaded; one parser is reused for every document.
od::parser& shared_parser() {
  static od::parser parser;
  return parser;
}

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_json_space(s.back())) {
    s.remove_suffix(1);
  }
  while (!s.empty() && is_json_space(s.front())) {
    s.remove_prefix(1);
  }
  return s;
}

bool read_member(od::value value, JsonMember& m) {
  od::json_type type{};
  if (value.type().get(type) != simdjson::SUCCESS) {
    return false;
  }
  std::string_view raw;
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (value.get_object().get(obj) != simdjson::SUCCESS || obj.raw_json().get(raw) != simdjson::SUCCESS) {
        return false;
      }
      m.kind = JsonKind::object;
      m.raw = trim(raw);
      return true;
    }
    case od::json_type::array: {
      od::array arr;
      if (value.get_array().get(arr) != simdjson::SUCCESS || arr.raw_json().get(raw) != simdjson::SUCCESS) {
        return false;
      }
      m.kind = JsonKind::array;
      m.raw = trim(raw);
      return true;
    }
    case od::json_type::string: {
      m.kind = JsonKind::string;
      m.raw = trim(value.raw_json_token());
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS) {
        return false;
      }
      m.str = s;
      return true;
    }
    case od::json_type::number: {
      m.kind = JsonKind::number;
      m.raw = trim(value.raw_json_token());
      double ignored = 0;
      // Validates the number (big integers still parse as a double).
      return value.get_double().get(ignored) == simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
      m.kind = JsonKind::boolean;
      m.raw = trim(value.raw_json_token());
      bool ignored = false;
      return value.get_bool().get(ignored) == simdjson::SUCCESS;
    }
    case od::json_type::null: {
      m.kind = JsonKind::null;
      m.raw = "null";
      bool is_null = false;
      return value.is_null().get(is_null) == simdjson::SUCCESS && is_null;
    }
  }
  return false;
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not valid.
std::size_t utf8_sequence_length(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  std::size_t n = 0;
  if (b0 < 0x80) {
    return 1;
  } else if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
  } else {
    return 0;
  }
  if (s.size() < n) {
    return 0;
  }
  for (std::size_t i = 1; i < n; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) {
      return 0;
    }
  }
  // Reject overlong forms, surrogates and code points above U+10FFFF.
  const auto b1 = static_cast<unsigned char>(s[1]);
  if ((b0 == 0xe0 && b1 < 0xa0) || (b0 == 0xed && b1 >= 0xa0) || (b0 == 0xf0 && b1 < 0x90) ||
      (b0 == 0xf4 && b1 >= 0x90)) {
    return 0;
  }
  return n;
}

}  // namespace

// Clients may send anything (binary frames, broken UTF-8); output must stay valid JSON.
void append_json_text(std::string& out, std::string_view text) {
  if (simdjson::validate_utf8(text.data(), text.size())) {
    relay::util::append_json_string(out, text);
    return;
  }
  std::string clean;
  clean.reserve(text.size() + 16);
  while (!text.empty()) {
    const std::size_t n = utf8_sequence_length(text);
    if (n == 0) {
      clean += "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else {
      clean.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  relay::util::append_json_string(out, clean);
}

const JsonMember* JsonObject::find(std::string_view key) const {
  for (const auto& [name, member] : members) {
    if (name == key) {
      return &member;
    }
  }
  return nullptr;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || ptr != end) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> JsonObject::get_int(std::string_view key) const {
  const JsonMember* m = find(key);
  if (m == nullptr || m->kind != JsonKind::number) {
    return std::nullopt;
  }
  return parse_int(m->raw);
}

std::optional<double> JsonObject::get_double(std::string_view key) const {
  const JsonMember* m = find(key);
  if (m == nullptr || m->kind != JsonKind::number) {
    return std::nullopt;
  }
  double v = 0;
  const auto* end = m->raw.data() + m->raw.size();
  auto [ptr, ec] = std::from_chars(m->raw.data(), end, v);
  if (ec != std::errc{} || ptr != end) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> JsonObject::get_string(std::string_view key) const {
  const JsonMember* m = find(key);
  if (m == nullptr || m->kind != JsonKind::string) {
    return std::nullopt;
  }
  return m->str;
}

std::optional<bool> JsonObject::get_bool(std::string_view key) const {
  const JsonMember* m = find(key);
  if (m == nullptr || m->kind != JsonKind::boolean) {
    return std::nullopt;
  }
  return m->raw == "true";
}

relay::util::Expected<JsonObject, std::string> parse_json_object(std::string_view text) {
  using Error = relay::util::Unexpected<std::string>;
  JsonObject out;
  simdjson::padded_string padded(text);
  od::document doc;
  if (auto err = shared_parser().iterate(padded).get(doc); err != simdjson::SUCCESS) {
    return Error(simdjson::error_message(err));
  }
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Error("expected a JSON object");
  }
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return Error("bad object key");
    }
    std::string name(key);
    od::value value;
    JsonMember member;
    if (field.value().get(value) != simdjson::SUCCESS || !read_member(value, member)) {
      return Error("bad value for key '" + name + "'");
    }
    out.members.emplace_back(std::move(name), std::move(member));
  }
  return out;
}

bool parse_int_array(std::string_view text, std::vector<std::int64_t>& out) {
  out.clear();
  simdjson::padded_string padded(text);
  od::document doc;
  if (shared_parser().iterate(padded).get(doc) != simdjson::SUCCESS) {
    return false;
  }
  od::array arr;
  if (doc.get_array().get(arr) != simdjson::SUCCESS) {
    return false;
  }
  for (auto element : arr) {
    std::int64_t v = 0;
    if (element.get_int64().get(v) != simdjson::SUCCESS) {
      return false;
    }
    out.push_back(v);
  }
  return true;
}

}  // namespace qqsim

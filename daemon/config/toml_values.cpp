#include "config/toml_values.hpp"

#include "util/url.hpp"

#include <cstdio>
#include <functional>
#include <sstream>

namespace relay::config::detail {

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

const std::string& string_of(const toml::node& value) {
  return value.as_string()->get();
}

std::optional<Position> seen(const Draft& draft, std::string_view name) {
  const auto it = draft.seen.find(name);
  return it == draft.seen.end() ? std::nullopt : std::optional(it->second);
}

std::string written_text(const toml::node& value, bool secret) {
  std::ostringstream text;
  value.visit([&text](const auto& node) { text << node; });
  if (secret) {
    return "digest " + std::to_string(std::hash<std::string>{}(text.str()));
  }
  return text.str();
}

std::string in_quotes(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\x%02x", byte);
      out += escape;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

Position position_of(const toml::source_position& where) {
  // toml++ leaves positions at 0 for nodes it synthesised (e.g. implicit tables); line 1 is the honest
  // fallback.
  if (where.line == 0) {
    return Position{};
  }
  return Position{where.line, where.column == 0 ? 1 : where.column};
}

Outcome check_type(const toml::node& value, Expect expect) {
  const auto got = [&value](std::string_view expected) {
    return Problem{"expected " + std::string(expected) + ", got " + std::string(type_name(value)), {}};
  };
  switch (expect) {
    case Expect::String:
      return value.is_string() ? Outcome{} : got("a string");
    case Expect::Integer:
      return value.is_integer() ? Outcome{} : got("an integer");
    case Expect::Boolean:
      return value.is_boolean() ? Outcome{} : got("a boolean");
    case Expect::StringArray: {
      const toml::array* array = value.as_array();
      if (array == nullptr) {
        return got("an array of strings");
      }
      for (const toml::node& element : *array) {
        if (!element.is_string()) {
          return Problem{"expected an array of strings, got " + std::string(type_name(element)) + " in it",
                         position_of(element.source())};
        }
      }
      return {};
    }
    case Expect::Custom:
      return {};
  }
  return {};
}

Outcome non_empty_string(const toml::node& value, std::string& out) {
  if (string_of(value).empty()) {
    return Problem{"must not be empty", {}};
  }
  out = string_of(value);
  return {};
}

Outcome listen_address(const toml::node& value, std::string_view examples, std::string& listen,
                       std::string& host, int& port) {
  const std::string& text = string_of(value);
  const auto parsed = util::parse_host_port(text);
  if (!parsed) {
    return Problem{"expected \"address:port\" (e.g. " + std::string(examples) + "), got " + in_quotes(text),
                   {}};
  }
  listen = text;
  host = parsed->host;
  port = parsed->port;
  return {};
}

Outcome integer_in_range(const toml::node& value, std::int64_t low, std::int64_t high, std::int64_t& out) {
  const std::int64_t number = value.as_integer()->get();
  if (number < low || number > high) {
    return Problem{"expected an integer from " + std::to_string(low) + " to " + std::to_string(high) +
                       ", got " + std::to_string(number),
                   {}};
  }
  out = number;
  return {};
}

}  // namespace relay::config::detail

#include "config/syntax_error.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "config/key_table.hpp"
#include "config/toml_values.hpp"

namespace relay::config::detail {
namespace {

std::string_view line_of(std::string_view text, std::uint32_t line) {
  for (std::uint32_t current = 1; current < line; ++current) {
    const auto newline = text.find('\n');
    if (newline == std::string_view::npos) {
      return {};
    }
    text.remove_prefix(newline + 1);
  }
  return text.substr(0, text.find('\n'));
}

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

// True when `line` assigns to a secret key (`token = ...`, `bot.token=...`, `{ token = ... }`). Deliberately
// loose: redacting a harmless line costs a little detail, missing a secret one leaks it.
bool assigns_secret(std::string_view line) {
  for (const KeySpec& spec : key_table()) {
    if (!spec.secret) {
      continue;
    }
    for (auto at = line.find(spec.key); at != std::string_view::npos; at = line.find(spec.key, at + 1)) {
      if (at > 0 && is_key_char(line[at - 1])) {
        continue;
      }
      std::size_t after = at + spec.key.size();
      while (after < line.size() && (line[after] == ' ' || line[after] == '\t' || line[after] == '"')) {
        ++after;
      }
      if (after < line.size() && line[after] == '=') {
        return true;
      }
    }
  }
  return false;
}

// True when `line` lies under a [bot] header, where a misspelt secret key ("client_secrt = ...") would
// escape assigns_secret.
bool in_bot_section(std::string_view text, std::uint32_t line) {
  bool in_bot = false;
  for (std::uint32_t current = 1; current <= line && !text.empty(); ++current) {
    const auto newline = text.find('\n');
    std::string_view row = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    row.remove_prefix(std::min(row.find_first_not_of(" \t"), row.size()));
    if (row.starts_with('[')) {
      const auto end = row.find(']');
      std::string_view name = row.substr(1, end == std::string_view::npos ? 0 : end - 1);
      const auto first = name.find_first_not_of(" \t");
      const auto last = name.find_last_not_of(" \t");
      name = first == std::string_view::npos ? std::string_view{} : name.substr(first, last - first + 1);
      in_bot = name == "bot";
    }
  }
  return in_bot;
}

// Quoted text that cannot be part of a secret: a key or section name ("cannot redefine existing key
// 'token'"), or one punctuation or escaped character ("saw '\n'").
bool harmless(std::string_view quoted) {
  for (const KeySpec& spec : key_table()) {
    if (quoted == spec.key || quoted == spec.section) {
      return true;
    }
  }
  if (quoted.size() == 2 && quoted[0] == '\\') {
    return true;
  }
  return quoted.size() == 1 && std::isalnum(static_cast<unsigned char>(quoted[0])) == 0;
}

// toml++ quotes the offending text in single quotes ("'123456...' is not representable in 64 bits").
std::string redact_quoted(std::string_view description) {
  std::string out;
  for (;;) {
    const auto open = description.find('\'');
    const auto close = open == std::string_view::npos ? open : description.find('\'', open + 1);
    if (close == std::string_view::npos) {
      out += description;
      return out;
    }
    const std::string_view quoted = description.substr(open + 1, close - open - 1);
    out += description.substr(0, open + 1);
    out += harmless(quoted) ? quoted : "<redacted>";
    out += '\'';
    description.remove_prefix(close + 1);
  }
}

}  // namespace

Diagnostic syntax_error(std::string_view text, const toml::parse_error& error) {
  const Position where = position_of(error.source().begin);
  std::string description(error.description());
  if (assigns_secret(line_of(text, where.line)) || in_bot_section(text, where.line)) {
    description = redact_quoted(description);
  }
  return Diagnostic{where, "syntax error", std::move(description)};
}

}  // namespace relay::config::detail

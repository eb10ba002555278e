#include "config/loader.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

#include "config/credentials.hpp"
#include "config/key_table.hpp"
#include "config/read_file.hpp"
#include "config/setters.hpp"
#include "config/suggest.hpp"
#include "config/syntax_error.hpp"
#include "config/toml_values.hpp"

namespace relay::config {
namespace {

using detail::Diagnostic;
using detail::Draft;
using detail::KeySpec;
using detail::Outcome;
using detail::Position;
using detail::position_of;

std::string full_name(std::string_view section, std::string_view key) {
  return std::string(section) + "." + std::string(key);
}

// `section` is empty for a key written at the top level, before any [section] header.
std::string unknown_key_message(std::string_view section, std::string_view key) {
  std::vector<std::string_view> same_section;
  for (const KeySpec& spec : detail::key_table()) {
    if (spec.section == section) {
      same_section.push_back(spec.key);
    }
  }
  if (const std::string_view match = detail::suggest(key, same_section); !match.empty()) {
    return "unknown key (did you mean " + full_name(section, match) + "?)";
  }
  // Most often a key that belongs to another section (`level` under [gateway]) or to none.
  for (const KeySpec& spec : detail::key_table()) {
    if (spec.key == key) {
      return "unknown key (did you mean " + full_name(spec.section, spec.key) + "?)";
    }
  }
  return "unknown key";
}

std::string unknown_section_message(std::string_view name) {
  const std::vector<std::string_view> sections = detail::section_names();
  if (const std::string_view match = detail::suggest(name, sections); !match.empty()) {
    return "unknown section (did you mean [" + std::string(match) + "]?)";
  }
  return "unknown section";
}

void check_section(std::string_view section, const toml::table& table, Draft& draft,
                   std::vector<Diagnostic>& out) {
  for (auto&& [key, value] : table) {
    const std::string name = full_name(section, key.str());
    const KeySpec* spec = detail::find_key(section, key.str());
    if (spec == nullptr) {
      out.push_back({position_of(key.source()), name, unknown_key_message(section, key.str())});
      continue;
    }
    draft.seen.emplace(name, position_of(key.source()));
    Outcome problem = detail::check_type(value, spec->expect);
    if (!problem) {
      problem = spec->apply(value, draft);
    }
    if (!problem) {
      draft.config.written[name] = detail::written_text(value, spec->secret);
    }
    if (problem) {
      out.push_back({problem->where.value_or(position_of(value.source())), name, std::move(problem->what)});
    }
  }
}

std::vector<Diagnostic> check_document(const toml::table& root, const std::string& path, Draft& draft) {
  std::vector<Diagnostic> out;
  const std::vector<std::string_view> sections = detail::section_names();
  std::map<std::string, Position, std::less<>> section_at;

  for (auto&& [key, value] : root) {
    const std::string_view name = key.str();
    const bool known = std::find(sections.begin(), sections.end(), name) != sections.end();
    if (known) {
      if (const toml::table* table = value.as_table()) {
        section_at.emplace(name, position_of(table->source()));
        check_section(name, *table, draft, out);
      } else {
        out.push_back({position_of(key.source()), "[" + std::string(name) + "]",
                       "expected a table, got " + std::string(detail::type_name(value))});
      }
    } else if (value.is_table() || value.is_array_of_tables()) {
      out.push_back(
          {position_of(key.source()), "[" + std::string(name) + "]", unknown_section_message(name)});
    } else {
      out.push_back({position_of(key.source()), std::string(name), unknown_key_message({}, name)});
    }
  }

  // Key-level errors first: a misspelt required key ("App_ID") is better reported as the typo it is than as
  // the missing key it causes.
  if (!out.empty()) {
    return out;
  }

  const auto section_position = [&section_at](std::string_view section) {
    const auto it = section_at.find(section);
    return it == section_at.end() ? Position{} : it->second;
  };
  for (const KeySpec& spec : detail::key_table()) {
    const std::string name = full_name(spec.section, spec.key);
    if (spec.required && !draft.seen.contains(name)) {
      out.push_back({section_position(spec.section), name, "required key is missing"});
    }
  }

  const std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (auto problem = detail::resolve_credentials(draft, section_position("bot"), directory)) {
    out.push_back(std::move(*problem));
  }
  if (auto problem = detail::check_webhook(draft, section_position("webhook"), directory)) {
    out.push_back(std::move(*problem));
  }
  if (auto problem = detail::check_curve(draft, directory)) {
    out.push_back(std::move(*problem));
  }
  if (auto problem = detail::check_api(draft, section_position("api"), directory)) {
    out.push_back(std::move(*problem));
  }
  if (auto problem = detail::check_cluster(draft, section_position("cluster"), directory)) {
    out.push_back(std::move(*problem));
  }
  return out;
}

ConfigError render(const std::string& path, const Diagnostic& diagnostic) {
  return ConfigError{path + ":" + std::to_string(diagnostic.where.line) + ": " + diagnostic.subject + ": " +
                     diagnostic.what};
}

}  // namespace

util::Expected<Config, ConfigError> load_string(std::string_view text, const std::string& path_for_messages) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(path_for_messages));
  } catch (const toml::parse_error& error) {
    return util::Unexpected(render(path_for_messages, detail::syntax_error(text, error)));
  }

  Draft draft;
  const std::vector<Diagnostic> problems = check_document(root, path_for_messages, draft);
  if (!problems.empty()) {
    // The earliest problem wins, so the answer does not depend on toml++'s key order (it sorts keys by name)
    // and fixing errors top to bottom always makes progress.
    const auto first =
        std::min_element(problems.begin(), problems.end(),
                         [](const Diagnostic& a, const Diagnostic& b) { return a.where < b.where; });
    return util::Unexpected(render(path_for_messages, *first));
  }
  draft.config.source_path = path_for_messages;
  return std::move(draft.config);
}

util::Expected<Config, ConfigError> load_file(const std::string& path) {
  const auto text = detail::read_whole_file(path);
  if (!text) {
    return util::Unexpected(ConfigError{path + ": cannot read: " + text.error().message()});
  }
  return load_string(*text, path);
}

std::vector<std::string> known_keys() {
  std::vector<std::string> keys;
  for (const KeySpec& spec : detail::key_table()) {
    keys.push_back(full_name(spec.section, spec.key));
  }
  return keys;
}

}  // namespace relay::config

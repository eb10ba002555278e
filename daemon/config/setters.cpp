#include "config/setters.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "config/suggest.hpp"
#include "config/toml_values.hpp"
#include "protocol/intents.hpp"

namespace relay::config::detail {
namespace {

Outcome not_empty(const toml::node& value) {
  if (string_of(value).empty()) {
    return Problem{"must not be empty", {}};
  }
  return {};
}

// http(s)://host[...]: anything else would only fail later, at the first request, far from the config.
bool is_http_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  const bool has_space = std::any_of(url.begin(), url.end(), [](char c) { return c == ' ' || c == '\t'; });
  return !rest.empty() && rest.front() != '/' && !has_space;
}

Outcome http_url(const toml::node& value, std::string& out) {
  const std::string& url = string_of(value);
  if (!is_http_url(url)) {
    return Problem{in_quotes(url) + " is not an http:// or https:// URL", {}};
  }
  out = url;
  return {};
}

Outcome intent_names(const toml::array& names, std::uint32_t& bits) {
  if (names.empty()) {
    return Problem{"must list at least one intent", {}};
  }
  std::vector<std::string_view> known;
  for (const auto& entry : protocol::intent_table()) {
    known.push_back(entry.name);
  }
  for (const toml::node& element : names) {
    const Position where = position_of(element.source());
    if (!element.is_string()) {
      return Problem{
          "expected intent names (strings), got " + std::string(type_name(element)) + " in the array", where};
    }
    const std::string& name = string_of(element);
    const auto bit = protocol::intent_bit(name);
    if (!bit) {
      std::string what = "unknown intent " + in_quotes(name);
      const std::string_view suggestion = suggest(name, known);
      if (!suggestion.empty()) {
        what += " (did you mean " + in_quotes(suggestion) + "?)";
      }
      return Problem{std::move(what), where};
    }
    bits |= *bit;
  }
  return {};
}

constexpr std::int64_t k_max_shards = 4096;

// spdlog's level names, so the app can hand the string straight to spdlog::level::from_str.
constexpr std::array<std::string_view, 7> k_log_levels{"trace", "debug",    "info", "warn",
                                                       "error", "critical", "off"};

}  // namespace

Outcome set_app_id(const toml::node& value, Draft& draft) {
  const std::string& id = string_of(value);
  if (id.empty()) {
    return Problem{"must not be empty", {}};
  }
  if (!std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Problem{"expected a string of digits, got " + in_quotes(id), {}};
  }
  draft.config.bot.app_id = id;
  return {};
}

// Secret values are never quoted back in a message: "must not be empty" is all we ever say about them.
Outcome set_client_secret(const toml::node& value, Draft& draft) {
  if (auto problem = not_empty(value)) {
    return problem;
  }
  draft.config.bot.client_secret = string_of(value);
  return {};
}

Outcome set_client_secret_file(const toml::node& value, Draft& draft) {
  if (auto problem = not_empty(value)) {
    return problem;
  }
  draft.client_secret_file = string_of(value);
  return {};
}

Outcome set_token(const toml::node& value, Draft& draft) {
  if (auto problem = not_empty(value)) {
    return problem;
  }
  draft.config.bot.token = string_of(value);
  return {};
}

Outcome set_intents(const toml::node& value, Draft& draft) {
  std::uint32_t bits = 0;
  if (const toml::array* names = value.as_array()) {
    if (auto problem = intent_names(*names, bits)) {
      return problem;
    }
  } else if (value.is_integer()) {
    // 0 would connect a bot that never receives anything, which is always a mistake.
    std::int64_t number = 0;
    if (auto problem = integer_in_range(value, 1, std::numeric_limits<std::uint32_t>::max(), number)) {
      return problem;
    }
    bits = static_cast<std::uint32_t>(number);
  } else {
    return Problem{"expected an array of intent names or an integer, got " + std::string(type_name(value)),
                   {}};
  }
  draft.config.bot.intents = bits;
  return {};
}

Outcome set_enabled(const toml::node& value, Draft& draft) {
  draft.config.gateway.enabled = value.as_boolean()->get();
  return {};
}

Outcome set_api_base(const toml::node& value, Draft& draft) {
  std::string url;
  if (auto problem = http_url(value, url)) {
    return problem;
  }
  // Request paths are appended with their own leading slash.
  while (url.ends_with('/')) {
    url.pop_back();
  }
  draft.config.gateway.api_base = std::move(url);
  return {};
}

Outcome set_token_url(const toml::node& value, Draft& draft) {
  return http_url(value, draft.config.gateway.token_url);
}

Outcome set_shards(const toml::node& value, Draft& draft) {
  const auto expected = [](const std::string& got) {
    return Problem{
        "expected \"auto\" or an integer from 1 to " + std::to_string(k_max_shards) + ", got " + got, {}};
  };
  if (value.is_string()) {
    if (string_of(value) != "auto") {
      return expected(in_quotes(string_of(value)));
    }
    draft.config.gateway.shards.reset();
    return {};
  }
  if (!value.is_integer()) {
    return expected(std::string(type_name(value)));
  }
  const std::int64_t count = value.as_integer()->get();
  if (count < 1 || count > k_max_shards) {
    return expected(std::to_string(count));
  }
  draft.config.gateway.shards = static_cast<unsigned>(count);
  return {};
}

Outcome set_max_frame_bytes(const toml::node& value, Draft& draft) {
  std::int64_t bytes = 0;
  if (auto problem = integer_in_range(value, 1024, 64 * 1024 * 1024, bytes)) {
    return problem;
  }
  draft.config.gateway.max_frame_bytes = static_cast<std::size_t>(bytes);
  return {};
}

Outcome set_identify_window(const toml::node& value, Draft& draft) {
  std::int64_t millis = 0;
  if (auto problem = integer_in_range(value, 10, 60'000, millis)) {
    return problem;
  }
  draft.config.gateway.identify_window_ms = static_cast<unsigned>(millis);
  return {};
}

Outcome set_endpoints(const toml::node& value, Draft& draft) {
  const toml::array& array = *value.as_array();
  if (array.empty()) {
    return Problem{"must list at least one endpoint", {}};
  }
  std::vector<std::string> endpoints;
  for (const toml::node& element : array) {
    const std::string& endpoint = string_of(element);
    const Position where = position_of(element.source());
    const bool known_transport = (endpoint.starts_with("tcp://") || endpoint.starts_with("ipc://")) &&
                                 endpoint.size() > std::string_view("tcp://").size();
    if (!known_transport) {
      return Problem{in_quotes(endpoint) + " is not a tcp:// or ipc:// endpoint", where};
    }
    // Binding the same endpoint twice fails at startup with EADDRINUSE; say so here instead.
    if (std::find(endpoints.begin(), endpoints.end(), endpoint) != endpoints.end()) {
      return Problem{in_quotes(endpoint) + " is listed twice", where};
    }
    endpoints.push_back(endpoint);
  }
  draft.config.publish.endpoints = std::move(endpoints);
  return {};
}

Outcome set_topic_prefix(const toml::node& value, Draft& draft) {
  draft.config.publish.topic_prefix = string_of(value);
  return {};
}

Outcome set_sndhwm(const toml::node& value, Draft& draft) {
  std::int64_t hwm = 0;
  if (auto problem = integer_in_range(value, 0, 10'000'000, hwm)) {
    return problem;
  }
  draft.config.publish.sndhwm = static_cast<int>(hwm);
  return {};
}

Outcome set_dedupe_window(const toml::node& value, Draft& draft) {
  std::int64_t ids = 0;
  if (auto problem = integer_in_range(value, 0, 16'777'216, ids)) {
    return problem;
  }
  draft.config.publish.dedupe_window = static_cast<std::size_t>(ids);
  return {};
}

Outcome set_replay_endpoint(const toml::node& value, Draft& draft) {
  const std::string& endpoint = string_of(value);
  const bool known_transport = (endpoint.starts_with("tcp://") || endpoint.starts_with("ipc://")) &&
                               endpoint.size() > std::string_view("tcp://").size();
  if (!endpoint.empty() && !known_transport) {
    return Problem{in_quotes(endpoint) + " is not a tcp:// or ipc:// endpoint (or \"\" for none)", {}};
  }
  draft.config.publish.replay_endpoint = endpoint;
  return {};
}

Outcome set_retain_messages(const toml::node& value, Draft& draft) {
  std::int64_t count = 0;
  if (auto problem = integer_in_range(value, 0, 100'000'000, count)) {
    return problem;
  }
  draft.config.publish.retain_messages = static_cast<std::size_t>(count);
  return {};
}

Outcome set_retain_bytes(const toml::node& value, Draft& draft) {
  std::int64_t bytes = 0;
  if (auto problem = integer_in_range(value, 0, std::int64_t{1} << 40, bytes)) {
    return problem;
  }
  draft.config.publish.retain_bytes = static_cast<std::size_t>(bytes);
  return {};
}

namespace {

// The replay budgets: at least 64 KiB (a few ordinary events), at most 1 TiB.
Outcome set_replay_byte_budget(const toml::node& value, std::size_t& out) {
  std::int64_t bytes = 0;
  if (auto problem = integer_in_range(value, 65536, std::int64_t{1} << 40, bytes)) {
    return problem;
  }
  out = static_cast<std::size_t>(bytes);
  return {};
}

}  // namespace

Outcome set_replay_max_reply_bytes(const toml::node& value, Draft& draft) {
  return set_replay_byte_budget(value, draft.config.publish.replay_max_reply_bytes);
}

Outcome set_replay_max_client_bytes(const toml::node& value, Draft& draft) {
  return set_replay_byte_budget(value, draft.config.publish.replay_max_client_bytes);
}

Outcome set_replay_max_bytes(const toml::node& value, Draft& draft) {
  return set_replay_byte_budget(value, draft.config.publish.replay_max_bytes);
}

Outcome set_journal(const toml::node& value, Draft& draft) {
  draft.config.publish.journal = value.as_boolean()->get();
  return {};
}

Outcome set_journal_max_bytes(const toml::node& value, Draft& draft) {
  std::int64_t bytes = 0;
  if (auto problem = integer_in_range(value, 1 << 20, std::int64_t{1} << 40, bytes)) {
    return problem;
  }
  draft.config.publish.journal_max_bytes = static_cast<std::size_t>(bytes);
  return {};
}

Outcome set_save_interval(const toml::node& value, Draft& draft) {
  std::int64_t millis = 0;
  if (auto problem = integer_in_range(value, 10, 60'000, millis)) {
    return problem;
  }
  draft.config.state.save_interval_ms = static_cast<unsigned>(millis);
  return {};
}

Outcome set_quarantine_max_bytes(const toml::node& value, Draft& draft) {
  std::int64_t bytes = 0;
  if (auto problem = integer_in_range(value, 0, std::int64_t{1} << 40, bytes)) {
    return problem;
  }
  draft.config.state.quarantine_max_bytes = static_cast<std::size_t>(bytes);
  return {};
}

Outcome set_state_directory(const toml::node& value, Draft& draft) {
  if (auto problem = not_empty(value)) {
    return problem;
  }
  draft.config.state.directory = string_of(value);
  return {};
}

Outcome set_log_level(const toml::node& value, Draft& draft) {
  const std::string& level = string_of(value);
  if (std::find(k_log_levels.begin(), k_log_levels.end(), level) == k_log_levels.end()) {
    const std::string_view suggestion = suggest(level, k_log_levels);
    if (!suggestion.empty()) {
      return Problem{"unknown level " + in_quotes(level) + " (did you mean " + in_quotes(suggestion) + "?)",
                     {}};
    }
    return Problem{
        "unknown level " + in_quotes(level) + " (expected trace, debug, info, warn, error, critical or off)",
        {}};
  }
  draft.config.log.level = level;
  return {};
}

Outcome set_log_format(const toml::node& value, Draft& draft) {
  const std::string& format = string_of(value);
  if (format == "text") {
    draft.config.log.format = LogFormat::text;
  } else if (format == "json") {
    draft.config.log.format = LogFormat::json;
  } else {
    return Problem{"unknown format " + in_quotes(format) + " (expected \"text\" or \"json\")", {}};
  }
  return {};
}

}  // namespace relay::config::detail

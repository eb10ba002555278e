// [api]: the OpenAPI forwarder's listener, its clients and its limits.
#include "config/setters.hpp"
#include "config/toml_values.hpp"
#include "util/url.hpp"

namespace relay::config::detail {

Outcome set_api_enabled(const toml::node& value, Draft& draft) {
  draft.config.api.enabled = value.as_boolean()->get();
  return {};
}

Outcome set_api_listen(const toml::node& value, Draft& draft) {
  ApiConfig& api = draft.config.api;
  return listen_address(value, "\"127.0.0.1:8081\" or \"[::1]:8081\"", api.listen, api.host, api.port);
}

Outcome set_api_tls_cert(const toml::node& value, Draft& draft) {
  return non_empty_string(value, draft.config.api.tls_cert);
}

Outcome set_api_tls_key(const toml::node& value, Draft& draft) {
  return non_empty_string(value, draft.config.api.tls_key);
}

Outcome set_api_clients_file(const toml::node& value, Draft& draft) {
  return non_empty_string(value, draft.config.api.clients_file);
}

Outcome set_api_max_body(const toml::node& value, Draft& draft) {
  std::int64_t bytes = 0;
  if (auto problem = integer_in_range(value, 1024, 256 * 1024 * 1024, bytes)) {
    return problem;
  }
  draft.config.api.max_body = static_cast<std::size_t>(bytes);
  return {};
}

Outcome set_api_upstream_timeout(const toml::node& value, Draft& draft) {
  std::int64_t seconds = 0;
  if (auto problem = integer_in_range(value, 1, 600, seconds)) {
    return problem;
  }
  draft.config.api.upstream_timeout = static_cast<unsigned>(seconds);
  return {};
}

Outcome set_api_max_in_flight(const toml::node& value, Draft& draft) {
  std::int64_t count = 0;
  if (auto problem = integer_in_range(value, 1, 4096, count)) {
    return problem;
  }
  draft.config.api.max_in_flight = static_cast<unsigned>(count);
  return {};
}

Outcome set_api_max_queued(const toml::node& value, Draft& draft) {
  std::int64_t count = 0;
  if (auto problem = integer_in_range(value, 0, 65536, count)) {
    return problem;
  }
  draft.config.api.max_queued = static_cast<unsigned>(count);
  return {};
}

Outcome set_api_max_connections(const toml::node& value, Draft& draft) {
  std::int64_t count = 0;
  if (auto problem = integer_in_range(value, 1, 65536, count)) {
    return problem;
  }
  draft.config.api.max_connections = static_cast<unsigned>(count);
  return {};
}

Outcome set_api_request_timeout(const toml::node& value, Draft& draft) {
  std::int64_t seconds = 0;
  if (auto problem = integer_in_range(value, 1, 600, seconds)) {
    return problem;
  }
  draft.config.api.request_timeout = static_cast<unsigned>(seconds);
  return {};
}

Outcome set_api_public_url(const toml::node& value, Draft& draft) {
  const std::string text = value.as_string()->get();
  const bool web = text.starts_with("http://") || text.starts_with("https://");
  const bool socket = text.starts_with("ws://") || text.starts_with("wss://");
  if ((!web && !socket) || text.find_first_of(" \t\r\n?#") != std::string::npos ||
      text.size() <= text.find("://") + 3) {
    return Problem{
        "must be the URL clients reach this listener at, such as \"https://relay.example.com\" or "
        "\"wss://relay.example.com\" (no query)",
        {}};
  }
  draft.config.api.public_url = text;
  return {};
}

Outcome set_api_gateway_shards(const toml::node& value, Draft& draft) {
  std::int64_t count = 0;
  if (auto problem = integer_in_range(value, 1, 1024, count)) {
    return problem;
  }
  draft.config.api.gateway_shards = static_cast<unsigned>(count);
  return {};
}

Outcome set_api_heartbeat_interval(const toml::node& value, Draft& draft) {
  std::int64_t millis = 0;
  if (auto problem = integer_in_range(value, 1000, 600'000, millis)) {
    return problem;
  }
  draft.config.api.heartbeat_interval = static_cast<unsigned>(millis);
  return {};
}

Outcome set_api_max_client_buffer(const toml::node& value, Draft& draft) {
  std::int64_t bytes = 0;
  if (auto problem = integer_in_range(value, 65536, 1024 * 1024 * 1024, bytes)) {
    return problem;
  }
  draft.config.api.max_client_buffer = static_cast<std::size_t>(bytes);
  return {};
}

std::optional<Diagnostic> check_api(Draft& draft, Position section, const std::filesystem::path& directory) {
  ApiConfig& api = draft.config.api;
  if (auto problem = check_tls_pair(draft, "api", api.tls_cert, api.tls_key, directory)) {
    return problem;
  }
  if (!api.enabled) {
    return std::nullopt;
  }
  const Position enabled_at = seen(draft, "api.enabled").value_or(section);
  if (draft.config.bot.auth != AuthMode::AccessToken) {
    return Diagnostic{
        enabled_at, "api.enabled",
        "forwarding needs access tokens: set bot.client_secret (or client_secret_file) instead of "
        "bot.token"};
  }
  for (const auto& [other, other_name, on] :
       {std::tuple{&draft.config.webhook.listen, "webhook.listen", draft.config.webhook.enabled},
        std::tuple{&draft.config.metrics.listen, "metrics.listen", !draft.config.metrics.listen.empty()}}) {
    if (on && *other == api.listen) {
      return Diagnostic{
          seen(draft, "api.listen").value_or(enabled_at), "api.listen",
          std::string("is the same address as ") + other_name + "; each listener needs its own port"};
    }
  }
  const auto file_at = seen(draft, "api.clients_file");
  if (!file_at) {
    return Diagnostic{enabled_at, "api.clients_file",
                      "is required with api.enabled: the local clients allowed to call the OpenAPI "
                      "(`qq-gateway-relay api-key NAME` makes a line)"};
  }
  const std::filesystem::path written(api.clients_file);
  api.clients_file = (written.is_absolute() ? written : directory / written).string();
  auto clients = api::read_client_keys(api.clients_file);
  if (!clients) {
    return Diagnostic{*file_at, "api.clients_file", clients.error()};
  }
  api.clients = std::move(*clients);
  return std::nullopt;
}

}  // namespace relay::config::detail

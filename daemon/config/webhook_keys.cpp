#include <unistd.h>

#include "config/setters.hpp"
#include "config/suggest.hpp"
#include "config/toml_values.hpp"
#include "util/url.hpp"

namespace relay::config::detail {
Outcome set_webhook_enabled(const toml::node& value, Draft& draft) {
  draft.config.webhook.enabled = value.as_boolean()->get();
  return {};
}

Outcome set_webhook_listen(const toml::node& value, Draft& draft) {
  WebhookConfig& webhook = draft.config.webhook;
  return listen_address(value, "\"127.0.0.1:8080\" or \"[::]:8443\"", webhook.listen, webhook.host,
                        webhook.port);
}

Outcome set_metrics_listen(const toml::node& value, Draft& draft) {
  const std::string& text = string_of(value);
  if (text.empty()) {
    draft.config.metrics.listen.clear();
    draft.config.metrics.host.clear();
    draft.config.metrics.port = 0;
    return {};
  }
  const auto parsed = util::parse_host_port(text);
  if (!parsed) {
    return Problem{
        "expected \"address:port\" (e.g. \"127.0.0.1:9464\"), or \"\" for none, got " + in_quotes(text), {}};
  }
  draft.config.metrics.listen = text;
  draft.config.metrics.host = parsed->host;
  draft.config.metrics.port = parsed->port;
  return {};
}

Outcome set_metrics_max_connections(const toml::node& value, Draft& draft) {
  std::int64_t count = 0;
  if (auto problem = integer_in_range(value, 1, 1024, count)) {
    return problem;
  }
  draft.config.metrics.max_connections = static_cast<unsigned>(count);
  return {};
}

Outcome set_webhook_max_connections(const toml::node& value, Draft& draft) {
  std::int64_t count = 0;
  if (auto problem = integer_in_range(value, 1, 65536, count)) {
    return problem;
  }
  draft.config.webhook.max_connections = static_cast<unsigned>(count);
  return {};
}

Outcome set_webhook_path(const toml::node& value, Draft& draft) {
  const std::string& path = string_of(value);
  if (!path.starts_with('/') || path.find_first_of("?# \t") != std::string::npos) {
    return Problem{"expected an absolute URL path such as \"/qq/webhook\", got " + in_quotes(path), {}};
  }
  draft.config.webhook.path = path;
  return {};
}

Outcome set_webhook_tls_cert(const toml::node& value, Draft& draft) {
  return non_empty_string(value, draft.config.webhook.tls_cert);
}

Outcome set_webhook_tls_key(const toml::node& value, Draft& draft) {
  return non_empty_string(value, draft.config.webhook.tls_key);
}

Outcome set_webhook_max_body(const toml::node& value, Draft& draft) {
  std::int64_t bytes = 0;
  if (auto problem = integer_in_range(value, 1024, 64 * 1024 * 1024, bytes)) {
    return problem;
  }
  draft.config.webhook.max_body = static_cast<std::size_t>(bytes);
  return {};
}

Outcome set_webhook_max_clock_skew(const toml::node& value, Draft& draft) {
  std::int64_t seconds = 0;
  if (auto problem = integer_in_range(value, 1, 86'400, seconds)) {
    return problem;
  }
  draft.config.webhook.max_clock_skew = static_cast<unsigned>(seconds);
  return {};
}

Outcome set_webhook_request_timeout(const toml::node& value, Draft& draft) {
  std::int64_t seconds = 0;
  if (auto problem = integer_in_range(value, 1, 300, seconds)) {
    return problem;
  }
  draft.config.webhook.request_timeout = static_cast<unsigned>(seconds);
  return {};
}

std::optional<Diagnostic> check_tls_pair(Draft& draft, std::string_view section, std::string& cert,
                                         std::string& key, const std::filesystem::path& directory) {
  const std::string cert_name = std::string(section) + ".tls_cert";
  const std::string key_name = std::string(section) + ".tls_key";
  const auto cert_at = seen(draft, cert_name);
  const auto key_at = seen(draft, key_name);
  if (cert_at.has_value() != key_at.has_value()) {
    return Diagnostic{cert_at ? *cert_at : *key_at, cert_at ? cert_name : key_name,
                      "needs " + (cert_at ? key_name : cert_name) + " as well"};
  }
  // Relative paths are relative to the config file, and the files must be readable now, not at the first
  // request hours later.
  for (auto [file, at, name] :
       {std::tuple{&cert, cert_at, &cert_name}, std::tuple{&key, key_at, &key_name}}) {
    if (file->empty()) {
      continue;
    }
    const std::filesystem::path written(*file);
    const std::filesystem::path path = written.is_absolute() ? written : directory / written;
    if (::access(path.c_str(), R_OK) != 0) {
      return Diagnostic{*at, *name, "cannot read " + in_quotes(path.string())};
    }
    *file = path.string();
  }
  return std::nullopt;
}

std::optional<Diagnostic> check_webhook(Draft& draft, Position section,
                                        const std::filesystem::path& directory) {
  WebhookConfig& webhook = draft.config.webhook;
  if (auto problem = check_tls_pair(draft, "webhook", webhook.tls_cert, webhook.tls_key, directory)) {
    return problem;
  }
  if (webhook.enabled && draft.config.bot.auth != AuthMode::AccessToken) {
    return Diagnostic{seen(draft, "webhook.enabled").value_or(section), "webhook.enabled",
                      "webhook signatures need the AppSecret: set bot.client_secret (or client_secret_file) "
                      "instead of bot.token"};
  }
  return std::nullopt;
}

}  // namespace relay::config::detail

#include "config/key_table.hpp"

#include <algorithm>
#include <array>

#include "config/setters.hpp"

namespace relay::config::detail {
namespace {

constexpr bool k_required = true;
constexpr bool k_optional = false;
constexpr bool k_secret = true;
constexpr bool k_public = false;
constexpr Change k_restart = Change::restart;
constexpr Change k_reload = Change::reload;

// clang-format off
constexpr std::array k_keys{
    KeySpec{"bot",     "app_id",             Expect::String,      k_required, k_public, k_restart, &set_app_id},
    KeySpec{"bot",     "client_secret",      Expect::String,      k_optional, k_secret, k_restart, &set_client_secret},
    KeySpec{"bot",     "client_secret_file", Expect::String,      k_optional, k_public, k_restart, &set_client_secret_file},
    KeySpec{"bot",     "token",              Expect::String,      k_optional, k_secret, k_restart, &set_token},
    KeySpec{"bot",     "intents",            Expect::Custom,      k_required, k_public, k_restart, &set_intents},
    KeySpec{"gateway", "enabled",            Expect::Boolean,     k_optional, k_public, k_restart, &set_enabled},
    KeySpec{"gateway", "api_base",           Expect::String,      k_optional, k_public, k_restart, &set_api_base},
    KeySpec{"gateway", "token_url",          Expect::String,      k_optional, k_public, k_restart, &set_token_url},
    KeySpec{"gateway", "shards",             Expect::Custom,      k_optional, k_public, k_restart, &set_shards},
    KeySpec{"gateway", "max_frame_bytes",    Expect::Integer,     k_optional, k_public, k_restart, &set_max_frame_bytes},
    KeySpec{"gateway", "identify_window_ms", Expect::Integer,     k_optional, k_public, k_restart, &set_identify_window},
    KeySpec{"publish", "endpoints",          Expect::StringArray, k_optional, k_public, k_restart, &set_endpoints},
    KeySpec{"publish", "topic_prefix",       Expect::String,      k_optional, k_public, k_reload,  &set_topic_prefix},
    KeySpec{"publish", "sndhwm",             Expect::Integer,     k_optional, k_public, k_restart, &set_sndhwm},
    KeySpec{"publish", "dedupe_window",      Expect::Integer,     k_optional, k_public, k_restart, &set_dedupe_window},
    KeySpec{"publish", "replay_endpoint",    Expect::String,      k_optional, k_public, k_restart, &set_replay_endpoint},
    KeySpec{"publish", "retain_messages",    Expect::Integer,     k_optional, k_public, k_restart, &set_retain_messages},
    KeySpec{"publish", "retain_bytes",       Expect::Integer,     k_optional, k_public, k_restart, &set_retain_bytes},
    KeySpec{"publish", "replay_max_reply_bytes",  Expect::Integer, k_optional, k_public, k_restart, &set_replay_max_reply_bytes},
    KeySpec{"publish", "replay_max_client_bytes", Expect::Integer, k_optional, k_public, k_restart, &set_replay_max_client_bytes},
    KeySpec{"publish", "replay_max_bytes",   Expect::Integer,     k_optional, k_public, k_restart, &set_replay_max_bytes},
    KeySpec{"publish", "journal",            Expect::Boolean,     k_optional, k_public, k_restart, &set_journal},
    KeySpec{"publish", "journal_max_bytes",  Expect::Integer,     k_optional, k_public, k_restart, &set_journal_max_bytes},
    KeySpec{"publish", "curve_secret_key_file", Expect::String,   k_optional, k_public, k_restart, &set_curve_secret_key_file},
    KeySpec{"publish", "curve_authorized_keys", Expect::String,   k_optional, k_public, k_reload,  &set_curve_authorized_keys},
    KeySpec{"webhook", "enabled",            Expect::Boolean,     k_optional, k_public, k_restart, &set_webhook_enabled},
    KeySpec{"webhook", "listen",             Expect::String,      k_optional, k_public, k_restart, &set_webhook_listen},
    KeySpec{"webhook", "path",               Expect::String,      k_optional, k_public, k_restart, &set_webhook_path},
    KeySpec{"webhook", "tls_cert",           Expect::String,      k_optional, k_public, k_restart, &set_webhook_tls_cert},
    KeySpec{"webhook", "tls_key",            Expect::String,      k_optional, k_public, k_restart, &set_webhook_tls_key},
    KeySpec{"webhook", "max_body",           Expect::Integer,     k_optional, k_public, k_restart, &set_webhook_max_body},
    KeySpec{"webhook", "max_clock_skew",     Expect::Integer,     k_optional, k_public, k_restart, &set_webhook_max_clock_skew},
    KeySpec{"webhook", "request_timeout",    Expect::Integer,     k_optional, k_public, k_restart, &set_webhook_request_timeout},
    KeySpec{"webhook", "max_connections",    Expect::Integer,     k_optional, k_public, k_restart, &set_webhook_max_connections},
    KeySpec{"api",     "enabled",            Expect::Boolean,     k_optional, k_public, k_restart, &set_api_enabled},
    KeySpec{"api",     "listen",             Expect::String,      k_optional, k_public, k_restart, &set_api_listen},
    KeySpec{"api",     "tls_cert",           Expect::String,      k_optional, k_public, k_restart, &set_api_tls_cert},
    KeySpec{"api",     "tls_key",            Expect::String,      k_optional, k_public, k_restart, &set_api_tls_key},
    KeySpec{"api",     "clients_file",       Expect::String,      k_optional, k_public, k_reload,  &set_api_clients_file},
    KeySpec{"api",     "max_body",           Expect::Integer,     k_optional, k_public, k_restart, &set_api_max_body},
    KeySpec{"api",     "upstream_timeout",   Expect::Integer,     k_optional, k_public, k_restart, &set_api_upstream_timeout},
    KeySpec{"api",     "max_in_flight",      Expect::Integer,     k_optional, k_public, k_restart, &set_api_max_in_flight},
    KeySpec{"api",     "max_queued",         Expect::Integer,     k_optional, k_public, k_restart, &set_api_max_queued},
    KeySpec{"api",     "max_connections",    Expect::Integer,     k_optional, k_public, k_restart, &set_api_max_connections},
    KeySpec{"api",     "request_timeout",    Expect::Integer,     k_optional, k_public, k_restart, &set_api_request_timeout},
    KeySpec{"api",     "public_url",         Expect::String,      k_optional, k_public, k_restart, &set_api_public_url},
    KeySpec{"api",     "gateway_shards",     Expect::Integer,     k_optional, k_public, k_restart, &set_api_gateway_shards},
    KeySpec{"api",     "heartbeat_interval", Expect::Integer,     k_optional, k_public, k_restart, &set_api_heartbeat_interval},
    KeySpec{"api",     "max_client_buffer",  Expect::Integer,     k_optional, k_public, k_restart, &set_api_max_client_buffer},
    KeySpec{"metrics", "listen",             Expect::String,      k_optional, k_public, k_restart, &set_metrics_listen},
    KeySpec{"metrics", "max_connections",    Expect::Integer,     k_optional, k_public, k_restart, &set_metrics_max_connections},
    KeySpec{"state",   "directory",          Expect::String,      k_optional, k_public, k_restart, &set_state_directory},
    KeySpec{"state",   "save_interval_ms",   Expect::Integer,     k_optional, k_public, k_restart, &set_save_interval},
    KeySpec{"state",   "quarantine_max_bytes", Expect::Integer,   k_optional, k_public, k_restart, &set_quarantine_max_bytes},
    KeySpec{"cluster", "enabled",            Expect::Boolean,     k_optional, k_public, k_restart, &set_cluster_enabled},
    // Secret: the URL may hold the password.
    KeySpec{"cluster", "redis",              Expect::String,      k_optional, k_secret, k_restart, &set_cluster_redis},
    KeySpec{"cluster", "password_file",      Expect::String,      k_optional, k_public, k_restart, &set_cluster_password_file},
    KeySpec{"cluster", "node",               Expect::String,      k_optional, k_public, k_restart, &set_cluster_node},
    KeySpec{"cluster", "lease_ms",           Expect::Integer,     k_optional, k_public, k_restart, &set_cluster_lease_ms},
    KeySpec{"cluster", "key_prefix",         Expect::String,      k_optional, k_public, k_restart, &set_cluster_key_prefix},
    KeySpec{"cluster", "dedupe_ms",          Expect::Integer,     k_optional, k_public, k_restart, &set_cluster_dedupe_ms},
    KeySpec{"log",     "level",              Expect::String,      k_optional, k_public, k_reload,  &set_log_level},
    KeySpec{"log",     "format",             Expect::String,      k_optional, k_public, k_reload,  &set_log_format},
};
// clang-format on

}  // namespace

std::span<const KeySpec> key_table() {
  return k_keys;
}

const KeySpec* find_key(std::string_view section, std::string_view key) {
  for (const KeySpec& spec : k_keys) {
    if (spec.section == section && spec.key == key) {
      return &spec;
    }
  }
  return nullptr;
}

std::vector<std::string_view> section_names() {
  std::vector<std::string_view> names;
  for (const KeySpec& spec : k_keys) {
    if (std::find(names.begin(), names.end(), spec.section) == names.end()) {
      names.push_back(spec.section);
    }
  }
  return names;
}

}  // namespace relay::config::detail

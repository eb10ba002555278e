#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <optional>

#include "config/diagnostic.hpp"
#include "config/key_table.hpp"

// One validator per key: each checks a value the loader has already type-checked (see Expect) and stores it
// in the draft. They never quote a secret's value back.
namespace relay::config::detail {

Outcome set_app_id(const toml::node& value, Draft& draft);
Outcome set_client_secret(const toml::node& value, Draft& draft);
Outcome set_client_secret_file(const toml::node& value, Draft& draft);
Outcome set_token(const toml::node& value, Draft& draft);
Outcome set_intents(const toml::node& value, Draft& draft);
Outcome set_enabled(const toml::node& value, Draft& draft);
Outcome set_api_base(const toml::node& value, Draft& draft);
Outcome set_token_url(const toml::node& value, Draft& draft);
Outcome set_shards(const toml::node& value, Draft& draft);
Outcome set_max_frame_bytes(const toml::node& value, Draft& draft);
Outcome set_identify_window(const toml::node& value, Draft& draft);
Outcome set_endpoints(const toml::node& value, Draft& draft);
Outcome set_topic_prefix(const toml::node& value, Draft& draft);
Outcome set_sndhwm(const toml::node& value, Draft& draft);
Outcome set_dedupe_window(const toml::node& value, Draft& draft);
Outcome set_replay_endpoint(const toml::node& value, Draft& draft);
Outcome set_retain_messages(const toml::node& value, Draft& draft);
Outcome set_retain_bytes(const toml::node& value, Draft& draft);
Outcome set_replay_max_reply_bytes(const toml::node& value, Draft& draft);
Outcome set_replay_max_client_bytes(const toml::node& value, Draft& draft);
Outcome set_replay_max_bytes(const toml::node& value, Draft& draft);
Outcome set_journal(const toml::node& value, Draft& draft);
Outcome set_journal_max_bytes(const toml::node& value, Draft& draft);
Outcome set_quarantine_max_bytes(const toml::node& value, Draft& draft);
Outcome set_curve_secret_key_file(const toml::node& value, Draft& draft);
Outcome set_curve_authorized_keys(const toml::node& value, Draft& draft);
// Cross-key checks of CURVE: both files or neither, readable, keys well formed.
std::optional<Diagnostic> check_curve(Draft& draft, const std::filesystem::path& directory);
Outcome set_webhook_enabled(const toml::node& value, Draft& draft);
Outcome set_webhook_listen(const toml::node& value, Draft& draft);
Outcome set_webhook_path(const toml::node& value, Draft& draft);
Outcome set_webhook_tls_cert(const toml::node& value, Draft& draft);
Outcome set_webhook_tls_key(const toml::node& value, Draft& draft);
Outcome set_webhook_max_body(const toml::node& value, Draft& draft);
Outcome set_webhook_max_clock_skew(const toml::node& value, Draft& draft);
Outcome set_webhook_request_timeout(const toml::node& value, Draft& draft);
// Cross-key checks of [webhook]: TLS files in pairs and readable, a signing secret.
std::optional<Diagnostic> check_webhook(Draft& draft, Position section,
                                        const std::filesystem::path& directory);
Outcome set_webhook_max_connections(const toml::node& value, Draft& draft);
Outcome set_api_enabled(const toml::node& value, Draft& draft);
Outcome set_api_listen(const toml::node& value, Draft& draft);
Outcome set_api_tls_cert(const toml::node& value, Draft& draft);
Outcome set_api_tls_key(const toml::node& value, Draft& draft);
Outcome set_api_clients_file(const toml::node& value, Draft& draft);
Outcome set_api_max_body(const toml::node& value, Draft& draft);
Outcome set_api_upstream_timeout(const toml::node& value, Draft& draft);
Outcome set_api_max_in_flight(const toml::node& value, Draft& draft);
Outcome set_api_max_queued(const toml::node& value, Draft& draft);
Outcome set_api_max_connections(const toml::node& value, Draft& draft);
Outcome set_api_request_timeout(const toml::node& value, Draft& draft);
Outcome set_api_public_url(const toml::node& value, Draft& draft);
Outcome set_api_gateway_shards(const toml::node& value, Draft& draft);
Outcome set_api_heartbeat_interval(const toml::node& value, Draft& draft);
Outcome set_api_max_client_buffer(const toml::node& value, Draft& draft);
// A TLS certificate and key given together and readable (relative paths: to the config file's directory).
std::optional<Diagnostic> check_tls_pair(Draft& draft, std::string_view section, std::string& cert,
                                         std::string& key, const std::filesystem::path& directory);
// Cross-key checks of [api]: TLS files in pairs and readable, the clients file read and valid, a port of its
// own.
std::optional<Diagnostic> check_api(Draft& draft, Position section, const std::filesystem::path& directory);
Outcome set_metrics_listen(const toml::node& value, Draft& draft);
Outcome set_metrics_max_connections(const toml::node& value, Draft& draft);
Outcome set_state_directory(const toml::node& value, Draft& draft);
Outcome set_save_interval(const toml::node& value, Draft& draft);
Outcome set_cluster_enabled(const toml::node& value, Draft& draft);
Outcome set_cluster_redis(const toml::node& value, Draft& draft);
Outcome set_cluster_password_file(const toml::node& value, Draft& draft);
Outcome set_cluster_node(const toml::node& value, Draft& draft);
Outcome set_cluster_lease_ms(const toml::node& value, Draft& draft);
Outcome set_cluster_key_prefix(const toml::node& value, Draft& draft);
Outcome set_cluster_dedupe_ms(const toml::node& value, Draft& draft);
// Cross-key checks of [cluster], only when enabled: the node name, gateway.shards set explicitly, and the
// Redis password from exactly one of the URL, password_file or the systemd credential redis_password. Also
// gives cluster.node its default, the host name.
std::optional<Diagnostic> check_cluster(Draft& draft, Position section,
                                        const std::filesystem::path& directory);
Outcome set_log_level(const toml::node& value, Draft& draft);
Outcome set_log_format(const toml::node& value, Draft& draft);

}  // namespace relay::config::detail

// [cluster]: several relays sharing the shards through Redis (docs/cluster.md).
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "config/read_file.hpp"
#include "config/setters.hpp"
#include "config/toml_values.hpp"
#include "util/redis_url.hpp"

namespace relay::config::detail {
namespace {

// The systemd credential name (LoadCredential=redis_password:...).
constexpr std::string_view k_password_credential = "redis_password";

constexpr std::size_t k_max_node_bytes = 64;

// The node name is part of Redis keys, log lines and published metadata: nothing that needs quoting anywhere.
bool valid_node(std::string_view node) {
  if (node.empty() || node.size() > k_max_node_bytes) {
    return false;
  }
  for (const char c : node) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string node_rule() {
  return "1 to " + std::to_string(k_max_node_bytes) + " of A-Z a-z 0-9 . _ -";
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0) {
    return {};
  }
  return name;
}

// The URL as written with its password (":password@", the only form parse_redis_url accepts) replaced.
std::string without_password(const std::string& url, const util::RedisUrl& parsed) {
  if (parsed.password.empty()) {
    return url;
  }
  return "redis://:***@" + url.substr(url.rfind('@') + 1);
}

// A password given two ways would leave it unclear which one is live; blame the one written later.
Diagnostic password_conflict(const Draft& draft) {
  const Position url_at = *seen(draft, "cluster.redis");
  const Position file_at = *seen(draft, "cluster.password_file");
  constexpr std::string_view once = " (give the Redis password one way only)";
  if (file_at > url_at) {
    return Diagnostic{file_at, "cluster.password_file",
                      "conflicts with the password in cluster.redis" + std::string(once)};
  }
  return Diagnostic{url_at, "cluster.redis",
                    "has a password, and cluster.password_file gives one too" + std::string(once)};
}

// The password from cluster.password_file or, without it, the systemd credential; none leaves the URL's.
std::optional<Diagnostic> resolve_password(Draft& draft, Position section,
                                           const std::filesystem::path& directory) {
  ClusterConfig& cluster = draft.config.cluster;
  const bool in_url = !cluster.redis_url.password.empty();
  if (!cluster.password_file.empty()) {
    if (in_url) {
      return password_conflict(draft);
    }
    const std::string path = (directory / cluster.password_file).string();
    auto password = secret_from(read_whole_file(path), path);
    if (!password) {
      return Diagnostic{*seen(draft, "cluster.password_file"), "cluster.password_file",
                        std::move(password).error()};
    }
    cluster.redis_url.password = std::move(*password);
    draft.config.secret_files.push_back({"cluster.password_file", path});
    return std::nullopt;
  }
  const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
  if (credentials == nullptr || *credentials == '\0') {
    return std::nullopt;
  }
  const std::string path = (std::filesystem::path(credentials) / k_password_credential).string();
  auto file = read_whole_file(path);
  // A credentials directory without this credential just means "not configured this way".
  if (!file && file.error() == std::errc::no_such_file_or_directory) {
    return std::nullopt;
  }
  if (in_url) {
    return Diagnostic{
        *seen(draft, "cluster.redis"), "cluster.redis",
        "has a password, and the systemd credential redis_password gives one too (give the Redis "
        "password one way only)"};
  }
  auto password = secret_from(std::move(file), path);
  if (!password) {
    return Diagnostic{section, "cluster.password_file", "systemd credential: " + password.error()};
  }
  cluster.redis_url.password = std::move(*password);
  return std::nullopt;
}

}  // namespace

Outcome set_cluster_enabled(const toml::node& value, Draft& draft) {
  draft.config.cluster.enabled = value.as_boolean()->get();
  return {};
}

// parse_redis_url's messages never contain the password, and the URL itself is never quoted back.
Outcome set_cluster_redis(const toml::node& value, Draft& draft) {
  const std::string& text = string_of(value);
  auto parsed = util::parse_redis_url(text);
  if (!parsed) {
    return Problem{std::move(parsed).error(), {}};
  }
  draft.config.cluster.redis = without_password(text, *parsed);
  draft.config.cluster.redis_url = std::move(*parsed);
  return {};
}

Outcome set_cluster_password_file(const toml::node& value, Draft& draft) {
  return non_empty_string(value, draft.config.cluster.password_file);
}

Outcome set_cluster_node(const toml::node& value, Draft& draft) {
  const std::string& node = string_of(value);
  if (!valid_node(node)) {
    return Problem{"expected " + node_rule() + ", got " + in_quotes(node), {}};
  }
  draft.config.cluster.node = node;
  return {};
}

Outcome set_cluster_lease_ms(const toml::node& value, Draft& draft) {
  std::int64_t millis = 0;
  if (auto problem = integer_in_range(value, 1000, 600'000, millis)) {
    return problem;
  }
  draft.config.cluster.lease_ms = static_cast<unsigned>(millis);
  return {};
}

Outcome set_cluster_key_prefix(const toml::node& value, Draft& draft) {
  const std::string& prefix = string_of(value);
  if (prefix.empty()) {
    return Problem{"must not be empty", {}};
  }
  for (const char c : prefix) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte == 0x7f) {
      return Problem{"expected no spaces or control characters, got " + in_quotes(prefix), {}};
    }
  }
  draft.config.cluster.key_prefix = prefix;
  return {};
}

Outcome set_cluster_dedupe_ms(const toml::node& value, Draft& draft) {
  std::int64_t millis = 0;
  if (auto problem = integer_in_range(value, 1000, 86'400'000, millis)) {
    return problem;
  }
  draft.config.cluster.dedupe_ms = static_cast<unsigned>(millis);
  return {};
}

std::optional<Diagnostic> check_cluster(Draft& draft, Position section,
                                        const std::filesystem::path& directory) {
  ClusterConfig& cluster = draft.config.cluster;
  const bool node_written = seen(draft, "cluster.node").has_value();
  if (!node_written) {
    cluster.node = host_name();
  }
  if (!cluster.enabled) {
    return std::nullopt;
  }
  const Position enabled_at = seen(draft, "cluster.enabled").value_or(section);
  if (!node_written && !valid_node(cluster.node)) {
    return Diagnostic{enabled_at, "cluster.enabled",
                      "the host name " + in_quotes(cluster.node) + " is not a node name (" + node_rule() +
                          "): set cluster.node"};
  }
  // Leases are keyed by [index, count]: relays that each asked the API could disagree on the count.
  if (draft.config.gateway.enabled && !draft.config.gateway.shards) {
    return Diagnostic{
        enabled_at, "cluster.enabled",
        "needs gateway.shards set to a number, not \"auto\": set gateway.shards to the same value "
        "on every relay (shard leases are keyed by [index, count])"};
  }
  return resolve_password(draft, section, directory);
}

}  // namespace relay::config::detail

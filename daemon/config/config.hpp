#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/client_keys.hpp"
#include "util/redis_url.hpp"

namespace relay::config {

enum class AuthMode {
  AccessToken,  // client_secret exchanged for short-lived access tokens at token_url
  StaticToken,  // legacy "Bot <app_id>.<token>" authorization
};

struct BotConfig {
  std::string app_id;
  AuthMode auth = AuthMode::AccessToken;
  std::string client_secret;  // resolved from whichever source was configured; empty for StaticToken
  std::string token;          // only for StaticToken
  std::uint32_t intents = 0;
};

struct GatewayConfig {
  bool enabled = true;
  std::string api_base = "https://api.sgroup.qq.com";
  std::string token_url = "https://bots.qq.com/app/getAppAccessToken";
  std::optional<unsigned> shards;  // nullopt = use the count the API recommends
  std::size_t max_frame_bytes = 1048576;
  // At most max_concurrency Identifies per window: the platform's 5 s plus a margin. Shorter only for tests.
  unsigned identify_window_ms = 5250;
};

struct PublishConfig {
  std::vector<std::string> endpoints{"tcp://127.0.0.1:5555"};
  std::string topic_prefix;
  int sndhwm = 100000;
  std::size_t dedupe_window = 65536;  // recent event ids remembered; 0 turns id de-duplication off
  std::string replay_endpoint;        // empty: no catch-up endpoint
  std::size_t retain_messages = 100000;
  std::size_t retain_bytes = 67108864;
  std::size_t replay_max_reply_bytes = 4194304;    // retained messages in one catch-up reply
  std::size_t replay_max_client_bytes = 16777216;  // reply bytes held at once for one replay client
  std::size_t replay_max_bytes = 67108864;         // reply bytes held at once for all replay clients
  bool journal = false;  // keep published messages in state.directory/journal for replay across restarts
  std::size_t journal_max_bytes = 268435456;
  std::string curve_secret_key_file;          // empty: no CURVE
  std::string curve_authorized_keys;          // a file of client public keys
  std::string curve_secret_key;               // loaded from curve_secret_key_file (Z85); never logged
  std::vector<std::string> curve_authorized;  // loaded from curve_authorized_keys
};

struct WebhookConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1:8080";
  std::string host = "127.0.0.1";  // from listen
  int port = 8080;                 // from listen
  std::string path = "/qq/webhook";
  std::string tls_cert;  // both empty: plain HTTP
  std::string tls_key;
  std::size_t max_body = 1048576;
  unsigned max_clock_skew = 300;   // seconds
  unsigned request_timeout = 10;   // seconds for a whole request to arrive
  unsigned max_connections = 256;  // open at once; more are closed as they arrive
};

// The OpenAPI forwarder (docs/api.md): local bots call the platform's OpenAPI through the relay, which adds
// its own access token.
struct ApiConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1:8081";
  std::string host = "127.0.0.1";  // from listen
  int port = 8081;                 // from listen
  std::string tls_cert;            // both empty: plain HTTP
  std::string tls_key;
  std::string clients_file;             // required when enabled
  std::vector<api::ClientKey> clients;  // loaded from clients_file; keys never logged
  std::size_t max_body = 16'777'216;    // rich-media uploads carry base64 file_data
  unsigned upstream_timeout = 30;       // seconds for the platform's whole answer
  unsigned max_in_flight = 64;          // requests forwarded at once
  unsigned max_queued = 1024;           // requests waiting for a slot; past it 503 + Retry-After
  unsigned max_connections = 256;       // client connections open at once
  unsigned request_timeout =
      30;  // seconds for a request's head and body, an idle connection, an answer's writes
  // The gateway served to SDK bots (docs/downstream.md).
  std::string public_url;                   // empty: ws(s):// + the Host the client used
  unsigned gateway_shards = 1;              // `shards` in GET /gateway/bot
  unsigned heartbeat_interval = 41'250;     // ms, in Hello
  std::size_t max_client_buffer = 8 << 20;  // bytes queued for one session; past it 4009
};

struct MetricsConfig {
  std::string listen;  // empty: no metrics listener
  std::string host;
  int port = 0;
  unsigned max_connections = 16;  // open at once; more are closed as they arrive
};

struct StateConfig {
  std::string directory = "/var/lib/qq-gateway-relay";
  unsigned save_interval_ms = 1000;  // longest a published position waits before it is written
  // Invalid frames are kept in quarantine.jsonl and quarantine.1.jsonl, together at most this big; 0 keeps
  // none.
  std::size_t quarantine_max_bytes = 8'388'608;
};

// Several relays sharing the shards through Redis (docs/cluster.md). Only read when `enabled`.
struct ClusterConfig {
  bool enabled = false;
  // cluster.redis as written, with a password in it replaced by "***": safe for logs.
  std::string redis = "redis://127.0.0.1:6379/0";
  // Where to connect. `password` is resolved from the URL, cluster.password_file or the systemd credential
  // redis_password; never log it.
  util::RedisUrl redis_url{"127.0.0.1", 6379, "", 0};
  std::string password_file;   // as written; read only when enabled
  std::string node;            // default: the host name
  unsigned lease_ms = 10'000;  // a shard lease's lifetime
  std::string key_prefix = "qq-relay:";
  unsigned dedupe_ms = 600'000;  // how long an event id is remembered across relays
};

enum class LogFormat {
  text,  // readable lines (coloured on a terminal, with journald priority prefixes under systemd)
  json,  // one JSON object per line
};

struct LogConfig {
  std::string level = "info";
  LogFormat format = LogFormat::text;
};

struct Config {
  std::string source_path;
  // "section.key" -> the value as written in the file (a digest for secrets): what a reload compares.
  std::map<std::string, std::string> written;
  BotConfig bot;
  GatewayConfig gateway;
  PublishConfig publish;
  WebhookConfig webhook;
  ApiConfig api;
  MetricsConfig metrics;
  StateConfig state;
  ClusterConfig cluster;
  LogConfig log;
};

// Fully formatted ("<path>:<line>: <section>.<key>: <what is wrong>"), ready to print as is.
struct ConfigError {
  std::string message;
};

// One line for --check-config. Never contains a secret, so it is safe for logs and terminals.
std::string summary(const Config& config);

}  // namespace relay::config

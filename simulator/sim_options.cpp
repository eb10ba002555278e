// The only translation unit that includes CLI11 (it is slow to compile).
#include "sim_options.hpp"

#include <CLI/CLI.hpp>

#include "util/url.hpp"

namespace qqsim {

int parse_options(int argc, char** argv, Options& out) {
  CLI::App app{
      "qq-gateway-sim: a local stand-in for the QQ bot platform (token endpoint, /gateway, WebSocket)"};
  app.add_option("--listen", out.listen, "Address to listen on")->capture_default_str();
  app.add_option("--port", out.port, "TCP port (0 = ephemeral)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--port-file", out.port_file, "Write the bound port number here once listening");
  auto* cert = app.add_option("--tls-cert", out.tls_cert,
                              "PEM certificate chain: serve HTTPS and wss:// instead of http:// and ws://")
                   ->check(CLI::ExistingFile);
  auto* key =
      app.add_option("--tls-key", out.tls_key, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  app.add_option("--gateway-host", out.gateway_host,
                 "Host name or address the gateway URL from /gateway names (default: the listen address)");
  app.add_option("--app-id", out.app_id, "AppID the token endpoint accepts")->capture_default_str();
  app.add_option("--secret", out.secret, "clientSecret the token endpoint accepts")->capture_default_str();
  app.add_option("--bot-token", out.bot_token, "Also accept the legacy static token 'Bot <app_id>.<T>'");
  app.add_option("--token-ttl", out.token_ttl, "Access-token lifetime in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--expires-in-number", out.expires_in_number,
               "Send expires_in as a JSON integer, not a string");
  app.add_option("--shards", out.shards, "Shard count /gateway/bot recommends")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-concurrency", out.max_concurrency, "session_start_limit.max_concurrency")
      ->capture_default_str();
  app.add_option("--remaining", out.remaining, "session_start_limit.remaining")->capture_default_str();
  app.add_option("--total", out.total, "session_start_limit.total")->capture_default_str();
  app.add_option("--reset-after", out.reset_after, "session_start_limit.reset_after (ms)")
      ->capture_default_str();
  app.add_option("--heartbeat-interval", out.heartbeat_interval, "heartbeat_interval sent in Hello (ms)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--fixtures", out.fixtures_dir, "Directory of dispatch fixtures (*.json)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--rate", out.rate, "Generate this many events per second over the ready sessions (0 = off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--webhook-url", out.webhook_url,
                 "Deliver the --rate events by webhook (signed HTTP POST) to this http:// or https:// URL, "
                 "not over the gateway; also the default URL of POST /_sim/webhook")
      ->check(CLI::Validator(
          [](std::string& url) -> std::string {
            const auto parsed = relay::util::parse_url(url);
            return parsed && !parsed->websocket ? "" : "not an http:// or https:// URL: " + url;
          },
          "URL"));
  app.add_option("--event-size", out.event_size, "Approximate size of generated events in bytes")
      ->capture_default_str();
  app.add_flag(
      "--stamp", out.stamp,
      "Benchmarks: generated events carry d.send_ns, the CLOCK_MONOTONIC nanoseconds of their write");
  app.add_option("--rate-tick-us", out.rate_tick_us,
                 "Timer period in microseconds while events are generated at a rate (smaller = smoother)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{1000000}));
  app.add_option("--history", out.history, "Dispatch frames retained per session for Resume")
      ->capture_default_str();
  app.add_option("--history-bytes", out.history_bytes,
                 "Total bytes of retained dispatch frames, all sessions")
      ->capture_default_str();
  app.add_option("--log-limit", out.log_limit, "Entries kept in each /_sim/log list")->capture_default_str();
  app.add_option("--log-level", out.log_level, "error, warn, info or debug")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  app.add_flag("--quiet", out.quiet, "Only print errors (the 'listening on' line is always printed)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return -1;
}

}  // namespace qqsim

// The only translation unit that includes CLI11 (it is slow to compile).
#include "sim_options.hpp"

#include <CLI/CLI.hpp>

#include "util/url.hpp"

namespace qqsim {

int parse_options(int argc, char** argv, Options& out) {
  CLI::App app{"qq-gateway-sim: a local stand-in for the QQ bot platform", "qq-gateway-sim"};
  // --help fits a terminal 80 columns wide; docs/simulator.md has the details.
  app.get_formatter()->column_width(26);
  app.footer(
      "Documentation: simulator.md in /usr/share/doc/qq-gateway-relay (docs/ in the\n"
      "source): the control API, the fixtures, scripted gateway behaviour.");
  app.add_option("--listen", out.listen, "address to listen on")->capture_default_str();
  app.add_option("--port", out.port, "TCP port (0: the kernel picks one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--port-file", out.port_file, "write the bound port number here once listening");
  auto* cert = app.add_option("--tls-cert", out.tls_cert, "PEM certificate chain: serve https:// and wss://")
                   ->check(CLI::ExistingFile);
  auto* key =
      app.add_option("--tls-key", out.tls_key, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  app.add_option("--gateway-host", out.gateway_host, "host in /gateway's URL (default: --listen)");
  app.add_option("--app-id", out.app_id, "AppID the token endpoint accepts")->capture_default_str();
  app.add_option("--secret", out.secret, "clientSecret the token endpoint accepts")->capture_default_str();
  app.add_option("--bot-token", out.bot_token, "also accept the static token 'Bot <app_id>.<T>'");
  app.add_option("--token-ttl", out.token_ttl, "access-token lifetime in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--expires-in-number", out.expires_in_number,
               "send expires_in as a JSON integer, not a string");
  app.add_option("--shards", out.shards, "shard count /gateway/bot recommends")
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
  app.add_option("--fixtures", out.fixtures_dir, "directory of dispatch fixtures (*.json)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--rate", out.rate, "events per second over the ready sessions (0: off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--webhook-url", out.webhook_url, "send the --rate events by signed POST to this URL")
      ->check(CLI::Validator(
          [](std::string& url) -> std::string {
            const auto parsed = relay::util::parse_url(url);
            return parsed && !parsed->websocket ? "" : "not an http:// or https:// URL: " + url;
          },
          "URL"));
  app.add_option("--event-size", out.event_size, "approximate size of generated events in bytes")
      ->capture_default_str();
  app.add_flag("--stamp", out.stamp, "benchmarks: events carry d.send_ns (CLOCK_MONOTONIC)");
  app.add_option("--rate-tick-us", out.rate_tick_us, "timer period in us at a --rate (smaller: smoother)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{1000000}));
  app.add_option("--history", out.history, "dispatch frames retained per session for Resume")
      ->capture_default_str();
  app.add_option("--history-bytes", out.history_bytes, "bytes of retained dispatch frames, all sessions")
      ->capture_default_str();
  app.add_option("--log-limit", out.log_limit, "entries kept in each /_sim/log list")->capture_default_str();
  app.add_option("--log-level", out.log_level, "error, warn, info or debug")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  app.add_flag("--quiet", out.quiet, "only print errors (and the 'listening on' line)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return -1;
}

}  // namespace qqsim

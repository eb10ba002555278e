#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qqsim {

// Everything the command line can set. Defaults match docs/simulator.md.
struct Options {
  std::string listen = "127.0.0.1";
  int port = 0;
  std::string port_file;
  // HTTPS and wss:// on the one port when both are set.
  std::string tls_cert;
  std::string tls_key;
  // The host the gateway URL names instead of the listen address (certificate name checks).
  std::string gateway_host;
  std::string app_id = "102000000";
  std::string secret = "sim-secret";
  std::string bot_token;
  std::int64_t token_ttl = 7200;
  bool expires_in_number = false;
  std::int64_t shards = 1;
  std::int64_t max_concurrency = 1;
  std::int64_t remaining = 1000;
  std::int64_t total = 1000;
  std::int64_t reset_after = 86400000;
  std::int64_t heartbeat_interval = 45000;
  std::string fixtures_dir;
  double rate = 0;
  std::string webhook_url;  // when set, --rate events go here by webhook instead of over the gateway
  std::size_t event_size = 300;
  bool stamp = false;  // generated events carry "send_ns", the CLOCK_MONOTONIC time of their write
  std::int64_t rate_tick_us = 10000;  // timer period while something generates at a rate
  std::size_t history = 100000;
  std::size_t history_bytes = 512u * 1024u * 1024u;
  std::size_t log_limit = 100000;
  std::string log_level = "warn";
  bool quiet = false;
};

// Parses argv into `out`. Returns -1 to go on, or the exit code to exit with (after --help or a usage error).
int parse_options(int argc, char** argv, Options& out);

}  // namespace qqsim

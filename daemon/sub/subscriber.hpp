#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace relay::sub {

// Exit codes of `qq-gateway-relay sub` (docs/subscribing.md).
inline constexpr int k_exit_ok = 0;     // -n reached, SIGINT/SIGTERM, or stdout closed
inline constexpr int k_exit_error = 1;  // a socket, key or replay error
inline constexpr int k_exit_usage = 2;  // a bad command line

enum class Output { line, json, raw };
enum class Colour { automatic, always, never };

struct Options {
  std::vector<std::string> endpoints;
  std::vector<std::string> topics;  // prefixes; empty: everything
  std::string curve_server_key;     // a file or Z85; empty: no CURVE
  std::string curve_key;            // the client's secret key file (from keygen), or Z85
  std::string replay_endpoint;
  std::optional<std::uint64_t> since;
  std::optional<std::uint64_t> count;
  Output output = Output::line;
  Colour colour = Colour::automatic;
  std::string colour_text = "auto";  // as given to --color
  std::optional<std::size_t> width;
  int replay_timeout_ms = 5000;
};

// Subscribes and prints until -n, a signal or an error. Returns the exit code.
int run(const Options& options);

}  // namespace relay::sub

#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay::util {

struct Url {
  bool tls = false;  // https or wss
  bool websocket = false;
  std::string host;
  int port = 0;
  std::string path = "/";  // with the query, if any
};

// Parses http, https, ws and wss URLs; nullopt for anything else or a malformed URL, and for a URL with a
// byte outside printable ASCII or a space anywhere (a CR or LF could otherwise reach a request line).
std::optional<Url> parse_url(std::string_view text);

struct HostPort {
  std::string host;  // an IPv6 address without its brackets
  int port = 0;
};

// "127.0.0.1:8080", "[::1]:8443", "0.0.0.0:80" or "localhost:8080"; the port must be 1..65535.
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace relay::util

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

// Parses http, https, ws and wss URLs; nullopt for anything else or a malformed URL.
std::optional<Url> parse_url(std::string_view text);

}  // namespace relay::util

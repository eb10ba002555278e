#include "websocket/server_handshake.hpp"

#include <algorithm>
#include <cctype>

#include "websocket/handshake.hpp"

namespace relay::websocket {
namespace {

constexpr std::string_view k_version = "13";

// The values of every field named `name` (lower case).
std::vector<std::string_view> values_of(HeaderFields headers, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [field, value] : headers) {
    if (field == name) {
      values.emplace_back(value);
    }
  }
  return values;
}

// Repeated fields of a list count as one joined by commas (RFC 9110 section 5.3).
bool any_lists_token(HeaderFields headers, std::string_view name, std::string_view token) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& field) {
    return field.first == name && header_lists_token(field.second, token);
  });
}

bool is_base64_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
}

// 16 bytes in base64 are 22 characters and "==" (RFC 6455 section 4.1, item 7).
bool is_key(std::string_view key) {
  return key.size() == 24 && key.substr(22) == "==" &&
         std::all_of(key.begin(), key.begin() + 22, is_base64_char);
}

UpgradeAnswer refuse(int status, std::string reason) {
  UpgradeAnswer answer;
  answer.status = status;
  answer.reason = std::move(reason);
  return answer;
}

}  // namespace

bool asks_for_websocket(HeaderFields headers) {
  return any_lists_token(headers, "upgrade", "websocket");
}

UpgradeAnswer answer_upgrade(const ClientUpgrade& request) {
  if (request.method != "GET") {
    return refuse(400, "a WebSocket upgrade with method " + std::string(request.method.substr(0, 16)) +
                           " instead of GET");
  }
  if (request.http_1_0) {
    return refuse(400, "a WebSocket upgrade over HTTP/1.0 (it needs HTTP/1.1)");
  }
  if (!asks_for_websocket(request.headers)) {
    return refuse(400, "no Upgrade: websocket");
  }
  if (!any_lists_token(request.headers, "connection", "upgrade")) {
    return refuse(400, "no Connection: Upgrade");
  }
  const std::vector<std::string_view> versions = values_of(request.headers, "sec-websocket-version");
  if (versions.size() != 1 || versions.front() != k_version) {
    UpgradeAnswer answer =
        refuse(426, versions.empty() ? std::string("no Sec-WebSocket-Version")
                                     : "Sec-WebSocket-Version other than 13 (only 13 is spoken)");
    answer.headers.emplace_back("Sec-WebSocket-Version", k_version);
    return answer;
  }
  const std::vector<std::string_view> keys = values_of(request.headers, "sec-websocket-key");
  if (keys.size() != 1) {
    return refuse(400, keys.empty() ? "no Sec-WebSocket-Key" : "more than one Sec-WebSocket-Key");
  }
  if (!is_key(keys.front())) {
    return refuse(400, "a Sec-WebSocket-Key that is not the base64 of 16 bytes");
  }
  UpgradeAnswer answer;
  answer.accepted = true;
  answer.response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
      "Upgrade\r\nSec-WebSocket-Accept: ";
  answer.response += expected_accept(keys.front());
  answer.response += "\r\n\r\n";
  return answer;
}

}  // namespace relay::websocket

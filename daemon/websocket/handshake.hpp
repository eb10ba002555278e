#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace relay::websocket {

// The client's opening handshake (RFC 6455 section 4.1): one GET with the upgrade headers.
struct UpgradeRequest {
  std::string key;   // Sec-WebSocket-Key: 16 random bytes, base64
  std::string text;  // the whole request
};
UpgradeRequest make_upgrade_request(std::string_view host_header, std::string_view path,
                                    const std::array<unsigned char, 16>& nonce);

// The Sec-WebSocket-Accept a server must answer `key` with.
std::string expected_accept(std::string_view key);

// Whether a comma-separated header value (Connection, Upgrade) lists `token`, compared without case;
// `token` in lower case.
bool header_lists_token(std::string_view value, std::string_view token);

// Reads the server's answer to the upgrade request, from bytes in whatever pieces they arrive. Accepts
// exactly `HTTP/1.1 101 <reason>` with Upgrade: websocket, Connection: Upgrade and the right
// Sec-WebSocket-Accept; refuses a malformed status line or header line (obs-fold, a name that is not a token
// or has whitespace before the colon, control characters), a subprotocol or extension (none is offered), a
// second Sec-WebSocket-Accept.
class UpgradeResponse {
 public:
  static constexpr std::size_t k_max_bytes = 16 * 1024;

  explicit UpgradeResponse(std::string key) : m_accept(expected_accept(key)) {}

  enum class Result { incomplete, accepted, refused };
  // On `accepted`, `used` is how many of `size` bytes belonged to the response: the rest are frames.
  Result feed(const char* data, std::size_t size, std::size_t& used);
  // Why the upgrade was refused, for the log.
  const std::string& error() const { return m_error; }
  int status() const { return m_status; }

 private:
  Result check();
  Result refuse(std::string why);

  std::string m_accept;
  std::string m_head;
  std::string m_error;
  int m_status = 0;
};

}  // namespace relay::websocket

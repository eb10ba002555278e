#include "websocket/handshake.hpp"

#include <algorithm>
#include <cctype>

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace relay::websocket {
namespace {

constexpr std::string_view k_accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* bytes, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// Whether a comma-separated header value lists `token` (compared without case).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (lower(trim(value.substr(0, comma))) == token) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string expected_accept(std::string_view key) {
  std::string input(key);
  input += k_accept_guid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return base64(digest, sizeof digest);
}

UpgradeRequest make_upgrade_request(std::string_view host_header, std::string_view path,
                                    const std::array<unsigned char, 16>& nonce) {
  UpgradeRequest request;
  request.key = base64(nonce.data(), nonce.size());
  request.text.reserve(256 + host_header.size() + path.size());
  request.text.append("GET ").append(path.empty() ? "/" : path).append(" HTTP/1.1\r\n");
  request.text.append("Host: ").append(host_header).append("\r\n");
  request.text.append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
  request.text.append("Sec-WebSocket-Key: ").append(request.key).append("\r\n");
  request.text.append("Sec-WebSocket-Version: 13\r\n\r\n");
  return request;
}

UpgradeResponse::Result UpgradeResponse::feed(const char* data, std::size_t size, std::size_t& used) {
  const std::size_t before = m_head.size();
  m_head.append(data, std::min(size, k_max_bytes - before));
  const std::size_t end = m_head.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
  if (end == std::string::npos) {
    used = m_head.size() - before;
    if (m_head.size() >= k_max_bytes) {
      m_error = "the upgrade response's headers are larger than 16 KiB";
      return Result::refused;
    }
    return Result::incomplete;
  }
  m_head.resize(end + 4);
  used = m_head.size() - before;
  return check();
}

UpgradeResponse::Result UpgradeResponse::check() {
  std::string_view head(m_head);
  const std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
    m_error = "not an HTTP response: " + std::string(status_line.substr(0, 80));
    return Result::refused;
  }
  m_status = 0;
  for (const char c : status_line.substr(9, 3)) {
    m_status = std::isdigit(static_cast<unsigned char>(c)) ? m_status * 10 + (c - '0') : -1000;
  }
  if (m_status != 101) {
    m_error = "HTTP " + std::string(trim(status_line.substr(9))) + " instead of 101 Switching Protocols";
    return Result::refused;
  }
  bool upgrade = false;
  bool connection = false;
  std::string accept;
  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    const std::size_t end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    head.remove_prefix(end == std::string_view::npos ? head.size() : end + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name == "upgrade") {
      upgrade = lower(value) == "websocket";
    } else if (name == "connection") {
      connection = lists_token(value, "upgrade");
    } else if (name == "sec-websocket-accept") {
      accept = std::string(value);
    } else if (name == "sec-websocket-extensions" && !value.empty()) {
      m_error = "the server chose an extension that was not offered: " + std::string(value.substr(0, 80));
      return Result::refused;
    }
  }
  if (!upgrade || !connection) {
    m_error = "101 without Upgrade: websocket and Connection: Upgrade";
    return Result::refused;
  }
  if (accept != m_accept) {
    m_error = "Sec-WebSocket-Accept does not match the key sent";
    return Result::refused;
  }
  return Result::accepted;
}

}  // namespace relay::websocket

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

// RFC 7230 section 3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
// "`" / "|" / "~" / DIGIT / ALPHA.
bool is_token(std::string_view text) {
  constexpr std::string_view k_specials = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || k_specials.find(c) != std::string_view::npos;
  });
}

// A field value or reason phrase: HTAB, SP, VCHAR and obs-text (bytes 0x80-0xFF); no other control character.
bool is_field_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte == '\t' || (byte >= 0x20 && byte != 0x7F);
  });
}

// Server text for the log: control and non-ASCII bytes as '?'.
std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F) {
      c = '?';
    }
  }
  return out;
}

}  // namespace

bool header_lists_token(std::string_view value, std::string_view token) {
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

UpgradeResponse::Result UpgradeResponse::refuse(std::string why) {
  m_error = std::move(why);
  return Result::refused;
}

UpgradeResponse::Result UpgradeResponse::check() {
  std::string_view head(m_head);
  head.remove_suffix(2);  // the empty line; every line below ends with CRLF
  const std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // RFC 7230 section 3.1.2: HTTP-version SP 3DIGIT SP reason-phrase.
  const auto digit = [&](std::size_t at) {
    return std::isdigit(static_cast<unsigned char>(status_line[at]));
  };
  if (status_line.size() < 13 || status_line.substr(0, 5) != "HTTP/" || !digit(5) || status_line[6] != '.' ||
      !digit(7) || status_line[8] != ' ' || !digit(9) || !digit(10) || !digit(11) || status_line[12] != ' ' ||
      !is_field_text(status_line.substr(13))) {
    return refuse("not an HTTP response: " + printable(status_line.substr(0, 80)));
  }
  m_status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  if (m_status != 101) {
    return refuse("HTTP " + printable(trim(status_line.substr(9, 80))) +
                  " instead of 101 Switching Protocols");
  }
  if (status_line.substr(5, 3) != "1.1") {
    return refuse("HTTP/" + std::string(status_line.substr(5, 3)) +
                  " 101 (a WebSocket upgrade needs HTTP/1.1)");
  }
  bool upgrade = false;
  bool connection = false;
  std::string accept;
  bool accept_seen = false;
  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    const std::size_t end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    head.remove_prefix(end + 2);
    // RFC 7230 section 3.2: field-name ":" OWS field-value OWS, the name a token right before the colon; a
    // line that starts with whitespace continues the previous one (obs-fold), which a client may refuse.
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || !is_token(line.substr(0, colon))) {
      return refuse("a malformed header line in the upgrade response: " + printable(line.substr(0, 80)));
    }
    const std::string_view raw_value = line.substr(colon + 1);
    if (!is_field_text(raw_value)) {
      return refuse("a header value with control characters in the upgrade response: " +
                    printable(line.substr(0, 80)));
    }
    const std::string name = lower(line.substr(0, colon));
    const std::string_view value = trim(raw_value);
    if (name == "upgrade") {
      upgrade = lower(value) == "websocket";
    } else if (name == "connection") {
      connection = connection || header_lists_token(value, "upgrade");
    } else if (name == "sec-websocket-accept") {
      if (accept_seen) {
        return refuse("more than one Sec-WebSocket-Accept");
      }
      accept_seen = true;
      accept = std::string(value);
    } else if (name == "sec-websocket-extensions") {
      return refuse("the server chose an extension that was not offered: " + printable(value.substr(0, 80)));
    } else if (name == "sec-websocket-protocol") {
      return refuse("the server chose a subprotocol that was not offered: " + printable(value.substr(0, 80)));
    }
  }
  if (!upgrade || !connection) {
    return refuse("101 without Upgrade: websocket and Connection: Upgrade");
  }
  if (accept != m_accept) {
    return refuse("Sec-WebSocket-Accept does not match the key sent");
  }
  return Result::accepted;
}

}  // namespace relay::websocket

#include "util/url.hpp"

#include <algorithm>
#include <charconv>

namespace relay::util {

namespace {

// Printable ASCII other than the space. A CR or LF in a URL that came from the network would end up in a
// request line or a Host header; anything outside ASCII must have been percent-encoded or punycoded.
bool is_url_byte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte > 0x20 && byte < 0x7f;
}

}  // namespace

std::optional<Url> parse_url(std::string_view text) {
  if (!std::all_of(text.begin(), text.end(), is_url_byte)) {
    return std::nullopt;
  }
  Url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view scheme = text.substr(0, scheme_end);
  if (scheme == "http") {
    url.port = 80;
  } else if (scheme == "https") {
    url.tls = true;
    url.port = 443;
  } else if (scheme == "ws") {
    url.websocket = true;
    url.port = 80;
  } else if (scheme == "wss") {
    url.websocket = true;
    url.tls = true;
    url.port = 443;
  } else {
    return std::nullopt;
  }
  std::string_view rest = text.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  if (path_start != std::string_view::npos) {
    url.path = std::string(rest.substr(path_start));
    if (url.path.front() == '?') {
      url.path.insert(url.path.begin(), '/');
    }
  }
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view port_text;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return std::nullopt;
      }
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (url.host.empty()) {
    return std::nullopt;
  }
  if (!port_text.empty()) {
    int port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port <= 0 || port > 65535) {
      return std::nullopt;
    }
    url.port = port;
  }
  return url;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort result;
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return std::nullopt;  // an IPv6 address needs brackets
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), result.port);
  if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      result.port < 1 || result.port > 65535 || host.find_first_of(" /\t") != std::string_view::npos) {
    return std::nullopt;
  }
  result.host = std::string(host);
  return result;
}

}  // namespace relay::util

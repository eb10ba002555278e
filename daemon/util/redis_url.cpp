#include "util/redis_url.hpp"

#include <charconv>

namespace relay::util {

namespace {

util::Unexpected<std::string> fail(std::string message) {
  return util::Unexpected(std::move(message));
}

bool parse_number(std::string_view text, int low, int high, int& out) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < low ||
      value > high) {
    return false;
  }
  out = value;
  return true;
}

}  // namespace

Expected<RedisUrl, std::string> parse_redis_url(std::string_view text) {
  if (text.starts_with("rediss://")) {
    return fail("rediss:// is not supported: TLS needs hiredis >= 1.0, which Debian 12 does not have");
  }
  constexpr std::string_view scheme = "redis://";
  if (!text.starts_with(scheme)) {
    return fail("a Redis URL starts with redis://");
  }
  for (const char c : text) {
    if (c <= ' ' || c > '~') {
      return fail("a Redis URL has no spaces or control characters");
    }
  }
  std::string_view rest = text.substr(scheme.size());
  RedisUrl url;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    if (!userinfo.starts_with(':') || userinfo.size() < 2) {
      return fail("the credentials in a Redis URL are :password@ (no user name)");
    }
    url.password = std::string(userinfo.substr(1));
    rest = rest.substr(at + 1);
  }
  std::string_view authority = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !parse_number(db, 0, 1 << 20, url.db)) {
      return fail("the database in a Redis URL is a number (redis://host:port/db)");
    }
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail("an IPv6 address in a Redis URL needs its closing ]");
    }
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      return fail("only :port may follow the host in a Redis URL");
    }
    port = after.empty() ? after : after.substr(1);
    if (after == ":") {
      return fail("the port in a Redis URL is 1..65535");
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return fail("the port in a Redis URL is 1..65535");
      }
    }
  }
  if (url.host.empty()) {
    return fail("a Redis URL needs a host");
  }
  if (!port.empty() && !parse_number(port, 1, 65535, url.port)) {
    return fail("the port in a Redis URL is 1..65535");
  }
  return url;
}

}  // namespace relay::util

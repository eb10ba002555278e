// Where the relays' shared Redis is: redis://[:password@]host[:port][/db].
//
// rediss:// (TLS) is refused: TLS needs hiredis >= 1.0 (hiredis_ssl), and Debian 12 ships hiredis 0.14.
#pragma once

#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace relay::util {

struct RedisUrl {
  std::string host;  // an IPv6 address without its brackets
  int port = 6379;
  std::string password;  // empty: no AUTH
  int db = 0;            // 0: no SELECT
};

// The URL, or a message saying what is wrong with it (never containing the password).
Expected<RedisUrl, std::string> parse_redis_url(std::string_view text);

}  // namespace relay::util

#include <catch2/catch.hpp>

#include "util/redis_url.hpp"

using relay::util::parse_redis_url;

TEST_CASE("a Redis URL with only a host gets port 6379 and db 0") {
  const auto url = parse_redis_url("redis://cache.internal");
  REQUIRE(url);
  CHECK(url->host == "cache.internal");
  CHECK(url->port == 6379);
  CHECK(url->db == 0);
  CHECK(url->password.empty());
}

TEST_CASE("a Redis URL with password, port and db") {
  const auto url = parse_redis_url("redis://:s3cr:et@10.0.0.5:6380/3");
  REQUIRE(url);
  CHECK(url->host == "10.0.0.5");
  CHECK(url->port == 6380);
  CHECK(url->db == 3);
  CHECK(url->password == "s3cr:et");
}

TEST_CASE("a Redis URL with an IPv6 address in brackets") {
  const auto url = parse_redis_url("redis://[::1]:7000/");
  REQUIRE(url);
  CHECK(url->host == "::1");
  CHECK(url->port == 7000);
  const auto bare = parse_redis_url("redis://[fe80::1]");
  REQUIRE(bare);
  CHECK(bare->host == "fe80::1");
  CHECK(bare->port == 6379);
}

TEST_CASE("rediss is refused: hiredis 0.14 has no TLS") {
  const auto url = parse_redis_url("rediss://host:6380");
  REQUIRE_FALSE(url);
  CHECK_THAT(url.error(), Catch::Contains("TLS needs hiredis >= 1.0, which Debian 12 does not have"));
}

TEST_CASE("malformed Redis URLs say what is wrong") {
  const auto check = [](const char* text, const char* expected) {
    const auto url = parse_redis_url(text);
    INFO(text);
    REQUIRE_FALSE(url);
    CHECK_THAT(url.error(), Catch::Contains(expected));
  };
  check("http://host", "starts with redis://");
  check("redis://", "needs a host");
  check("redis://host:0", "port");
  check("redis://host:70000", "port");
  check("redis://host:", "port");
  check("redis://host:abc", "port");
  check("redis://host/x", "database");
  check("redis://[::1", "closing ]");
  check("redis://[::1]x", "only :port");
  check("redis://user:pw@host", "no user name");
  check("redis://ho st", "spaces");
}

TEST_CASE("an error message never shows the password") {
  const auto url = parse_redis_url("redis://:hunter2@host:99999");
  REQUIRE_FALSE(url);
  CHECK_THAT(url.error(), !Catch::Contains("hunter2"));
}

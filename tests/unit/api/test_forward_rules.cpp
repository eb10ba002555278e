#include <catch2/catch.hpp>

#include "api/forward_rules.hpp"

using relay::api::forwardable_method;
using relay::api::target_problem;

TEST_CASE("only the OpenAPI's methods are forwarded") {
  for (const char* method : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}) {
    CHECK(forwardable_method(method));
  }
  for (const char* method : {"TRACE", "CONNECT", "OPTIONS", "PROPFIND", "get", "FOO", ""}) {
    CHECK_FALSE(forwardable_method(method));
  }
}

TEST_CASE("paths a server on the way could read differently are not forwarded") {
  CHECK_FALSE(target_problem("/users/@me"));
  CHECK_FALSE(target_problem("/"));
  CHECK_FALSE(target_problem("/v2/groups/G1/messages?x=1&y=..%2F"));  // the query is the platform's
  CHECK_FALSE(target_problem("/v2/users/U.1/files"));
  CHECK_FALSE(target_problem("/a/.../b"));
  CHECK_FALSE(target_problem("/a/..b/c"));
  CHECK_FALSE(target_problem("/a%20b"));
  for (const char* target :
       {"/..", "/a/..", "/a/../b", "/./a", "/a/.", "/a/%2e%2e/b", "/a/%2E%2e", "/a/.%2e/b", "/a/%2e./b",
        "/a/%2e", "/a%2fb", "/a%2F..", "/a%5cb", "/a\\b", "/a#b", "/a?b#c"}) {
    CAPTURE(target);
    CHECK(target_problem(target));
  }
}

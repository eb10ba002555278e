#include <string>

#include <catch2/catch.hpp>

#include "ingress/api_forwarder.hpp"
#include "ingress/api_server.hpp"

using relay::ingress::ApiResponse;

TEST_CASE("an answer is rendered with its headers, Content-Length and, when closing, Connection: close") {
  const ApiResponse response{
      201, {{"Content-Type", "application/json"}, {"X-Tps-trace-ID", "abc"}}, R"({"id":1})"};
  CHECK(relay::ingress::render_response(response, false) ==
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Tps-trace-ID: abc\r\nContent-Length: "
        "8\r\n\r\n"
        R"({"id":1})");
}

TEST_CASE("a 204 and the answer to a HEAD have neither Content-Length nor body") {
  // RFC 9110 8.6: no Content-Length in a 1xx or 204; a HEAD's would have to be what a GET gets, unknown here.
  CHECK(relay::ingress::render_response(ApiResponse{204, {}, ""}, true) ==
        "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  CHECK(relay::ingress::render_response(ApiResponse{204, {}, "stray"}, false) ==
        "HTTP/1.1 204 No Content\r\n\r\n");
  const ApiResponse head{200, {{"Content-Type", "application/json"}}, ""};
  CHECK(relay::ingress::render_response(head, false, true) ==
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n");
  CHECK(relay::ingress::render_response(head, false, false) ==
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("11244 in code or err_code means the platform refused the token, nothing else does") {
  CHECK(relay::ingress::says_token_expired(R"({"message":"token not exist or expire","code":11244})"));
  CHECK(relay::ingress::says_token_expired(R"({"err_code":11244,"code":0})"));
  CHECK_FALSE(relay::ingress::says_token_expired(R"({"code":11243})"));
  CHECK_FALSE(relay::ingress::says_token_expired(R"({"code":"11244"})"));
  CHECK_FALSE(relay::ingress::says_token_expired(R"([11244])"));
  CHECK_FALSE(relay::ingress::says_token_expired("11244"));
  CHECK_FALSE(relay::ingress::says_token_expired(""));
  CHECK_FALSE(relay::ingress::says_token_expired(R"({"data":{"code":11244}})"));
}

TEST_CASE("the relay's own errors have the platform's shape, whatever the message holds") {
  const ApiResponse error = relay::ingress::platform_error(503, 503, "no \"token\"\n");
  CHECK(error.status == 503);
  CHECK(error.body == R"({"code":503,"message":"no \"token\"\n"})");
  CHECK(error.headers.at(0).second == "application/json");
}

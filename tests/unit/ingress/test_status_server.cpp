// The metrics listener's own HTTP reading: one request head in, one whole response out.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "ingress/status_server.hpp"

namespace {

using relay::ingress::StatusResponse;

std::string respond(std::string_view head) {
  return relay::ingress::status_response_to(head, [](std::string_view method, std::string_view path) {
    return StatusResponse{200, "text/plain", std::string(method) + " " + std::string(path)};
  });
}

}  // namespace

TEST_CASE("a request line is split into method and path, the query dropped", "[ingress][status]") {
  CHECK(respond("GET /metrics?x=1 HTTP/1.1\r\nHost: a") ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nGET "
        "/metrics");
  CHECK(respond("POST /healthz HTTP/1.0").ends_with("\r\n\r\nPOST /healthz"));
}

TEST_CASE("what is not an HTTP/1 request line gets 400", "[ingress][status]") {
  for (std::string_view head :
       {"", "GET", "GET /metrics", "GET /metrics HTTP/2", "GET  HTTP/1.1 x", "\x16\x03\x01 TLS hello"}) {
    CHECK(respond(head).starts_with("HTTP/1.1 400 Bad Request\r\n"));
  }
}

TEST_CASE("an exception from the handler becomes a 500", "[ingress][status]") {
  const std::string response = relay::ingress::status_response_to(
      "GET /metrics HTTP/1.1",
      [](std::string_view, std::string_view) -> StatusResponse { throw std::runtime_error("boom"); });
  CHECK(response.starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
  CHECK(response.ends_with("\r\n\r\nboom\n"));
}

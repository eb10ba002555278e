#include <string>

#include <catch2/catch.hpp>

#include "feed_in_pieces.hpp"
#include "http/response_reader.hpp"

using relay::http::ResponseLimits;
using relay::http::ResponseReader;
using State = ResponseReader::State;

using relay::test::feed_in_pieces;

namespace {

std::string error_of(std::string_view bytes, ResponseLimits limits = {}) {
  ResponseReader reader(limits);
  reader.feed(bytes);
  return reader.state() == State::failed ? reader.error() : std::string();
}

}  // namespace

TEST_CASE("a Content-Length answer, whole or a byte at a time, keeps the connection") {
  const std::string bytes =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Tps-trace-ID: abc\r\nContent-Length: 7\r\n\r\n"
      "{\"a\":1}HTTP/1.1";
  for (std::size_t step : {bytes.size(), std::size_t{1}}) {
    ResponseReader reader;
    const std::size_t used = feed_in_pieces(reader, bytes, step);
    CHECK(used == bytes.size() - 8);  // stops at the end of the answer
    REQUIRE(reader.state() == State::complete);
    CHECK(reader.status() == 200);
    CHECK(reader.body() == "{\"a\":1}");
    CHECK(reader.keep_alive());
    CHECK(reader.headers()[1] == std::pair<std::string, std::string>{"x-tps-trace-id", "abc"});
  }
}

TEST_CASE("a chunked answer is dechunked, trailers skipped") {
  const std::string bytes =
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: "
      "1\r\n\r\n";
  for (std::size_t step : {bytes.size(), std::size_t{1}}) {
    ResponseReader reader;
    CHECK(feed_in_pieces(reader, bytes, step) == bytes.size());
    REQUIRE(reader.state() == State::complete);
    CHECK(reader.status() == 201);
    CHECK(reader.body() == "abcde");
    CHECK(reader.keep_alive());
  }
}

TEST_CASE("Connection: close, HTTP/1.0 and a body to the end of the connection end the connection") {
  ResponseReader reader;
  reader.feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  CHECK(reader.state() == State::complete);
  CHECK_FALSE(reader.keep_alive());

  reader.reset();
  reader.feed("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx");
  CHECK(reader.state() == State::complete);
  CHECK_FALSE(reader.keep_alive());

  reader.reset();
  CHECK_FALSE(reader.started());
  reader.feed("HTTP/1.1 200 OK\r\n\r\nsome");
  reader.feed(" bytes");
  CHECK(reader.state() == State::body);
  reader.end_of_stream();
  CHECK(reader.state() == State::complete);
  CHECK(reader.body() == "some bytes");
  CHECK_FALSE(reader.keep_alive());
}

TEST_CASE("no body for HEAD, 204 and 304, and interim 1xx answers are skipped") {
  ResponseReader reader;
  reader.reset(true);
  reader.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
  CHECK(reader.state() == State::complete);
  CHECK(reader.keep_alive());
  reader.reset();
  reader.feed("HTTP/1.1 204 No Content\r\n\r\n");
  CHECK(reader.state() == State::complete);
  reader.reset();
  reader.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  CHECK(reader.state() == State::complete);
  CHECK(reader.status() == 200);
  CHECK(reader.body() == "ok");
}

TEST_CASE("the end of the connection before the whole answer is a failure, and says whether bytes came") {
  ResponseReader reader;
  reader.end_of_stream();
  CHECK(reader.state() == State::failed);
  CHECK_FALSE(reader.started());
  reader.reset();
  reader.feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
  reader.end_of_stream();
  CHECK(reader.state() == State::failed);
  CHECK(reader.started());
}

TEST_CASE("ambiguous or malformed answers are refused") {
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n").empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n").empty());
  CHECK(error_of("HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx").empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n").empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nA : b\r\n\r\n").empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\nA: b\r\n\r\n").empty());
  CHECK_FALSE(error_of("HTTP/2 200 OK\r\n\r\n").empty());
  CHECK_FALSE(error_of("HTTP/1.1 20x OK\r\n\r\n").empty());
  CHECK_FALSE(error_of("HTTP/1.1 101 Switching\r\n\r\n").empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n").empty());
  CHECK(error_of("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").empty());
}

TEST_CASE("heads and bodies over the limits fail") {
  ResponseLimits limits;
  limits.max_head = 64;
  limits.max_body = 4;
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a') + "\r\n\r\n", limits).empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", limits).empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", limits)
                  .empty());
  CHECK_FALSE(error_of("HTTP/1.1 200 OK\r\n\r\nabcde", limits).empty());
}

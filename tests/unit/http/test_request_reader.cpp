#include <string>

#include <catch2/catch.hpp>

#include "feed_in_pieces.hpp"
#include "http/request_reader.hpp"

using relay::http::ReaderLimits;
using relay::http::RequestReader;
using State = RequestReader::State;

using relay::test::feed_in_pieces;

namespace {

int status_of(std::string_view bytes, ReaderLimits limits = {}) {
  RequestReader reader(limits);
  reader.feed(bytes);
  return reader.state() == State::failed ? reader.error_status() : 0;
}

}  // namespace

TEST_CASE("a request with a Content-Length body is read in any pieces, the same every time") {
  const std::string bytes =
      "POST /v2/groups/G/messages?x=1 HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
      "Authorization:  Bearer abc  \r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n";
  for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{7}, bytes.size()}) {
    RequestReader reader;
    REQUIRE(feed_in_pieces(reader, bytes, step) == bytes.size());
    REQUIRE(reader.state() == State::complete);
    auto& request = reader.request();
    CHECK(request.method == "POST");
    CHECK(request.target == "/v2/groups/G/messages?x=1");
    CHECK(request.path == "/v2/groups/G/messages");
    CHECK(request.query == "x=1");
    CHECK(*request.header("authorization") == "Bearer abc");
    CHECK(*request.header("content-type") == "application/json");
    CHECK(request.body == "{\"a\":\"bc\"}\n");
    CHECK(request.keep_alive);
  }
}

TEST_CASE("pipelined requests: the reader stops at the end of each") {
  const std::string bytes =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET /c "
      "HTTP/1.1\r\nHost: h\r\nConnection: "
      "close\r\n\r\n";
  RequestReader reader;
  std::size_t used = reader.feed(bytes);
  REQUIRE(reader.state() == State::complete);
  CHECK(reader.request().path == "/a");
  reader.reset();
  used += reader.feed(std::string_view(bytes).substr(used));
  REQUIRE(reader.state() == State::complete);
  CHECK(reader.request().body == "ok");
  reader.reset();
  used += reader.feed(std::string_view(bytes).substr(used));
  REQUIRE(reader.state() == State::complete);
  CHECK(reader.request().path == "/c");
  CHECK_FALSE(reader.request().keep_alive);
  CHECK(used == bytes.size());
}

TEST_CASE("a chunked body is joined, with extensions and trailers") {
  const std::string bytes =
      "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n "
      "world\r\n0\r\nX-T: "
      "1\r\n\r\n";
  for (std::size_t step : {std::size_t{1}, std::size_t{5}, bytes.size()}) {
    RequestReader reader;
    REQUIRE(feed_in_pieces(reader, bytes, step) == bytes.size());
    REQUIRE(reader.state() == State::complete);
    CHECK(reader.request().body == "hello world");
  }
}

TEST_CASE("Expect: 100-continue is reported once the head is read") {
  RequestReader reader;
  reader.feed("PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  REQUIRE(reader.state() == State::body);
  CHECK(reader.request().expects_continue);
  reader.feed("abc");
  CHECK(reader.state() == State::complete);
}

TEST_CASE("HTTP/1.0 closes unless it asks to keep alive") {
  RequestReader reader;
  reader.feed("GET / HTTP/1.0\r\nConnection: foo\r\n\r\n");
  REQUIRE(reader.state() == State::complete);
  CHECK_FALSE(reader.request().keep_alive);
  reader.reset();
  reader.feed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  CHECK(reader.request().keep_alive);
}

TEST_CASE("empty lines before a request are skipped") {
  RequestReader reader;
  CHECK(reader.feed("\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n") == 32);
  CHECK(reader.state() == State::complete);
  reader.reset();
  CHECK(reader.feed("\r") == 1);  // a CR alone waits for its LF
  CHECK(reader.feed("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == 28);
  CHECK(reader.state() == State::complete);
  CHECK(status_of("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("what could be read two ways is refused") {
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc") == 0);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
  CHECK(
      status_of(
          "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") ==
      501);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n") == 400);  // obs-fold
  CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX : a\r\n\r\n") == 400);       // space before the colon
  CHECK(status_of("GET / HTTP/1.1\nX: a\r\n\r\n") == 400);                     // bare LF
  CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n") == 400);     // bare CR
  CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n") == 400);    // control character
  CHECK(status_of("GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400);        // absolute-form
  CHECK(status_of("GET /  HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/2.0\r\n\r\n") == 505);
  CHECK(status_of("GET / FTP\r\n\r\n") == 400);
  CHECK(status_of("G(T / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
}

TEST_CASE("sizes are bounded: the head, the body by length, the body by chunks") {
  ReaderLimits limits;
  limits.max_head = 64;
  limits.max_body = 10;
  CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(100, 'a') + "\r\n\r\n", limits) == 431);
  CHECK(status_of("GET /" + std::string(200, 'a'), limits) == 431);  // no end of head in sight
  CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits) == 413);
  CHECK(status_of("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", limits) == 400);
  CHECK(status_of(
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n",
            limits) == 413);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 101; ++i) {
    many += "X: 1\r\n";
  }
  CHECK(status_of(many + "\r\n") == 431);
}

TEST_CASE("an HTTP/1.1 request has exactly one Host field, an HTTP/1.0 one may have none") {
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
  CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);  // RFC 9112 3.2
  CHECK(status_of("GET / HTTP/1.0\r\n\r\n") == 0);
}

TEST_CASE("a head with bare LF line ends fails at once, not at the size limit or the timeout") {
  RequestReader reader;
  reader.feed("GET / HTTP/1.1\nHost: a\n");
  CHECK(reader.state() == State::failed);
  CHECK(reader.error_status() == 400);
  // Also when the LF comes in a later piece than its line.
  RequestReader split;
  split.feed("GET / HTTP/1.1\r\nHost: h\r\nX: a");
  CHECK(split.state() == State::head);
  split.feed("\n");
  CHECK(split.state() == State::failed);
  // A CRLF split between two pieces is a CRLF.
  RequestReader crlf;
  crlf.feed("GET / HTTP/1.1\r");
  crlf.feed("\nHost: h\r\nX: a\r");
  crlf.feed("\n\r\n");
  CHECK(crlf.state() == State::complete);
}

TEST_CASE("chunk lines: no control bytes in extensions, no size past max_body, trailers as header lines") {
  const std::string chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(status_of(chunked + "2;a=b\r\nhi\r\n0\r\n\r\n") == 0);
  CHECK(status_of(chunked + "2;a\rb\r\nhi\r\n0\r\n\r\n") == 400);
  constexpr char k_nul_in_extension[] = "2;a\0b\r\nhi\r\n0\r\n\r\n";
  CHECK(status_of(chunked + std::string(k_nul_in_extension, sizeof k_nul_in_extension - 1)) == 400);
  CHECK(status_of(chunked + "2;a\x7f\r\nhi\r\n0\r\n\r\n") == 400);
  ReaderLimits limits;
  limits.max_body = 10;
  // Refused at the size line, before any data: a client that then sends nothing gets its answer now.
  CHECK(status_of(chunked + "b\r\n", limits) == 413);
  CHECK(status_of(chunked + "6\r\nabcdef\r\n5\r\n", limits) == 413);
  CHECK(status_of(chunked + "6\r\nabcdef\r\n4\r\nabcd\r\n0\r\n\r\n", limits) == 0);
  CHECK(status_of(chunked + "fffffffffffffff\r\n") == 413);
  CHECK(status_of(chunked + "0\r\nX: a\r\n\r\n") == 0);
  CHECK(status_of(chunked + "0\r\nX: a\r\n b\r\n\r\n") == 400);  // obs-fold in a trailer
  CHECK(status_of(chunked + "0\r\nX : a\r\n\r\n") == 400);
  CHECK(status_of(chunked + "0\r\nX: a\x01\r\n\r\n") == 400);
}

TEST_CASE("a discarded body is read to its end but not kept, with its limits") {
  RequestReader reader;
  reader.feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
  REQUIRE(reader.state() == State::body);
  reader.discard_body();
  CHECK(reader.request().body.empty());
  CHECK(reader.feed("defghijGET") == 7);
  CHECK(reader.state() == State::complete);
  CHECK(reader.request().body.empty());
  reader.reset();
  CHECK(reader.feed("GET /next HTTP/1.1\r\nHost: h\r\n\r\n") == 31);
  CHECK(reader.state() == State::complete);

  ReaderLimits limits;
  limits.max_body = 10;
  RequestReader chunked(limits);
  chunked.feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabc");
  REQUIRE(chunked.state() == State::body);
  chunked.discard_body();
  chunked.feed("def\r\n4\r\nabcd\r\n");
  CHECK(chunked.state() == State::body);
  CHECK(chunked.request().body.empty());
  chunked.feed("1\r\n");  // 11 bytes in all, though none is kept
  CHECK(chunked.state() == State::failed);
  CHECK(chunked.error_status() == 413);
}

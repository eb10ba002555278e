#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message_syntax.hpp"

namespace relay::http {

// One HTTP/1.1 request as a server receives it.
struct ServerRequest {
  std::string method;
  std::string target;  // as written: path and query
  std::string path;    // the target up to '?'
  std::string query;   // after '?', without it; empty when there is none
  bool http_1_0 = false;
  // Names lower-cased, values without surrounding spaces, in arrival order (repeats kept).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = true;         // HTTP/1.1 without "Connection: close", or 1.0 with keep-alive
  bool expects_continue = false;  // "Expect: 100-continue": the client waits for 100 before the body

  // The first header with this (lower-case) name, or nothing.
  const std::string* header(std::string_view name) const;
};

struct ReaderLimits {
  std::size_t max_head = 16 * 1024;  // request line and headers (and chunked trailers)
  std::size_t max_body = 1 << 20;    // after dechunking
};

// Reads requests from a byte stream, in as many pieces as they come: request line, headers, and a body framed
// by Content-Length or chunked transfer coding (RFC 9112). Strict where leniency lets two parsers disagree
// about where a request ends (request smuggling): Content-Length together with Transfer-Encoding, two
// different lengths, a coding other than chunked, obs-fold, whitespace before a header's colon, bare CR or
// LF line ends, two Host fields, control bytes in chunk extensions, are all refused. Bytes after a complete
// request stay for the next one (pipelining).
class RequestReader {
 public:
  enum class State {
    head,      // more bytes needed for the head
    body,      // head read (request().expects_continue may be set); more bytes needed for the body
    complete,  // request() is whole; take it, then reset() to read the next
    failed,    // error_status() and error() say why; the connection must close after answering
  };

  explicit RequestReader(ReaderLimits limits = {});

  // Takes bytes; returns how many it used. It stops at the end of a complete request (or a failure): the
  // rest belongs to the next request and is to be fed again after reset().
  std::size_t feed(std::string_view bytes);
  State state() const { return m_state; }
  ServerRequest& request() { return m_request; }
  // Starts on the next request (after complete).
  void reset();
  // In the body state: reads the rest of the body to find where the request ends, but keeps none of it
  // (a request already refused; keeping the connection in step costs no memory).
  void discard_body();

  int error_status() const { return m_error_status; }  // 400, 413, 431, 501, 505
  const std::string& error() const { return m_error; }

 private:
  std::size_t feed_head(std::string_view bytes);
  std::size_t feed_body(std::string_view bytes);
  std::size_t feed_chunked(std::string_view bytes);
  bool parse_head(std::string_view head);
  bool parse_request_line(std::string_view line);
  bool parse_header_line(std::string_view line);
  bool decide_framing();
  void fail(int status, std::string why);

  ReaderLimits m_limits;
  State m_state = State::head;
  ServerRequest m_request;
  std::string m_head;
  std::uint64_t m_body_left = 0;           // Content-Length bytes still to come
  std::optional<ChunkedDecoder> m_chunks;  // with Transfer-Encoding: chunked
  bool m_pending_cr = false;  // a CR of an empty line before the request line, waiting for its LF
  bool m_discard = false;     // discard_body(): the body is read to its end but not kept
  int m_error_status = 0;
  std::string m_error;
};

}  // namespace relay::http

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

struct ResponseLimits {
  std::size_t max_head = 16 * 1024;  // status line and headers (and chunked trailers)
  std::size_t max_body = 1 << 20;    // after dechunking
};

// Reads one HTTP/1.1 response at a time from a client connection's byte stream (RFC 9112): the status line,
// the headers, and a body framed by Content-Length, chunked transfer coding, or the end of the connection.
// Interim 1xx responses are skipped. Strict where a lenient reader could disagree with the server about where
// the response ends (and so hand the next request the tail of this answer): Content-Length together with
// Transfer-Encoding, two different lengths, a coding other than chunked, obs-fold, whitespace before a
// header's colon, bare CR or LF line ends are all failures. Bounded: a head or body over its limit fails.
class ResponseReader {
 public:
  enum class State {
    head,      // more bytes needed for the head
    body,      // head read; more bytes needed for the body
    complete,  // status(), headers(), body() are whole
    failed,    // error() says why; the connection cannot be used again
  };

  explicit ResponseReader(ResponseLimits limits = {});

  // Starts on the next response. `head_request`: the answer to a HEAD has no body whatever it announces.
  void reset(bool head_request = false);
  // Takes bytes; returns how many it used. It stops at the end of a complete response (or a failure): the
  // rest is not part of this response.
  std::size_t feed(std::string_view bytes);
  // The server closed the connection: a body that runs to the end of the connection is complete, anything
  // else unfinished fails.
  void end_of_stream();

  State state() const { return m_state; }
  int status() const { return m_status; }
  // Names lower-cased, values without surrounding spaces, in arrival order (repeats kept).
  const std::vector<std::pair<std::string, std::string>>& headers() const { return m_headers; }
  std::string& body() { return m_body; }
  // True when the connection may carry another request after this complete response.
  bool keep_alive() const { return m_keep_alive; }
  // True once any byte of an answer (an interim one included) has arrived since reset().
  bool started() const { return m_started; }
  const std::string& error() const { return m_error; }

 private:
  std::size_t feed_head(std::string_view bytes);
  std::size_t feed_body(std::string_view bytes);
  std::size_t feed_chunked(std::string_view bytes);
  bool parse_head(std::string_view head);
  bool parse_status_line(std::string_view line);
  bool parse_header_line(std::string_view line);
  bool decide_framing();
  void fail(std::string why);

  enum class Framing { none, length, chunked, until_close };

  ResponseLimits m_limits;
  bool m_head_request = false;
  State m_state = State::head;
  bool m_started = false;
  int m_status = 0;
  bool m_http_1_0 = false;
  std::vector<std::pair<std::string, std::string>> m_headers;
  std::string m_body;
  bool m_keep_alive = true;
  std::string m_head;
  Framing m_framing = Framing::none;
  std::uint64_t m_body_left = 0;
  std::optional<ChunkedDecoder> m_chunks;  // with Transfer-Encoding: chunked
  std::size_t m_interim = 0;
  std::string m_error;
};

}  // namespace relay::http

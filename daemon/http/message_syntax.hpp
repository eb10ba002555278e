// What HTTP/1.1 requests and responses share (RFC 9110/9112): tokens, header fields, Content-Length, and the
// chunked transfer coding. Used by RequestReader and ResponseReader, so the server side and the client side
// are strict in the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "util/expected.hpp"

namespace relay::http {

bool is_token(std::string_view text);
std::string lowered(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
// Without surrounding spaces and tabs.
std::string_view trim_ows(std::string_view text);

// Calls `each` with every comma-separated element of a header value, trimmed; empty elements skipped.
template <class Each>
void for_each_element(std::string_view value, Each&& each) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const std::string_view element = trim_ows(value.substr(0, comma));
    if (!element.empty()) {
      each(element);
    }
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
  }
}

// One header line (without its CRLF): the lower-cased name and the trimmed value, or why it is not one (a
// line starting with whitespace, whitespace before the colon, a name that is not a token, a control character
// in the value).
util::Expected<std::pair<std::string, std::string>, std::string> parse_field_line(std::string_view line);

// One Content-Length field's value added to what earlier fields said: the length, or nothing when the value
// is not a decimal number (a list of equal numbers is one) or disagrees with `earlier`.
std::optional<std::uint64_t> merge_content_length(std::string_view value,
                                                  std::optional<std::uint64_t> earlier);

// A chunked body, in any pieces: chunk-size lines (extensions ignored, but no control bytes in them), data,
// the last chunk, trailers (read as header lines, and dropped). A chunk size that would take the body past
// max_body fails at once, before its data.
class ChunkedDecoder {
 public:
  enum class State { more, done, failed };

  // At most `max_body` bytes of data and `max_trailers` bytes of trailer lines.
  ChunkedDecoder(std::size_t max_body, std::size_t max_trailers);

  // Appends the data it decodes to `body`; returns how many bytes it used. It stops after the trailers' empty
  // line (done) or at a failure.
  std::size_t feed(std::string_view bytes, std::string& body);
  State state() const { return m_state; }
  // 400 (bad syntax), 413 (data over max_body), 431 (trailers over max_trailers); error() says which.
  int error_status() const { return m_error_status; }
  const std::string& error() const { return m_error; }

 private:
  enum class Phase { size_line, data, data_end, trailers };
  bool line_done(std::string_view line);
  void fail(int status, std::string why);

  std::size_t m_max_body;
  std::size_t m_max_trailers;
  State m_state = State::more;
  Phase m_phase = Phase::size_line;
  std::uint64_t m_chunk_left = 0;
  std::string m_line;  // a chunk-size or trailer line in progress
  std::size_t m_trailer_bytes = 0;
  std::size_t m_decoded = 0;  // data bytes so far (the caller may have taken them out of `body`)
  int m_error_status = 0;
  std::string m_error;
};

}  // namespace relay::http

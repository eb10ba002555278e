#include "http/message_syntax.hpp"

#include <algorithm>
#include <charconv>

namespace relay::http {
namespace {

constexpr std::size_t k_max_chunk_line = 1024;

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_control(char c) {
  return (c >= 0 && c < ' ' && c != '\t') || c == 0x7f;
}

}  // namespace

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

util::Expected<std::pair<std::string, std::string>, std::string> parse_field_line(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    // Also a line starting with whitespace (obs-fold) or with whitespace before the colon.
    return util::Unexpected(std::string("a header line is not \"name: value\""));
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(), is_control)) {
    return util::Unexpected(std::string("a control character in a header value"));
  }
  return std::pair{lowered(line.substr(0, colon)), std::string(value)};
}

std::optional<std::uint64_t> merge_content_length(std::string_view value,
                                                  std::optional<std::uint64_t> earlier) {
  bool ok = !trim_ows(value).empty();
  for_each_element(value, [&](std::string_view element) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(element.data(), element.data() + element.size(), n);
    if (ec != std::errc() || end != element.data() + element.size() || (earlier && *earlier != n)) {
      ok = false;
    }
    earlier = n;
  });
  return ok ? earlier : std::nullopt;
}

ChunkedDecoder::ChunkedDecoder(std::size_t max_body, std::size_t max_trailers)
    : m_max_body(max_body), m_max_trailers(max_trailers) {}

void ChunkedDecoder::fail(int status, std::string why) {
  m_state = State::failed;
  m_error_status = status;
  m_error = std::move(why);
}

std::size_t ChunkedDecoder::feed(std::string_view bytes, std::string& body) {
  std::size_t used = 0;
  while (used < bytes.size() && m_state == State::more) {
    if (m_phase == Phase::data) {
      const std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size() - used, m_chunk_left));
      if (m_decoded + take > m_max_body) {
        fail(413, "the body is larger than " + std::to_string(m_max_body) + " bytes");
        return used;
      }
      body.append(bytes.substr(used, take));
      m_decoded += take;
      used += take;
      m_chunk_left -= take;
      if (m_chunk_left == 0) {
        m_phase = Phase::data_end;
      }
      continue;
    }
    // A line: chunk size, the CRLF after data, or a trailer.
    const char c = bytes[used++];
    m_line += c;
    if (m_phase == Phase::trailers && ++m_trailer_bytes > m_max_trailers) {
      fail(431, "the chunked trailers are too large");
      return used;
    }
    if (m_line.size() > k_max_chunk_line && m_phase != Phase::trailers) {
      fail(400, "a chunk-size line is too long");
      return used;
    }
    if (c != '\n') {
      continue;
    }
    if (m_line.size() < 2 || m_line[m_line.size() - 2] != '\r') {
      fail(400, "a chunk line does not end in CRLF");
      return used;
    }
    if (!line_done(std::string_view(m_line).substr(0, m_line.size() - 2))) {
      return used;
    }
    m_line.clear();
  }
  return used;
}

bool ChunkedDecoder::line_done(std::string_view line) {
  switch (m_phase) {
    case Phase::size_line: {
      const auto semicolon = line.find(';');
      const std::string_view size = line.substr(0, semicolon);
      std::uint64_t n = 0;
      const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), n, 16);
      if (size.empty() || size.size() > 16 || ec != std::errc() || end != size.data() + size.size()) {
        fail(400, "a chunk size is not a hexadecimal number");
        return false;
      }
      if (semicolon != std::string_view::npos) {
        // Extensions are ignored, but a CR or another control byte in them is where parsers part ways.
        const std::string_view extensions = line.substr(semicolon);
        if (std::any_of(extensions.begin(), extensions.end(), is_control)) {
          fail(400, "a control character in a chunk extension");
          return false;
        }
      }
      if (n > m_max_body - std::min(m_max_body, m_decoded)) {
        fail(413, "the body is larger than " + std::to_string(m_max_body) + " bytes");
        return false;
      }
      m_chunk_left = n;
      m_phase = n == 0 ? Phase::trailers : Phase::data;
      return true;
    }
    case Phase::data_end:
      if (!line.empty()) {
        fail(400, "chunk data is longer than its size");
        return false;
      }
      m_phase = Phase::size_line;
      return true;
    case Phase::trailers:
      if (line.empty()) {
        m_state = State::done;
      } else if (line.find('\r') != std::string_view::npos || !parse_field_line(line)) {
        // Dropped, but held to the rules of header lines (no obs-fold, no control bytes).
        fail(400, "a trailer line is not \"name: value\"");
        return false;
      }
      return true;
    case Phase::data:
      break;
  }
  return true;
}

}  // namespace relay::http

#include "http/request_reader.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace relay::http {
namespace {

constexpr std::size_t k_max_headers = 100;
constexpr std::size_t k_max_chunk_line = 1024;

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
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

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Calls `each` with every comma-separated element of a header value, trimmed; empty elements skipped.
template <class Each>
void for_each_element(std::string_view value, Each&& each) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const std::string_view element = trim(value.substr(0, comma));
    if (!element.empty()) {
      each(element);
    }
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
  }
}

}  // namespace

const std::string* ServerRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

RequestReader::RequestReader(ReaderLimits limits) : m_limits(limits) {}

void RequestReader::reset() {
  m_state = State::head;
  m_request = ServerRequest{};
  m_head.clear();
  m_body_left = 0;
  m_chunked = false;
  m_chunk_phase = ChunkPhase::size_line;
  m_chunk_left = 0;
  m_line.clear();
  m_trailer_bytes = 0;
  m_pending_cr = false;
  m_error_status = 0;
  m_error.clear();
}

void RequestReader::fail(int status, std::string why) {
  m_state = State::failed;
  m_error_status = status;
  m_error = std::move(why);
}

std::size_t RequestReader::feed(std::string_view bytes) {
  std::size_t used = 0;
  while (used < bytes.size() && (m_state == State::head || m_state == State::body)) {
    const std::string_view rest = bytes.substr(used);
    const std::size_t n = m_state == State::head ? feed_head(rest) : feed_body(rest);
    if (n == 0) {
      break;  // never expected; a guard against spinning
    }
    used += n;
  }
  return used;
}

std::size_t RequestReader::feed_head(std::string_view bytes) {
  std::size_t skipped = 0;
  if (m_head.empty()) {
    // Empty lines before a request line are ignored (RFC 9112 2.2): some clients send CRLF after a body.
    while (skipped < bytes.size()) {
      const char c = bytes[skipped];
      if (m_pending_cr) {
        if (c != '\n') {
          fail(400, "a bare CR before the request line");
          return skipped;
        }
        m_pending_cr = false;
      } else if (c == '\r') {
        m_pending_cr = true;
      } else {
        break;
      }
      ++skipped;
    }
    bytes.remove_prefix(skipped);
    if (bytes.empty()) {
      return skipped;
    }
  }
  // The head, up to and with its empty line, is at most max_head bytes.
  const std::size_t before = m_head.size();
  const std::size_t take = std::min(bytes.size(), m_limits.max_head - before);
  m_head.append(bytes.substr(0, take));
  const std::size_t search_from = before >= 3 ? before - 3 : 0;
  const auto end = m_head.find("\r\n\r\n", search_from);
  if (end == std::string::npos) {
    if (m_head.size() >= m_limits.max_head) {
      fail(431, "the request head is larger than " + std::to_string(m_limits.max_head) + " bytes");
    }
    return skipped + take;
  }
  const std::size_t head_end = end + 4;
  const std::size_t used = skipped + (head_end - before);
  m_head.resize(head_end);
  if (!parse_head(std::string_view(m_head).substr(0, end + 2)) || !decide_framing()) {
    return used;
  }
  m_head.clear();
  m_head.shrink_to_fit();
  if (!m_chunked && m_body_left == 0) {
    m_state = State::complete;
  } else {
    m_state = State::body;
  }
  return used;
}

bool RequestReader::parse_head(std::string_view head) {
  // Every line ends in CRLF; a CR or LF anywhere else is refused.
  bool first = true;
  while (!head.empty()) {
    const auto lf = head.find('\n');
    if (lf == std::string_view::npos || lf == 0 || head[lf - 1] != '\r') {
      fail(400, "a line does not end in CRLF");
      return false;
    }
    const std::string_view line = head.substr(0, lf - 1);
    if (line.find('\r') != std::string_view::npos) {
      fail(400, "a bare CR in the request head");
      return false;
    }
    head.remove_prefix(lf + 1);
    if (first ? !parse_request_line(line) : !parse_header_line(line)) {
      return false;
    }
    first = false;
  }
  return true;
}

bool RequestReader::parse_request_line(std::string_view line) {
  const auto first_space = line.find(' ');
  const auto second_space =
      first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos || line.find(' ', second_space + 1) != std::string_view::npos) {
    fail(400, "the request line is not \"METHOD target HTTP/1.1\"");
    return false;
  }
  const std::string_view method = line.substr(0, first_space);
  const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  const std::string_view version = line.substr(second_space + 1);
  if (!is_token(method)) {
    fail(400, "the method is not a token");
    return false;
  }
  if (target.empty() || target.front() != '/' ||
      !std::all_of(target.begin(), target.end(), [](char c) { return c > ' ' && c < 0x7f; })) {
    fail(400, "the target is not an absolute path");
    return false;
  }
  if (version == "HTTP/1.0") {
    m_request.http_1_0 = true;
  } else if (version != "HTTP/1.1") {
    const bool http = version.size() == 8 && version.starts_with("HTTP/") && version[6] == '.';
    fail(http ? 505 : 400, http ? "only HTTP/1.1 and HTTP/1.0" : "the request line has no HTTP version");
    return false;
  }
  m_request.method = method;
  m_request.target = target;
  const auto question = target.find('?');
  m_request.path = target.substr(0, question);
  if (question != std::string_view::npos) {
    m_request.query = target.substr(question + 1);
  }
  return true;
}

bool RequestReader::parse_header_line(std::string_view line) {
  if (m_request.headers.size() >= k_max_headers) {
    fail(431, "more than " + std::to_string(k_max_headers) + " header fields");
    return false;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    // Also a line starting with whitespace (obs-fold) or with whitespace before the colon.
    fail(400, "a header line is not \"name: value\"");
    return false;
  }
  const std::string_view value = trim(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(),
                  [](char c) { return (c >= 0 && c < ' ' && c != '\t') || c == 0x7f; })) {
    fail(400, "a control character in a header value");
    return false;
  }
  m_request.headers.emplace_back(lowered(line.substr(0, colon)), std::string(value));
  return true;
}

bool RequestReader::decide_framing() {
  std::optional<std::uint64_t> length;
  bool transfer_encoding = false;
  std::string_view coding;
  m_request.keep_alive = !m_request.http_1_0;
  for (const auto& [name, value] : m_request.headers) {
    if (name == "content-length") {
      bool ok = true;
      for_each_element(value, [&](std::string_view element) {
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(element.data(), element.data() + element.size(), n);
        if (ec != std::errc() || end != element.data() + element.size() || (length && *length != n)) {
          ok = false;
        }
        length = n;
      });
      if (!ok || value.empty()) {
        fail(400, "Content-Length is not one decimal number");
        return false;
      }
    } else if (name == "transfer-encoding") {
      if (transfer_encoding) {
        fail(501, "more than one Transfer-Encoding field");
        return false;
      }
      transfer_encoding = true;
      coding = value;
    } else if (name == "connection") {
      for_each_element(value, [&](std::string_view element) {
        if (iequals(element, "close")) {
          m_request.keep_alive = false;
        } else if (iequals(element, "keep-alive") && m_request.http_1_0) {
          m_request.keep_alive = true;
        }
      });
    } else if (name == "expect" && iequals(value, "100-continue") && !m_request.http_1_0) {
      m_request.expects_continue = true;
    }
  }
  if (transfer_encoding) {
    if (length || m_request.http_1_0) {
      fail(400, length ? "both Content-Length and Transfer-Encoding" : "Transfer-Encoding in HTTP/1.0");
      return false;
    }
    if (!iequals(coding, "chunked")) {
      fail(501, "a Transfer-Encoding other than chunked");
      return false;
    }
    m_chunked = true;
    return true;
  }
  if (length && *length > m_limits.max_body) {
    fail(413, "the body is larger than " + std::to_string(m_limits.max_body) + " bytes");
    return false;
  }
  m_body_left = length.value_or(0);
  // What Content-Length claims is only a claim: the buffer grows with the bytes that arrive.
  m_request.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(m_body_left, 64 * 1024)));
  return true;
}

std::size_t RequestReader::feed_body(std::string_view bytes) {
  if (m_chunked) {
    return feed_chunked(bytes);
  }
  const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), m_body_left));
  m_request.body.append(bytes.substr(0, take));
  m_body_left -= take;
  if (m_body_left == 0) {
    m_state = State::complete;
  }
  return take;
}

std::size_t RequestReader::feed_chunked(std::string_view bytes) {
  std::size_t used = 0;
  while (used < bytes.size() && m_state == State::body) {
    if (m_chunk_phase == ChunkPhase::data) {
      const std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size() - used, m_chunk_left));
      if (m_request.body.size() + take > m_limits.max_body) {
        fail(413, "the body is larger than " + std::to_string(m_limits.max_body) + " bytes");
        return used;
      }
      m_request.body.append(bytes.substr(used, take));
      used += take;
      m_chunk_left -= take;
      if (m_chunk_left == 0) {
        m_chunk_phase = ChunkPhase::data_end;
      }
      continue;
    }
    // A line: chunk size, the CRLF after data, or a trailer.
    const char c = bytes[used++];
    m_line += c;
    if (m_chunk_phase == ChunkPhase::trailers && ++m_trailer_bytes > m_limits.max_head) {
      fail(431, "the chunked trailers are too large");
      return used;
    }
    if (m_line.size() > k_max_chunk_line && m_chunk_phase != ChunkPhase::trailers) {
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
    const std::string_view line = std::string_view(m_line).substr(0, m_line.size() - 2);
    switch (m_chunk_phase) {
      case ChunkPhase::size_line: {
        const std::string_view size = line.substr(0, line.find(';'));
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), n, 16);
        if (size.empty() || size.size() > 16 || ec != std::errc() || end != size.data() + size.size()) {
          fail(400, "a chunk size is not a hexadecimal number");
          return used;
        }
        m_chunk_left = n;
        m_chunk_phase = n == 0 ? ChunkPhase::trailers : ChunkPhase::data;
        break;
      }
      case ChunkPhase::data_end:
        if (!line.empty()) {
          fail(400, "chunk data is longer than its size");
          return used;
        }
        m_chunk_phase = ChunkPhase::size_line;
        break;
      case ChunkPhase::trailers:
        if (line.empty()) {
          m_state = State::complete;
        } else if (line.find('\r') != std::string_view::npos || line.find(':') == std::string_view::npos) {
          fail(400, "a trailer line is not \"name: value\"");
          return used;
        }
        break;
      case ChunkPhase::data:
        break;
    }
    m_line.clear();
  }
  return used;
}

}  // namespace relay::http

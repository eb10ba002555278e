#include "http/response_reader.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "http/message_syntax.hpp"

namespace relay::http {
namespace {

constexpr std::size_t k_max_headers = 100;
constexpr std::size_t k_max_interim = 8;  // 1xx answers before the real one

}  // namespace

ResponseReader::ResponseReader(ResponseLimits limits) : m_limits(limits) {}

void ResponseReader::reset(bool head_request) {
  *this = ResponseReader(m_limits);
  m_head_request = head_request;
}

void ResponseReader::fail(std::string why) {
  m_state = State::failed;
  m_error = std::move(why);
}

std::size_t ResponseReader::feed(std::string_view bytes) {
  std::size_t used = 0;
  if (!bytes.empty()) {
    m_started = true;
  }
  while (used < bytes.size() && (m_state == State::head || m_state == State::body)) {
    const std::size_t n =
        m_state == State::head ? feed_head(bytes.substr(used)) : feed_body(bytes.substr(used));
    if (n == 0) {
      break;
    }
    used += n;
  }
  return used;
}

void ResponseReader::end_of_stream() {
  if (m_state == State::body && m_framing == Framing::until_close) {
    m_state = State::complete;
    m_keep_alive = false;
  } else if (m_state == State::head || m_state == State::body) {
    fail(m_started ? "the connection closed in the middle of the answer"
                   : "the connection closed before an answer");
  }
}

std::size_t ResponseReader::feed_head(std::string_view bytes) {
  const std::size_t before = m_head.size();
  const std::size_t take = std::min(bytes.size(), m_limits.max_head - before);
  m_head.append(bytes.substr(0, take));
  const auto end = m_head.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
  if (end == std::string::npos) {
    if (m_head.size() >= m_limits.max_head) {
      fail("the answer's head is larger than " + std::to_string(m_limits.max_head) + " bytes");
    }
    return take;
  }
  const std::size_t used = end + 4 - before;
  m_head.resize(end + 4);
  if (!parse_head(std::string_view(m_head).substr(0, end + 2))) {
    return used;
  }
  if (m_status < 200) {
    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
    m_headers.clear();
    m_head.clear();
    if (++m_interim > k_max_interim) {
      fail("too many interim (1xx) answers");
    }
    return used;
  }
  m_head.clear();
  m_head.shrink_to_fit();
  if (!decide_framing()) {
    return used;
  }
  m_state = m_framing == Framing::none ? State::complete : State::body;
  return used;
}

bool ResponseReader::parse_head(std::string_view head) {
  bool first = true;
  while (!head.empty()) {
    const auto lf = head.find('\n');
    if (lf == std::string_view::npos || lf == 0 || head[lf - 1] != '\r') {
      fail("a line of the answer does not end in CRLF");
      return false;
    }
    const std::string_view line = head.substr(0, lf - 1);
    if (line.find('\r') != std::string_view::npos) {
      fail("a bare CR in the answer's head");
      return false;
    }
    head.remove_prefix(lf + 1);
    if (first ? !parse_status_line(line) : !parse_header_line(line)) {
      return false;
    }
    first = false;
  }
  return true;
}

bool ResponseReader::parse_status_line(std::string_view line) {
  // HTTP/1.1 200 OK (the reason phrase may be empty, and may hold spaces)
  if (line.size() < 12 || (!line.starts_with("HTTP/1.1 ") && !line.starts_with("HTTP/1.0 ")) ||
      (line.size() > 12 && line[12] != ' ')) {
    fail("the status line is not \"HTTP/1.1 NNN reason\"");
    return false;
  }
  const std::string_view code = line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) || code[0] == '0') {
    fail("the status code is not three digits");
    return false;
  }
  const std::string_view reason = line.size() > 12 ? line.substr(13) : std::string_view{};
  if (std::any_of(reason.begin(), reason.end(),
                  [](char c) { return (c >= 0 && c < ' ' && c != '\t') || c == 0x7f; })) {
    fail("a control character in the reason phrase");
    return false;
  }
  m_status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  m_http_1_0 = line[7] == '0';
  if (m_status == 101) {
    fail("the server switched protocols");
    return false;
  }
  return true;
}

bool ResponseReader::parse_header_line(std::string_view line) {
  if (m_headers.size() >= k_max_headers) {
    fail("more than " + std::to_string(k_max_headers) + " header fields in the answer");
    return false;
  }
  auto field = parse_field_line(line);
  if (!field) {
    fail(field.error() + " in the answer");
    return false;
  }
  m_headers.push_back(std::move(*field));
  return true;
}

bool ResponseReader::decide_framing() {
  std::optional<std::uint64_t> length;
  bool transfer_encoding = false;
  std::string_view coding;
  m_keep_alive = !m_http_1_0;
  for (const auto& [name, value] : m_headers) {
    if (name == "content-length") {
      length = merge_content_length(value, length);
      if (!length) {
        fail("Content-Length of the answer is not one decimal number");
        return false;
      }
    } else if (name == "transfer-encoding") {
      if (transfer_encoding) {
        fail("more than one Transfer-Encoding field in the answer");
        return false;
      }
      transfer_encoding = true;
      coding = value;
    } else if (name == "connection") {
      for_each_element(value, [&](std::string_view element) {
        if (iequals(element, "close")) {
          m_keep_alive = false;
        } else if (iequals(element, "keep-alive") && m_http_1_0) {
          m_keep_alive = true;
        }
      });
    }
  }
  // No body whatever the head announces (RFC 9112 6.3, items 1 and 2).
  if (m_head_request || m_status == 204 || m_status == 304) {
    m_framing = Framing::none;
    return true;
  }
  if (transfer_encoding) {
    if (length || m_http_1_0) {
      fail(length ? "both Content-Length and Transfer-Encoding in the answer"
                  : "Transfer-Encoding in an HTTP/1.0 answer");
      return false;
    }
    if (!iequals(coding, "chunked")) {
      fail("a Transfer-Encoding other than chunked in the answer");
      return false;
    }
    m_framing = Framing::chunked;
    m_chunks.emplace(m_limits.max_body, m_limits.max_head);
    return true;
  }
  if (length) {
    if (*length > m_limits.max_body) {
      fail("the answer is larger than " + std::to_string(m_limits.max_body) + " bytes");
      return false;
    }
    m_body_left = *length;
    m_framing = m_body_left == 0 ? Framing::none : Framing::length;
    m_body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(m_body_left, 64 * 1024)));
    return true;
  }
  // Neither: the body runs to the end of the connection, which then cannot carry another request.
  m_framing = Framing::until_close;
  m_keep_alive = false;
  return true;
}

std::size_t ResponseReader::feed_body(std::string_view bytes) {
  switch (m_framing) {
    case Framing::chunked:
      return feed_chunked(bytes);
    case Framing::until_close:
      if (m_body.size() + bytes.size() > m_limits.max_body) {
        fail("the answer is larger than " + std::to_string(m_limits.max_body) + " bytes");
        return 0;
      }
      m_body.append(bytes);
      return bytes.size();
    default:
      break;
  }
  const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), m_body_left));
  m_body.append(bytes.substr(0, take));
  m_body_left -= take;
  if (m_body_left == 0) {
    m_state = State::complete;
  }
  return take;
}

std::size_t ResponseReader::feed_chunked(std::string_view bytes) {
  const std::size_t used = m_chunks->feed(bytes, m_body);
  if (m_chunks->state() == ChunkedDecoder::State::done) {
    m_state = State::complete;
  } else if (m_chunks->state() == ChunkedDecoder::State::failed) {
    fail(m_chunks->error() + " (in the answer)");
  }
  return used;
}

}  // namespace relay::http

#include "http/request_reader.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "http/message_syntax.hpp"

namespace relay::http {
namespace {

constexpr std::size_t k_max_headers = 100;
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
  m_chunks.reset();
  m_pending_cr = false;
  m_discard = false;
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
  // A head with LF-only line ends never shows the CRLF CRLF that ends it: refuse it at its first bare LF
  // instead of waiting for the request timeout or the size limit.
  const std::size_t scanned_to = end == std::string::npos ? m_head.size() : end;
  for (std::size_t at = m_head.find('\n', before); at < scanned_to; at = m_head.find('\n', at + 1)) {
    if (at == 0 || m_head[at - 1] != '\r') {
      fail(400, "a line does not end in CRLF");
      return skipped + take;
    }
  }
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
  if (!m_chunks && m_body_left == 0) {
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
  auto field = parse_field_line(line);
  if (!field) {
    fail(400, std::move(field.error()));
    return false;
  }
  m_request.headers.push_back(std::move(*field));
  return true;
}

bool RequestReader::decide_framing() {
  std::optional<std::uint64_t> length;
  bool transfer_encoding = false;
  bool host = false;
  std::string_view coding;
  m_request.keep_alive = !m_request.http_1_0;
  for (const auto& [name, value] : m_request.headers) {
    if (name == "host") {
      if (host) {
        // RFC 9112 3.2: a proxy in front may route by one and the relay answer /gateway with the other.
        fail(400, "more than one Host field");
        return false;
      }
      host = true;
    } else if (name == "content-length") {
      length = merge_content_length(value, length);
      if (!length) {
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
  if (!host && !m_request.http_1_0) {
    // RFC 9112 3.2: an HTTP/1.1 request names its host; one that does not is not from a real client.
    fail(400, "no Host field");
    return false;
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
    m_chunks.emplace(m_limits.max_body, m_limits.max_head);
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

void RequestReader::discard_body() {
  m_discard = true;
  m_request.body.clear();
  m_request.body.shrink_to_fit();
}

std::size_t RequestReader::feed_body(std::string_view bytes) {
  if (m_chunks) {
    return feed_chunked(bytes);
  }
  const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), m_body_left));
  if (!m_discard) {
    m_request.body.append(bytes.substr(0, take));
  }
  m_body_left -= take;
  if (m_body_left == 0) {
    m_state = State::complete;
  }
  return take;
}

std::size_t RequestReader::feed_chunked(std::string_view bytes) {
  const std::size_t used = m_chunks->feed(bytes, m_request.body);
  if (m_discard) {
    m_request.body.clear();
  }
  if (m_chunks->state() == ChunkedDecoder::State::done) {
    m_state = State::complete;
  } else if (m_chunks->state() == ChunkedDecoder::State::failed) {
    fail(m_chunks->error_status(), m_chunks->error());
  }
  return used;
}

}  // namespace relay::http

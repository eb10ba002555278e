#include "http/response_reader.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace relay::http {
namespace {

constexpr std::size_t k_max_headers = 100;
constexpr std::size_t k_max_chunk_line = 1024;
constexpr std::size_t k_max_interim = 8;  // 1xx answers before the real one

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
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    fail("a header line of the answer is not \"name: value\"");
    return false;
  }
  const std::string_view value = trim(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(),
                  [](char c) { return (c >= 0 && c < ' ' && c != '\t') || c == 0x7f; })) {
    fail("a control character in a header value of the answer");
    return false;
  }
  m_headers.emplace_back(lowered(line.substr(0, colon)), std::string(value));
  return true;
}

bool ResponseReader::decide_framing() {
  std::optional<std::uint64_t> length;
  bool transfer_encoding = false;
  std::string_view coding;
  m_keep_alive = !m_http_1_0;
  for (const auto& [name, value] : m_headers) {
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
  std::size_t used = 0;
  while (used < bytes.size() && m_state == State::body) {
    if (m_chunk_phase == ChunkPhase::data) {
      const std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size() - used, m_chunk_left));
      if (m_body.size() + take > m_limits.max_body) {
        fail("the answer is larger than " + std::to_string(m_limits.max_body) + " bytes");
        return used;
      }
      m_body.append(bytes.substr(used, take));
      used += take;
      m_chunk_left -= take;
      if (m_chunk_left == 0) {
        m_chunk_phase = ChunkPhase::data_end;
      }
      continue;
    }
    const char c = bytes[used++];
    m_line += c;
    if (m_chunk_phase == ChunkPhase::trailers && ++m_trailer_bytes > m_limits.max_head) {
      fail("the answer's chunked trailers are too large");
      return used;
    }
    if (m_line.size() > k_max_chunk_line && m_chunk_phase != ChunkPhase::trailers) {
      fail("a chunk-size line of the answer is too long");
      return used;
    }
    if (c != '\n') {
      continue;
    }
    if (m_line.size() < 2 || m_line[m_line.size() - 2] != '\r') {
      fail("a chunk line of the answer does not end in CRLF");
      return used;
    }
    const std::string_view line = std::string_view(m_line).substr(0, m_line.size() - 2);
    switch (m_chunk_phase) {
      case ChunkPhase::size_line: {
        const std::string_view size = line.substr(0, line.find(';'));
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), n, 16);
        if (size.empty() || size.size() > 16 || ec != std::errc() || end != size.data() + size.size()) {
          fail("a chunk size of the answer is not a hexadecimal number");
          return used;
        }
        m_chunk_left = n;
        m_chunk_phase = n == 0 ? ChunkPhase::trailers : ChunkPhase::data;
        break;
      }
      case ChunkPhase::data_end:
        if (!line.empty()) {
          fail("chunk data of the answer is longer than its size");
          return used;
        }
        m_chunk_phase = ChunkPhase::size_line;
        break;
      case ChunkPhase::trailers:
        if (line.empty()) {
          m_state = State::complete;
        } else if (line.find('\r') != std::string_view::npos || line.find(':') == std::string_view::npos) {
          fail("a trailer line of the answer is not \"name: value\"");
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

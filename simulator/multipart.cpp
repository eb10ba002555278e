#include "multipart.hpp"

#include <algorithm>
#include <cctype>

namespace qqsim {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The value of parameter `key` (name, filename, boundary) in a header value: `key=value` or `key="value"`.
std::optional<std::string> parameter(std::string_view header, std::string_view key) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t semi = header.find(';', pos);
    if (semi == std::string_view::npos) {
      semi = header.size();
    }
    std::string_view item = trim(header.substr(pos, semi - pos));
    pos = semi + 1;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || lower(trim(item.substr(0, eq))) != key) {
      continue;
    }
    std::string_view value = trim(item.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"') {
      // A quoted value may hold ';' : take it up to the closing quote in the whole header.
      const std::size_t start = static_cast<std::size_t>(value.data() - header.data()) + 1;
      const std::size_t end = header.find('"', start);
      if (end == std::string_view::npos) {
        return std::nullopt;
      }
      return std::string(header.substr(start, end - start));
    }
    return std::string(value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  if (lower(trim(content_type.substr(0, semi))) != "multipart/form-data" || semi == std::string_view::npos) {
    return std::nullopt;
  }
  auto boundary = parameter(content_type.substr(semi + 1), "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70) {
    return std::nullopt;
  }
  return boundary;
}

bool parse_multipart(std::string_view body, std::string_view boundary, std::vector<FormPart>& out,
                     std::string& error) {
  out.clear();
  const std::string delimiter = "--" + std::string(boundary);
  std::size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) {
    error = "no boundary line";
    return false;
  }
  const std::string next_delimiter = "\r\n" + delimiter;
  while (true) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") {
      return true;  // the close delimiter
    }
    if (body.substr(pos, 2) != "\r\n") {
      error = "a boundary line is not followed by CRLF";
      return false;
    }
    pos += 2;
    const std::size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) {
      error = "a part has no end of headers";
      return false;
    }
    FormPart part;
    bool has_disposition = false;
    std::string_view headers = body.substr(pos, headers_end - pos);
    while (!headers.empty()) {
      std::size_t eol = headers.find("\r\n");
      const std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        continue;
      }
      const std::string name = lower(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        has_disposition = true;
        part.name = parameter(value, "name").value_or("");
        part.filename = parameter(value, "filename");
      } else if (name == "content-type") {
        part.content_type = value;
      }
    }
    if (!has_disposition || part.name.empty()) {
      error = "a part has no Content-Disposition name";
      return false;
    }
    pos = headers_end + 4;
    const std::size_t end = body.find(next_delimiter, pos);
    if (end == std::string_view::npos) {
      error = "a part is not closed by a boundary line";
      return false;
    }
    part.data = body.substr(pos, end - pos);
    out.push_back(std::move(part));
    pos = end + 2;
  }
}

}  // namespace qqsim

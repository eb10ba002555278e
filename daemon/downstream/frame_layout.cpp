#include "downstream/frame_layout.hpp"

#include <fmt/format.h>

namespace relay::downstream {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

class Scanner {
 public:
  explicit Scanner(std::string_view text) : m_text(text) {}

  void skip_space() {
    while (m_at < m_text.size() && is_space(m_text[m_at])) {
      ++m_at;
    }
  }
  bool take(char c) {
    skip_space();
    if (m_at < m_text.size() && m_text[m_at] == c) {
      ++m_at;
      return true;
    }
    return false;
  }
  bool at_end() const { return m_at >= m_text.size(); }
  // A string starting at the cursor; returns its contents (escapes as written) or nothing.
  std::optional<std::string_view> string() {
    skip_space();
    if (m_at >= m_text.size() || m_text[m_at] != '"') {
      return std::nullopt;
    }
    const std::size_t begin = ++m_at;
    while (m_at < m_text.size()) {
      const char c = m_text[m_at];
      if (c == '\\') {
        m_at += 2;
        continue;
      }
      if (c == '"') {
        return m_text.substr(begin, m_at++ - begin);
      }
      ++m_at;
    }
    return std::nullopt;
  }
  // Any value; returns its raw text or nothing. Nested containers are skipped by counting brackets outside
  // strings, without checking their contents.
  std::optional<std::string_view> value() {
    skip_space();
    if (m_at >= m_text.size()) {
      return std::nullopt;
    }
    const std::size_t begin = m_at;
    const char first = m_text[m_at];
    if (first == '"') {
      if (!string()) {
        return std::nullopt;
      }
      return m_text.substr(begin, m_at - begin);
    }
    if (first == '{' || first == '[') {
      std::size_t depth = 0;
      while (m_at < m_text.size()) {
        const char c = m_text[m_at];
        if (c == '"') {
          if (!string()) {
            return std::nullopt;
          }
          continue;
        }
        ++m_at;
        if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (--depth == 0) {
            return m_text.substr(begin, m_at - begin);
          }
        }
      }
      return std::nullopt;
    }
    while (m_at < m_text.size()) {
      const char c = m_text[m_at];
      if (c == ',' || c == '}' || c == ']' || is_space(c)) {
        break;
      }
      ++m_at;
    }
    if (m_at == begin) {
      return std::nullopt;
    }
    return m_text.substr(begin, m_at - begin);
  }

 private:
  std::string_view m_text;
  std::size_t m_at = 0;
};

// The first member of a name counts, even when its value leaves the view empty (an empty or non-string t).
void keep_first(std::string_view& member, bool& seen, std::optional<std::string_view> value) {
  if (!seen && value) {
    member = *value;
  }
  seen = true;
}

std::optional<std::string_view> string_contents(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return std::nullopt;
}

}  // namespace

FrameLayout scan_frame(std::string_view frame) {
  FrameLayout layout;
  struct {
    bool op = false, s = false, t = false, id = false, d = false;
  } seen;
  Scanner scanner(frame);
  if (!scanner.take('{')) {
    return layout;
  }
  if (scanner.take('}')) {
    layout.object = true;
    return layout;
  }
  while (true) {
    const auto key = scanner.string();
    if (!key || !scanner.take(':')) {
      return FrameLayout{};
    }
    const auto value = scanner.value();
    if (!value) {
      return FrameLayout{};
    }
    if (*key == "op") {
      keep_first(layout.op, seen.op, value);
    } else if (*key == "s") {
      keep_first(layout.s, seen.s, value);
    } else if (*key == "t") {
      keep_first(layout.t, seen.t, string_contents(*value));
    } else if (*key == "id") {
      keep_first(layout.id, seen.id, string_contents(*value));
    } else if (*key == "d") {
      keep_first(layout.d, seen.d, value);
    }
    if (scanner.take(',')) {
      continue;
    }
    if (scanner.take('}')) {
      layout.object = true;
      return layout;
    }
    return FrameLayout{};
  }
}

void append_with_seq(std::string& out, std::string_view frame, const FrameLayout& layout, std::uint64_t seq) {
  if (!layout.s.empty()) {
    const std::size_t at = static_cast<std::size_t>(layout.s.data() - frame.data());
    out.append(frame.substr(0, at));
    fmt::format_to(std::back_inserter(out), "{}", seq);
    out.append(frame.substr(at + layout.s.size()));
    return;
  }
  const std::size_t brace = frame.find('{');
  if (brace == std::string_view::npos) {
    out.append(frame);
    return;
  }
  out.append(frame.substr(0, brace + 1));
  // An object with no member takes no comma; a dispatch always has members.
  std::size_t next = brace + 1;
  while (next < frame.size() && is_space(frame[next])) {
    ++next;
  }
  const bool empty = next < frame.size() && frame[next] == '}';
  fmt::format_to(std::back_inserter(out), "\"s\":{}", seq);
  if (!empty) {
    out += ',';
  }
  out.append(frame.substr(brace + 1));
}

}  // namespace relay::downstream

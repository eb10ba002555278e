#include "util/json_validate.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <simdjson.h>

#include "util/strings.hpp"

namespace relay::util {
namespace {

// Bytes a string may hold as they are: printable ASCII but the quote and the backslash.
constexpr auto k_plain_string_byte = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) {
    table[c] = true;
  }
  table['"'] = false;
  table['\\'] = false;
  return table;
}();

// A string may also hold non-ASCII bytes as they are once the whole text is known to be valid UTF-8.
constexpr auto k_plain_or_utf8_string_byte = [] {
  std::array<bool, 256> table = k_plain_string_byte;
  for (int c = 0x80; c < 0x100; ++c) {
    table[c] = true;
  }
  return table;
}();

// With `Utf8Known`, the whole text has been checked as UTF-8 already (simdjson::validate_utf8, many bytes per
// instruction): non-ASCII bytes in strings are then skipped like plain ones instead of being decoded one
// sequence at a time. The result is the same; without it, a stray byte is found where it lies.
template <bool Utf8Known>
class Checker {
 public:
  explicit Checker(std::string_view text, JsonTopMembers* members = nullptr)
      : m_text(text), m_members(members) {}

  std::optional<JsonFault> run() {
    skip_whitespace();
    std::size_t depth = 0;
    // One byte per open container: '{' or '['. Left uninitialised: only what was written is read, and zeroing
    // 1 KiB per frame was a twentieth of the check.
    std::array<char, k_max_json_depth> open;
    std::size_t max_depth = 0;
    while (true) {
      // A value starts here.
      const char c = peek();
      if (c == '{' || c == '[') {
        if (depth == k_max_json_depth) {
          return fault("nested too deep");
        }
        open[depth++] = c;
        max_depth = std::max(max_depth, depth);
        ++m_pos;
        skip_whitespace();
        if (peek() == (c == '{' ? '}' : ']')) {
          ++m_pos;
          --depth;
        } else if (c == '{') {
          if (!member_name()) {
            return m_fault;
          }
          if (depth == 1) {
            begin_member();
          }
          continue;
        } else {
          continue;
        }
      } else if (!scalar()) {
        return m_fault;
      }
      // After a value: a separator, the end of its container, or the end of the text.
      while (true) {
        if (depth == 1) {
          end_member();
        }
        skip_whitespace();
        if (depth == 0) {
          if (m_pos != m_text.size()) {
            return fault(k_json_trailing_bytes);
          }
          if (m_members != nullptr) {
            m_members->max_depth = max_depth;
          }
          return std::nullopt;
        }
        const bool in_object = open[depth - 1] == '{';
        const char next = peek();
        if (next == ',') {
          ++m_pos;
          skip_whitespace();
          if (in_object && !member_name()) {
            return m_fault;
          }
          if (in_object && depth == 1) {
            begin_member();
          }
          break;
        }
        if (next == (in_object ? '}' : ']')) {
          ++m_pos;
          --depth;
          continue;
        }
        return fault(in_object ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
  }

 private:
  char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }
  bool at_end() const { return m_pos >= m_text.size(); }

  std::optional<JsonFault> fault(std::string_view what) {
    m_fault = JsonFault{m_pos, what};
    return m_fault;
  }
  bool fail(std::string_view what) {
    fault(what);
    return false;
  }

  void skip_whitespace() {
    while (m_pos < m_text.size()) {
      const char c = m_text[m_pos];
      if (static_cast<unsigned char>(c) > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t')) {
        return;
      }
      ++m_pos;
    }
  }

  // A member's name, whitespace, the colon and whitespace: what comes before its value.
  // A member of the top-level object: its name was just read, its value starts at m_pos.
  void begin_member() {
    if (m_members == nullptr) {
      return;
    }
    m_members->is_object = true;
    if (m_members->count == JsonTopMembers::k_max_members) {
      m_members->too_many = true;
      return;
    }
    m_members->members[m_members->count].key =
        std::string_view(m_text.data() + m_key_begin, m_key_end - m_key_begin);
    m_value_begin = m_pos;
    m_member_open = true;
  }
  // Its value ends at m_pos.
  void end_member() {
    if (m_member_open) {
      m_members->members[m_members->count++].value =
          std::string_view(m_text.data() + m_value_begin, m_pos - m_value_begin);
      m_member_open = false;
    }
  }

  bool member_name() {
    if (peek() != '"') {
      return fail("expected a member name");
    }
    m_key_begin = m_pos + 1;
    if (!string()) {
      return false;
    }
    m_key_end = m_pos - 1;
    skip_whitespace();
    if (peek() != ':') {
      return fail("expected ':'");
    }
    ++m_pos;
    skip_whitespace();
    return true;
  }

  bool scalar() {
    switch (peek()) {
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9':
        return number();
      default:
        return fail(at_end() ? "expected a value, found the end" : "expected a value");
    }
  }

  bool literal(std::string_view word) {
    if (m_text.substr(m_pos, word.size()) != word) {
      return fail("not true, false or null");
    }
    m_pos += word.size();
    return true;
  }

  bool digits() {
    const std::size_t start = m_pos;
    while (m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9') {
      ++m_pos;
    }
    return m_pos > start;
  }

  bool number() {
    if (peek() == '-') {
      ++m_pos;
    }
    if (peek() == '0') {
      ++m_pos;
    } else if (!digits()) {
      return fail("a number needs a digit");
    }
    if (peek() == '.') {
      ++m_pos;
      if (!digits()) {
        return fail("a fraction needs a digit");
      }
    }
    if (peek() == 'e' || peek() == 'E') {
      ++m_pos;
      if (peek() == '+' || peek() == '-') {
        ++m_pos;
      }
      if (!digits()) {
        return fail("an exponent needs a digit");
      }
    }
    // "01" and "1x" end the number early; what follows is then checked as a separator and refused there.
    return true;
  }

  // Four hex digits after "\u"; -1 when they are not there.
  long hex4() {
    if (m_text.size() - m_pos < 4) {
      return -1;
    }
    long value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = m_text[m_pos + i];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return -1;
      }
      value = value * 16 + digit;
    }
    m_pos += 4;
    return value;
  }

  bool escape() {
    // m_pos is just after the backslash.
    const char c = peek();
    ++m_pos;
    switch (c) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return true;
      case 'u': {
        const long unit = hex4();
        if (unit < 0) {
          return fail("\\u needs four hex digits");
        }
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          return fail("a low surrogate without a high one");
        }
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (m_text.substr(m_pos, 2) != "\\u") {
            return fail("a high surrogate without a low one");
          }
          m_pos += 2;
          const long low = hex4();
          if (low < 0xdc00 || low > 0xdfff) {
            return fail("a high surrogate without a low one");
          }
        }
        return true;
      }
      default:
        --m_pos;
        return fail("not a JSON escape");
    }
  }

  // Most of a frame is string content: skip plain bytes sixteen at a time where SSE2 is there (every x86-64),
  // then one at a time. Works on a local index: m_pos lives in memory across the calls around it.
  std::size_t skip_plain_string_bytes(std::size_t pos) const {
    const char* const data = m_text.data();
    const std::size_t size = m_text.size();
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (pos + 16 <= size) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + pos));
      // A signed compare finds controls (below 0x20) and non-ASCII bytes (0x80 and up are negative) at once.
      // Controls (below 0x20): a signed compare also finds non-ASCII bytes (0x80 and up are negative), an
      // unsigned one (the minimum with 0x1f is the byte itself) only the controls.
      const __m128i control = Utf8Known ? _mm_cmpeq_epi8(_mm_min_epu8(bytes, _mm_set1_epi8(0x1f)), bytes)
                                        : _mm_cmplt_epi8(bytes, space);
      const __m128i special =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)), control);
      const int mask = _mm_movemask_epi8(special);
      if (mask != 0) {
        return pos + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
      }
      pos += 16;
    }
#endif
    const auto& plain = Utf8Known ? k_plain_or_utf8_string_byte : k_plain_string_byte;
    while (pos < size && plain[static_cast<unsigned char>(data[pos])]) {
      ++pos;
    }
    return pos;
  }

  bool string() {
    std::size_t pos = m_pos + 1;  // after the opening quote
    while (true) {
      pos = skip_plain_string_bytes(pos);
      m_pos = pos;
      if (at_end()) {
        return fail("a string is not closed");
      }
      const auto c = static_cast<unsigned char>(m_text[m_pos]);
      if (c == '"') {
        ++m_pos;
        return true;
      }
      if (c == '\\') {
        ++m_pos;
        if (!escape()) {
          return false;
        }
      } else if (c < 0x20) {
        return fail("a control character in a string");
      } else {
        const std::size_t length = utf8_sequence_length(m_text.substr(m_pos));
        if (length == 0) {
          return fail(k_json_not_utf8);
        }
        m_pos += length;
      }
      pos = m_pos;
    }
  }

  std::string_view m_text;
  JsonTopMembers* m_members;
  std::size_t m_key_begin = 0;
  std::size_t m_key_end = 0;
  std::size_t m_value_begin = 0;
  bool m_member_open = false;
  std::size_t m_pos = 0;
  std::optional<JsonFault> m_fault;
};

}  // namespace

[[gnu::flatten]] std::optional<JsonFault> find_json_fault(std::string_view text) {
  if (simdjson::validate_utf8(text.data(), text.size())) {
    return Checker<true>(text).run();
  }
  return Checker<false>(text).run();
}

[[gnu::flatten]] std::optional<JsonFault> find_json_fault(std::string_view text, JsonTopMembers& members) {
  members.count = 0;
  members.is_object = false;
  members.too_many = false;
  members.max_depth = 0;
  auto fault = simdjson::validate_utf8(text.data(), text.size()) ? Checker<true>(text, &members).run()
                                                                 : Checker<false>(text, &members).run();
  if (fault) {
    members.count = 0;
    members.is_object = false;
  }
  return fault;
}

}  // namespace relay::util

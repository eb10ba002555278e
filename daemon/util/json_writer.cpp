#include "util/json_writer.hpp"

#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/strings.hpp"

namespace relay::util {
namespace {

void append_escaped(std::string& out, unsigned char c) {
  static constexpr char k_hex[] = "0123456789abcdef";
  switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default: {
      const char escape[] = {'\\', 'u', '0', '0', k_hex[c >> 4], k_hex[c & 0xf]};
      out.append(escape, sizeof(escape));
    }
  }
}

// What a byte needs: nothing (plain ASCII), a JSON escape (controls, the quote, the backslash), or a UTF-8
// check (the first byte of a multi-byte sequence, or a stray one).
enum ByteClass : unsigned char { k_plain, k_escape, k_non_ascii };

constexpr auto k_byte_class = [] {
  std::array<ByteClass, 256> table{};
  for (int c = 0; c < 0x20; ++c) {
    table[c] = k_escape;
  }
  table['"'] = k_escape;
  table['\\'] = k_escape;
  for (int c = 0x80; c < 0x100; ++c) {
    table[c] = k_non_ascii;
  }
  return table;
}();

// The index of the first byte from `from` on that is not plain ASCII, sixteen bytes at a time where SSE2 is
// there (every x86-64): every message's metadata carries three or four such strings.
std::size_t skip_plain_bytes(std::string_view text, std::size_t from) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (from + 16 <= text.size()) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + from));
    // A signed compare finds controls (below 0x20) and non-ASCII bytes (0x80 and up are negative) at once.
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)),
                     _mm_cmplt_epi8(bytes, space));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) {
      return from + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
    from += 16;
  }
#endif
  while (from < text.size() && k_byte_class[static_cast<unsigned char>(text[from])] == k_plain) {
    ++from;
  }
  return from;
}

}  // namespace

std::size_t json_plain_prefix(std::string_view text) {
  return skip_plain_bytes(text, 0);
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  // Ids and session ids never need escaping: copy runs of plain bytes at once, not byte by byte.
  std::size_t plain_from = 0;
  for (std::size_t i = skip_plain_bytes(text, 0); i < text.size(); i = skip_plain_bytes(text, i)) {
    const auto c = static_cast<unsigned char>(text[i]);
    const ByteClass kind = k_byte_class[c];
    if (kind == k_non_ascii) {
      if (const std::size_t length = utf8_sequence_length(text.substr(i))) {
        i += length;
        continue;
      }
    }
    out.append(text.data() + plain_from, i - plain_from);
    if (kind == k_escape) {
      append_escaped(out, c);
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not part of well-formed UTF-8
    }
    plain_from = ++i;
  }
  out.append(text.data() + plain_from, text.size() - plain_from);
  out.push_back('"');
}

}  // namespace relay::util

#include "util/json_writer.hpp"

#include <array>

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

// True for the bytes JSON requires escaped: controls, the quote and the backslash.
constexpr auto k_needs_escape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) {
    table[c] = true;
  }
  table['"'] = true;
  table['\\'] = true;
  return table;
}();

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  // Ids and session ids never need escaping: copy runs of plain bytes at once, not byte by byte.
  std::size_t plain_from = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!k_needs_escape[c]) {
      continue;
    }
    out.append(text.data() + plain_from, i - plain_from);
    append_escaped(out, c);
    plain_from = i + 1;
  }
  out.append(text.data() + plain_from, text.size() - plain_from);
  out.push_back('"');
}

}  // namespace relay::util

#include <cstdint>
#include <string>
#include <string_view>

#include "sub/event_format.hpp"

namespace relay::sub {
namespace {

struct Decoded {
  char32_t code_point;
  std::size_t length;  // bytes; 1 for a byte that does not start a well-formed sequence
};

Decoded decode(std::string_view text, std::size_t at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  std::size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (length <= 1 || at + length > text.size()) {
    return {lead, 1};
  }
  char32_t value = lead & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[at + i]);
    if ((next & 0xC0) != 0x80) {
      return {lead, 1};
    }
    value = (value << 6) | (next & 0x3F);
  }
  return {value, length};
}

// The ranges that terminals draw two columns wide (Unicode East Asian Width W and F, the common ones):
// CJK ideographs and punctuation, Hangul, kana, full-width forms, emoji.
bool is_wide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) || (c >= 0x3041 && c <= 0x33FF) ||
         (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) ||
         (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
         (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD);
}

bool is_zero_width(char32_t c) {
  return (c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) || (c >= 0xFE00 && c <= 0xFE0F);
}

std::size_t columns_of(char32_t c) {
  return is_zero_width(c) ? 0 : is_wide(c) ? 2 : 1;
}

}  // namespace

std::size_t display_width(std::string_view text) {
  std::size_t columns = 0;
  for (std::size_t at = 0; at < text.size();) {
    const Decoded decoded = decode(text, at);
    columns += columns_of(decoded.code_point);
    at += decoded.length;
  }
  return columns;
}

std::string cut_to_width(std::string_view text, std::size_t columns) {
  if (display_width(text) <= columns) {
    return std::string(text);
  }
  if (columns == 0) {
    return {};
  }
  std::size_t used = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    const Decoded decoded = decode(text, at);
    const std::size_t width = columns_of(decoded.code_point);
    if (used + width > columns - 1) {  // one column for the ellipsis
      break;
    }
    used += width;
    at += decoded.length;
  }
  return std::string(text.substr(0, at)) + "\u2026";
}

}  // namespace relay::sub

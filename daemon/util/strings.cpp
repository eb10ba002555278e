#include "util/strings.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <string>
#include <vector>

#include <simdjson.h>

namespace relay::util {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    low = lead == 0xe0 ? 0xa0 : 0x80;   // no overlong forms
    high = lead == 0xed ? 0x9f : 0xbf;  // no surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    low = lead == 0xf0 ? 0x90 : 0x80;
    high = lead == 0xf4 ? 0x8f : 0xbf;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) {
    return 0;
  }
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) {
      return 0;
    }
  }
  return length;
}

void append_valid_utf8(std::string& out, std::string_view text) {
  while (!text.empty()) {
    const std::size_t length = utf8_sequence_length(text);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else {
      out.append(text.data(), length);
      text.remove_prefix(length);
    }
  }
}

std::string log_excerpt(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t length = utf8_sequence_length(rest);
    const auto byte = static_cast<unsigned char>(rest.front());
    std::string piece;
    if (length == 0) {
      piece = "\xEF\xBF\xBD";
    } else if (byte < 0x20 || byte == 0x7f) {
      constexpr char k_hex[] = "0123456789abcdef";
      piece = {'\\', 'x', k_hex[byte >> 4], k_hex[byte & 0xf]};
    } else {
      piece.assign(rest.data(), length);
    }
    if (out.size() + piece.size() > max_bytes) {
      out += "... (" + std::to_string(text.size()) + " bytes)";
      return out;
    }
    out += piece;
    rest.remove_prefix(length == 0 ? 1 : length);
  }
  return out;
}

bool is_valid_utf8(std::string_view text) {
  // simdjson's validator, with the kernel its library picks for this CPU at run time (AVX2, AVX-512): a
  // fraction of an instruction per byte, where a byte-wise check took about twenty per non-ASCII byte (a
  // message in Chinese is mostly such bytes). Same rules as utf8_sequence_length: RFC 3629, no overlong
  // forms, no surrogates, nothing above U+10FFFF.
  return simdjson::validate_utf8(text.data(), text.size());
}

}  // namespace relay::util

#include "util/base64.hpp"

namespace relay::util {

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto byte = [&bytes](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += k_alphabet[group >> 18];
    out += k_alphabet[(group >> 12) & 63];
    out += k_alphabet[(group >> 6) & 63];
    out += k_alphabet[group & 63];
  }
  if (const std::size_t left = bytes.size() - i; left > 0) {
    const unsigned group = byte(i) << 16 | (left == 2 ? byte(i + 1) << 8 : 0u);
    out += k_alphabet[group >> 18];
    out += k_alphabet[(group >> 12) & 63];
    out += left == 2 ? k_alphabet[(group >> 6) & 63] : '=';
    out += '=';
  }
}

}  // namespace relay::util

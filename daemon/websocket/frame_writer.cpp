#include "websocket/frame_writer.hpp"

#include "util/strings.hpp"
#include "websocket/frame_reader.hpp"

namespace relay::websocket {
namespace {
constexpr std::size_t k_max_close_reason = 123;  // 125 bytes of control payload, less the code
}  // namespace

void append_client_frame(std::string& out, Opcode opcode, std::string_view payload,
                         const std::array<unsigned char, 4>& mask) {
  out.push_back(static_cast<char>(0x80 | static_cast<unsigned>(opcode)));
  const std::uint64_t length = payload.size();
  if (length < 126) {
    out.push_back(static_cast<char>(0x80 | length));
  } else if (length <= 0xFFFF) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(length >> 8));
    out.push_back(static_cast<char>(length & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((length >> shift) & 0xFF));
    }
  }
  out.append(reinterpret_cast<const char*>(mask.data()), mask.size());
  const std::size_t start = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out[start + i] = static_cast<char>(static_cast<unsigned char>(out[start + i]) ^ mask[i % 4]);
  }
}

std::string close_payload(int code, std::string_view reason) {
  if (!is_valid_close_code(code)) {
    return {};
  }
  if (reason.size() > k_max_close_reason) {
    // Cut before a character, not inside one: the peer fails a reason that is not UTF-8.
    std::size_t cut = k_max_close_reason;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    reason = reason.substr(0, cut);
  }
  if (!util::is_valid_utf8(reason)) {
    reason = {};
  }
  std::string payload;
  payload.push_back(static_cast<char>((code >> 8) & 0xFF));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return payload;
}

}  // namespace relay::websocket

#include "websocket/frame_writer.hpp"

#include "util/strings.hpp"
#include "websocket/frame_reader.hpp"

namespace relay::websocket {
namespace {
constexpr std::size_t k_max_close_reason = 123;  // 125 bytes of control payload, less the code
constexpr unsigned char k_fin = 0x80;
constexpr unsigned char k_mask_bit = 0x80;

// The first byte (FIN and the opcode) and the payload length in its shortest encoding (RFC 6455 section
// 5.2), the mask bit set or not.
void append_header(std::string& out, Opcode opcode, std::uint64_t length, unsigned char mask_bit) {
  char header[10];
  std::size_t size = 0;
  header[size++] = static_cast<char>(k_fin | static_cast<unsigned>(opcode));
  if (length < 126) {
    header[size++] = static_cast<char>(mask_bit | length);
  } else if (length <= 0xFFFF) {
    header[size++] = static_cast<char>(mask_bit | 126);
    header[size++] = static_cast<char>(length >> 8);
    header[size++] = static_cast<char>(length & 0xFF);
  } else {
    header[size++] = static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      header[size++] = static_cast<char>((length >> shift) & 0xFF);
    }
  }
  out.append(header, size);
}

}  // namespace

void append_client_frame(std::string& out, Opcode opcode, std::string_view payload, const MaskKey& mask) {
  append_header(out, opcode, payload.size(), k_mask_bit);
  out.append(reinterpret_cast<const char*>(mask.data()), mask.size());
  out.append(payload);
  apply_mask(out.data() + out.size() - payload.size(), payload.size(), mask, 0);
}

void append_server_frame_header(std::string& out, Opcode opcode, std::size_t payload_size) {
  append_header(out, opcode, payload_size, 0);
}

void append_server_frame(std::string& out, Opcode opcode, std::string_view payload) {
  out.reserve(out.size() + server_frame_header_size(payload.size()) + payload.size());
  append_header(out, opcode, payload.size(), 0);
  out.append(payload);
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

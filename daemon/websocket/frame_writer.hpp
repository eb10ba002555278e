#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "websocket/mask.hpp"

namespace relay::websocket {

enum class Opcode : std::uint8_t { text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// Appends one final frame, masked with `mask` as a client must (RFC 6455 section 5.3).
void append_client_frame(std::string& out, Opcode opcode, std::string_view payload, const MaskKey& mask);

// Appends one final, unmasked frame as a server sends it (RFC 6455 section 5.1), the length in its shortest
// encoding. A control frame's payload must fit in 125 bytes (a close frame's: close_payload()).
void append_server_frame(std::string& out, Opcode opcode, std::string_view payload);

// Appends only the header of such a frame for a payload of `payload_size` bytes (2 to 10 bytes), so that a
// caller can append the payload itself from where it lies, without building the frame twice.
void append_server_frame_header(std::string& out, Opcode opcode, std::size_t payload_size);

// The size of that header: what to reserve before appending a frame.
constexpr std::size_t server_frame_header_size(std::size_t payload_size) {
  return payload_size < 126 ? 2 : payload_size <= 0xFFFF ? 4 : 10;
}

// A close frame's payload: the code, then the reason cut to fit a control frame (between characters). Empty
// (no code) for a code that is not valid on the wire, such as 1005 or 1006; a reason that is not UTF-8 is
// left out.
std::string close_payload(int code, std::string_view reason);

}  // namespace relay::websocket

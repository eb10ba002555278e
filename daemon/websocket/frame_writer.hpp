#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace relay::websocket {

enum class Opcode : std::uint8_t { text = 0x1, close = 0x8, ping = 0x9, pong = 0xA };

// Appends one final frame, masked with `mask` as a client must (RFC 6455 section 5.3).
void append_client_frame(std::string& out, Opcode opcode, std::string_view payload,
                         const std::array<unsigned char, 4>& mask);

// A close frame's payload: the code, then the reason cut to fit a control frame (between characters). Empty
// (no code) for a code that is not valid on the wire, such as 1005 or 1006; a reason that is not UTF-8 is
// left out.
std::string close_payload(int code, std::string_view reason);

}  // namespace relay::websocket

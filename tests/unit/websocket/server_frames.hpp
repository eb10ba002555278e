#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "websocket/frame_reader.hpp"

namespace relay::websocket::test {

// A frame as a server writes it: unmasked, with the shortest length encoding.
inline std::string server_frame(int opcode, std::string_view payload, bool fin = true,
                                unsigned char rsv = 0) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | opcode));
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    out.push_back(126);
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    out.push_back(127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((static_cast<unsigned long long>(payload.size()) >> shift) & 0xFF));
    }
  }
  out.append(payload);
  return out;
}

// A frame as a client writes it: the server frame with the mask bit set, the key after the length, and the
// payload masked byte by byte (not with the code under test).
inline std::string client_frame(int opcode, std::string_view payload,
                                const std::array<unsigned char, 4>& mask, bool fin = true,
                                unsigned char rsv = 0) {
  std::string out = server_frame(opcode, payload, fin, rsv);
  const std::size_t header = out.size() - payload.size();
  out[1] = static_cast<char>(out[1] | 0x80);
  out.insert(header, reinterpret_cast<const char*>(mask.data()), mask.size());
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out[header + 4 + i] = static_cast<char>(out[header + 4 + i] ^ mask[i % 4]);
  }
  return out;
}

// Records what the reader delivers, as text: "message:<body>", "invalid:<text that is not UTF-8>",
// "ping:<payload>", "close:<code>:<reason>".
struct Recorder : FrameHandler {
  std::vector<std::string> seen;
  std::size_t padding_seen = ~std::size_t{0};

  void on_message(std::string_view text, std::size_t capacity) override {
    seen.push_back("message:" + std::string(text));
    padding_seen = std::min(padding_seen, capacity - text.size());
  }
  void on_invalid_text(std::string_view bytes, std::size_t /*capacity*/) override {
    seen.push_back("invalid:" + std::string(bytes));
  }
  void on_ping(std::string_view payload) override { seen.push_back("ping:" + std::string(payload)); }
  void on_close(int code, std::string_view reason) override {
    seen.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
  }
};

}  // namespace relay::websocket::test

// What the relay's gateway server writes: unmasked final frames, read back by a server-frame reader (the
// side an SDK bot is on), and the masking routine both sides share.
#include <catch2/catch.hpp>

#include "server_frames.hpp"
#include "websocket/frame_reader.hpp"
#include "websocket/frame_writer.hpp"
#include "websocket/mask.hpp"

using namespace relay::websocket;
using relay::websocket::test::Recorder;
using relay::websocket::test::server_frame;

namespace {

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>((i * 131 + 7) & 0xFF);
  }
  return bytes;
}

}  // namespace

TEST_CASE("a server frame has the shortest length encoding, no mask, and the payload as it is") {
  for (const std::size_t size : {0, 1, 125, 126, 127, 65'535, 65'536, 70'000}) {
    INFO(size);
    const std::string payload = pattern(size);
    std::string frame = "prefix";
    append_server_frame(frame, Opcode::text, payload);
    REQUIRE(frame.substr(0, 6) == "prefix");
    REQUIRE(frame.substr(6) == server_frame(0x1, payload));  // the test's own encoder, byte for byte
    REQUIRE(frame.size() == 6 + server_frame_header_size(size) + size);
    SECTION("the header alone, then the payload, is the same frame") {
      std::string split = "prefix";
      append_server_frame_header(split, Opcode::text, size);
      REQUIRE(split.size() == 6 + server_frame_header_size(size));
      split += payload;
      REQUIRE(split == frame);
    }
  }
  std::string frame;
  append_server_frame(frame, Opcode::text, std::string(300, 'x'));
  REQUIRE(frame.substr(0, 4) == std::string("\x81\x7e\x01\x2c", 4));
  frame.clear();
  append_server_frame(frame, Opcode::binary, std::string(65'536, 'x'));
  REQUIRE(frame.substr(0, 10) == std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
}

TEST_CASE("what a server writes, a server-frame reader reads back") {
  std::string stream;
  for (const std::size_t size : {0, 1, 125, 126, 65'535, 65'536, 100'001}) {
    append_server_frame(stream, Opcode::binary, pattern(size));
  }
  append_server_frame(stream, Opcode::text, R"({"op":10,"d":{"heartbeat_interval":41250}})");
  append_server_frame(stream, Opcode::ping, "p");
  append_server_frame(stream, Opcode::pong, "ignored");
  append_server_frame(stream, Opcode::close, close_payload(4009, "Session timed out"));
  FrameReader frames(1 << 20, 64, 16 * 1024);  // Peer::server, the default
  Recorder recorder;
  REQUIRE_FALSE(frames.feed(stream.data(), stream.size(), recorder));
  REQUIRE(frames.error_code() == 0);
  REQUIRE(frames.closed());
  REQUIRE(recorder.seen ==
          std::vector<std::string>{"message:", "message:" + pattern(1), "message:" + pattern(125),
                                   "message:" + pattern(126), "message:" + pattern(65'535),
                                   "message:" + pattern(65'536), "message:" + pattern(100'001),
                                   "message:"
                                   R"({"op":10,"d":{"heartbeat_interval":41250}})",
                                   "ping:p", "close:4009:Session timed out"});
}

TEST_CASE("masking in pieces at any phase equals masking byte by byte") {
  const MaskKey key{0x12, 0xA4, 0x5F, 0xE0};
  const std::string plain = pattern(61);
  std::string expected = plain;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    expected[i] = static_cast<char>(expected[i] ^ key[i % 4]);
  }
  // Every cut into two pieces (the second starting at any phase), over every length up to 61.
  for (std::size_t size = 0; size <= plain.size(); ++size) {
    for (std::size_t cut = 0; cut <= size; ++cut) {
      std::string masked = plain.substr(0, size);
      const std::size_t phase = apply_mask(masked.data(), cut, key, 0);
      REQUIRE(phase == cut % 4);
      REQUIRE(apply_mask(masked.data() + cut, size - cut, key, phase) == size % 4);
      INFO("size " << size << ", cut " << cut);
      REQUIRE(masked == expected.substr(0, size));
    }
  }
  std::string twice = plain;
  apply_mask(twice.data(), twice.size(), key, 3);
  apply_mask(twice.data(), twice.size(), key, 3);
  REQUIRE(twice == plain);
}

// FrameReader reading a client's frames (Peer::client), as the relay's gateway server does: every frame
// masked, payloads unmasked byte for byte, everything else as for a server's frames.
#include <catch2/catch.hpp>

#include "server_frames.hpp"
#include "websocket/frame_reader.hpp"
#include "websocket/frame_writer.hpp"

using namespace relay::websocket;
using relay::websocket::test::client_frame;
using relay::websocket::test::Recorder;
using relay::websocket::test::server_frame;

namespace {
constexpr std::size_t k_padding = 64;
constexpr std::size_t k_retained = 16 * 1024;
// Keys with every byte distinct and high bits set, so that a key byte used at the wrong place shows.
constexpr std::array<unsigned char, 4> k_mask_a{0x37, 0xFA, 0x21, 0x3D};
constexpr std::array<unsigned char, 4> k_mask_b{0x9C, 0x01, 0xE5, 0x78};
constexpr std::array<unsigned char, 4> k_zero_mask{0, 0, 0, 0};

FrameReader client_reader(std::size_t max = 1 << 20) {
  return FrameReader(max, k_padding, k_retained, Peer::client);
}

// All 256 byte values, then some: a binary payload that must come out unchanged.
std::string every_byte(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>((i * 7 + i / 256) & 0xFF);
  }
  return bytes;
}

// Every kind of frame a client may send, each masked with its own key; lengths of all three encodings, odd
// sizes (not a multiple of the key or of a word), and a ping and a pong between a message's fragments.
std::string mixed_stream() {
  return client_frame(0x1, R"({"op":2,"d":{"token":"Bot 1.x"}})", k_mask_a) +
         client_frame(0x1, std::string(301, 'a'), k_mask_b) +
         client_frame(0x2, every_byte(70'003), k_mask_a) + client_frame(0x1, "frag-", k_mask_b, false) +
         client_frame(0x9, "are you there", k_mask_a) + client_frame(0x0, "ment", k_mask_a, false) +
         client_frame(0xA, "pong", k_mask_b) + client_frame(0x0, "ed \xE2\x9C\x93", k_mask_b, true) +
         client_frame(0x2, every_byte(13), k_zero_mask) + client_frame(0x1, "", k_mask_a) +
         client_frame(0x8, std::string("\x03\xe8", 2) + "going away", k_mask_b);
}

std::vector<std::string> expected_mixed() {
  return {
      "message:"
      R"({"op":2,"d":{"token":"Bot 1.x"}})",
      "message:" + std::string(301, 'a'),
      "message:" + every_byte(70'003),
      "ping:are you there",
      "message:frag-mented \xE2\x9C\x93",
      "message:" + every_byte(13),
      "message:",
      "close:1000:going away"};
}

struct Outcome {
  std::vector<std::string> seen;
  int error_code = 0;
  std::string error;
  bool closed = false;
  bool operator==(const Outcome&) const = default;
};

Outcome read_in_two(const std::string& stream, std::size_t split, std::size_t max = 1 << 20) {
  FrameReader frames = client_reader(max);
  Recorder recorder;
  if (frames.feed(stream.data(), split, recorder)) {
    frames.feed(stream.data() + split, stream.size() - split, recorder);
  }
  return {recorder.seen, frames.error_code(), frames.error(), frames.closed()};
}

}  // namespace

TEST_CASE("a client's masked frames are unmasked byte for byte, fragments joined around control frames") {
  const std::string stream = mixed_stream();
  SECTION("in one piece") {
    FrameReader frames = client_reader();
    Recorder recorder;
    REQUIRE_FALSE(frames.feed(stream.data(), stream.size(), recorder));  // the stream ends with a close
    REQUIRE(frames.closed());
    REQUIRE(frames.error_code() == 0);
    REQUIRE(recorder.seen == expected_mixed());
    REQUIRE(recorder.padding_seen >= k_padding);
  }
  SECTION("one byte at a time: every header, mask key and payload split everywhere") {
    FrameReader frames = client_reader();
    Recorder recorder;
    for (std::size_t i = 0; i + 1 < stream.size(); ++i) {
      REQUIRE(frames.feed(stream.data() + i, 1, recorder));
    }
    REQUIRE_FALSE(frames.feed(stream.data() + stream.size() - 1, 1, recorder));
    REQUIRE(recorder.seen == expected_mixed());
  }
  SECTION("in two pieces, cut at every point of the first frames and of the last ones") {
    std::vector<std::size_t> splits;
    for (std::size_t at = 0; at < 420; ++at) {
      splits.push_back(at);
    }
    for (std::size_t at = stream.size() - 160; at <= stream.size(); ++at) {
      splits.push_back(at);
    }
    for (const std::size_t split : splits) {
      INFO("split at " << split);
      const Outcome outcome = read_in_two(stream, split);
      REQUIRE(outcome.seen == expected_mixed());
      REQUIRE(outcome.closed);
    }
  }
  SECTION("in pieces of 3, 5 and 7 bytes, out of step with the key and with any word size") {
    for (const std::size_t piece : {3, 5, 7, 4093}) {
      FrameReader frames = client_reader();
      Recorder recorder;
      for (std::size_t at = 0; at < stream.size(); at += piece) {
        frames.feed(stream.data() + at, std::min(piece, stream.size() - at), recorder);
      }
      INFO("pieces of " << piece);
      REQUIRE(recorder.seen == expected_mixed());
    }
  }
}

TEST_CASE("a mask key split across reads is put together like any other header byte") {
  const std::string frame = client_frame(0x1, "hello, key", k_mask_a);  // header 2 bytes, key at 2 to 5
  for (std::size_t split = 2; split <= 6; ++split) {
    INFO("split at " << split);
    REQUIRE(read_in_two(frame, split).seen == std::vector<std::string>{"message:hello, key"});
  }
  const std::string longer = client_frame(0x1, std::string(200, 'k'), k_mask_b);  // key at 4 to 7
  for (std::size_t split = 1; split <= 8; ++split) {
    INFO("split at " << split);
    REQUIRE(read_in_two(longer, split).seen == std::vector<std::string>{"message:" + std::string(200, 'k')});
  }
}

TEST_CASE("an unmasked frame from a client fails with 1002, wherever it comes") {
  const std::string expected_error = "an unmasked frame from the client";
  SECTION("the first frame") {
    const Outcome outcome = read_in_two(server_frame(0x1, "hi"), 0);
    REQUIRE(outcome.error_code == 1002);
    REQUIRE(outcome.error == expected_error);
    REQUIRE(outcome.seen.empty());
  }
  SECTION("a control frame between the fragments of a masked message") {
    const std::string stream = client_frame(0x1, "one", k_mask_a) + client_frame(0x1, "fr", k_mask_b, false) +
                               server_frame(0x9, "ping") + client_frame(0x0, "ag", k_mask_a);
    for (std::size_t split = 0; split <= stream.size(); ++split) {
      INFO("split at " << split);
      const Outcome outcome = read_in_two(stream, split);
      REQUIRE(outcome.error_code == 1002);
      REQUIRE(outcome.error == expected_error);
      REQUIRE(outcome.seen == std::vector<std::string>{"message:one"});
    }
  }
  SECTION("an unmasked close") {
    const Outcome outcome = read_in_two(server_frame(0x8, std::string("\x03\xe8", 2)), 0);
    REQUIRE(outcome.error_code == 1002);
    REQUIRE_FALSE(outcome.closed);
  }
  SECTION("known as soon as the second byte arrives") {
    FrameReader frames = client_reader();
    Recorder recorder;
    REQUIRE_FALSE(frames.feed("\x81\x05", 2, recorder));
    REQUIRE(frames.error() == expected_error);
  }
}

TEST_CASE("a text message from a client that is not UTF-8 fails with 1007, checked across its fragments") {
  SECTION("a character cut between fragments is fine") {
    const std::string stream =
        client_frame(0x1, "caf\xC3", k_mask_a, false) + client_frame(0x0, "\xA9", k_mask_b, true);
    REQUIRE(read_in_two(stream, 0).seen == std::vector<std::string>{"message:caf\xC3\xA9"});
  }
  SECTION("a character left unfinished by the last fragment is not") {
    const std::string stream = client_frame(0x1, "caf\xC3", k_mask_a, false) +
                               client_frame(0x9, "p", k_mask_b) + client_frame(0x0, "(", k_mask_b, true);
    for (std::size_t split = 0; split <= stream.size(); ++split) {
      INFO("split at " << split);
      const Outcome outcome = read_in_two(stream, split);
      REQUIRE(outcome.error_code == 1007);
      REQUIRE(outcome.error == "a text message that is not UTF-8");
      REQUIRE(outcome.seen == std::vector<std::string>{"ping:p", "invalid:caf\xC3("});
    }
  }
  SECTION("a close reason") {
    const Outcome outcome = read_in_two(client_frame(0x8, std::string("\x03\xe8\xff", 3), k_mask_a), 0);
    REQUIRE(outcome.error_code == 1007);
    REQUIRE(outcome.error == "a close frame whose reason is not UTF-8");
  }
  SECTION("binary messages are not checked") {
    REQUIRE(read_in_two(client_frame(0x2, "\xff\xfe", k_mask_a), 0).seen ==
            std::vector<std::string>{"message:\xff\xfe"});
  }
}

TEST_CASE("a client's message larger than the limit fails with 1009 once its header and key have arrived") {
  SECTION("one frame: only its header has arrived") {
    const std::string header = client_frame(0x1, std::string(70'000, 'x'), k_mask_a).substr(0, 14);
    FrameReader frames = client_reader(65'536);
    Recorder recorder;
    REQUIRE_FALSE(frames.feed(header.data(), header.size(), recorder));
    REQUIRE(frames.error_code() == 1009);
    // The client is told the limit, not a configuration key of the relay's that means nothing to it.
    REQUIRE(frames.error() == "a message larger than 65536 bytes");
  }
  SECTION("fragments that add up past the limit") {
    const std::string stream = client_frame(0x1, std::string(40'000, 'x'), k_mask_a, false) +
                               client_frame(0x9, "", k_mask_b) +
                               client_frame(0x0, std::string(40'000, 'y'), k_mask_b, true);
    const Outcome outcome = read_in_two(stream, 0, 65'536);
    REQUIRE(outcome.error_code == 1009);
    REQUIRE(outcome.seen == std::vector<std::string>{"ping:"});
  }
  SECTION("exactly the limit is fine") {
    const Outcome outcome = read_in_two(client_frame(0x2, every_byte(65'536), k_mask_b), 0, 65'536);
    REQUIRE(outcome.error_code == 0);
    REQUIRE(outcome.seen == std::vector<std::string>{"message:" + every_byte(65'536)});
  }
}

TEST_CASE("a client's message buffer grows with the bytes that arrive, not with what a header announces") {
  const std::string whole = client_frame(0x1, std::string(1 << 20, ' '), k_mask_a);
  FrameReader frames = client_reader();
  Recorder recorder;
  // The 14-byte header and ten bytes: a header alone must not claim the megabyte it announces.
  REQUIRE(frames.feed(whole.data(), 24, recorder));
  REQUIRE(frames.buffer_capacity() < 4096);
  std::size_t at = 24;
  for (; at < whole.size() - 100'000; at += 100'000) {
    REQUIRE(frames.feed(whole.data() + at, 100'000, recorder));
    REQUIRE(frames.buffer_capacity() <= 2 * (at + 100'000) + 4096);
  }
  REQUIRE(frames.feed(whole.data() + at, whole.size() - at, recorder));
  REQUIRE(recorder.seen == std::vector<std::string>{"message:" + std::string(1 << 20, ' ')});
}

TEST_CASE("a client's frames follow the same rules as a server's otherwise") {
  const auto violation = [](const std::string& stream) {
    const Outcome outcome = read_in_two(stream, 0);
    REQUIRE(outcome.error_code == 1002);
    REQUIRE(outcome.seen.empty());
    return outcome.error;
  };
  REQUIRE(violation(client_frame(0x1, "hi", k_mask_a, true, 0x40)).find("reserved bits") !=
          std::string::npos);
  REQUIRE(violation(client_frame(0x3, "hi", k_mask_a)) == "a frame with unknown opcode 3");
  REQUIRE(violation(client_frame(0x0, "hi", k_mask_a)) == "a continuation frame outside a message");
  REQUIRE(violation(client_frame(0x1, "a", k_mask_a, false) + client_frame(0x1, "b", k_mask_b)) ==
          "a new message before the previous one's final fragment");
  REQUIRE(violation(client_frame(0x9, std::string(126, 'p'), k_mask_a)) ==
          "a fragmented or oversized control frame");
  REQUIRE(violation(client_frame(0x8, "x", k_mask_a)) == "a close frame with a one-byte payload");
  REQUIRE(violation(client_frame(0x8, std::string("\x03\xed", 2), k_mask_a)) ==
          "a close frame with code 1005, which is not valid on the wire");
  REQUIRE(read_in_two(client_frame(0x8, "", k_mask_a), 0).seen == std::vector<std::string>{"close:1005:"});
}

TEST_CASE("what the relay's client writer masks, a client-frame reader reads back") {
  std::string stream;
  for (const std::size_t size : {0, 1, 125, 126, 65'535, 65'536, 100'001}) {
    append_client_frame(stream, Opcode::binary, every_byte(size), k_mask_a);
  }
  append_client_frame(stream, Opcode::close, close_payload(4000, "bye"), k_mask_b);
  const Outcome outcome = read_in_two(stream, 0);
  REQUIRE(outcome.closed);
  REQUIRE(outcome.seen == std::vector<std::string>{"message:", "message:" + every_byte(1),
                                                   "message:" + every_byte(125), "message:" + every_byte(126),
                                                   "message:" + every_byte(65'535),
                                                   "message:" + every_byte(65'536),
                                                   "message:" + every_byte(100'001), "close:4000:bye"});
}

TEST_CASE("a server-frame reader still refuses masked frames by default") {
  FrameReader frames(1 << 20, k_padding, k_retained);
  Recorder recorder;
  const std::string frame = client_frame(0x1, "hi", k_mask_a);
  REQUIRE_FALSE(frames.feed(frame.data(), frame.size(), recorder));
  REQUIRE(frames.error() == "a masked frame from the server");
}

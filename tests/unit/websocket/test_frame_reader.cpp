#include <catch2/catch.hpp>

#include "server_frames.hpp"
#include "websocket/frame_reader.hpp"

using namespace relay::websocket;
using relay::websocket::test::Recorder;
using relay::websocket::test::server_frame;

namespace {
constexpr std::size_t k_padding = 64;
constexpr std::size_t k_retained = 16 * 1024;

FrameReader reader(std::size_t max = 1 << 20) {
  return FrameReader(max, k_padding, k_retained);
}

// Every kind of frame the reader accepts, in one stream.
std::string mixed_stream() {
  return server_frame(0x1, R"({"op":10})") + server_frame(0x1, std::string(300, 'a')) +
         server_frame(0x1, std::string(70'000, 'b')) + server_frame(0x1, "frag-", false) +
         server_frame(0x9, "are you there") + server_frame(0x0, "ment", false) + server_frame(0xA, "pong") +
         server_frame(0x0, "ed", true) + server_frame(0x2, "binary") + server_frame(0x1, "") +
         server_frame(0x8, std::string("\x0f\xa0", 2) + "Session timed out");
}

std::vector<std::string> expected_mixed() {
  return {
      "message:"
      R"({"op":10})",
      "message:" + std::string(300, 'a'),
      "message:" + std::string(70'000, 'b'),
      "ping:are you there",
      "message:frag-mented",
      "message:binary",
      "message:",
      "close:4000:Session timed out"};
}

}  // namespace

TEST_CASE("frames in one buffer are delivered in order, fragments joined, with padding after each message") {
  FrameReader frames = reader();
  Recorder recorder;
  const std::string stream = mixed_stream();
  REQUIRE_FALSE(frames.feed(stream.data(), stream.size(), recorder));  // false: the stream ends with close
  REQUIRE(frames.closed());
  REQUIRE(frames.error_code() == 0);
  REQUIRE(recorder.seen == expected_mixed());
  REQUIRE(recorder.padding_seen >= k_padding);
}

TEST_CASE("the same stream split at every possible point gives the same result") {
  const std::string stream = mixed_stream();
  // Split points around every frame header (a whole sweep over 70 KB would be slow in a sanitizer build).
  std::vector<std::size_t> splits;
  for (std::size_t at = 0; at < 400; ++at) {
    splits.push_back(at);
  }
  for (std::size_t at = stream.size() - 200; at < stream.size(); ++at) {
    splits.push_back(at);
  }
  for (const std::size_t split : splits) {
    FrameReader frames = reader();
    Recorder recorder;
    REQUIRE(frames.feed(stream.data(), split, recorder));
    frames.feed(stream.data() + split, stream.size() - split, recorder);
    INFO("split at " << split);
    REQUIRE(recorder.seen == expected_mixed());
  }
  SECTION("and one byte at a time") {
    FrameReader frames = reader();
    Recorder recorder;
    for (std::size_t i = 0; i + 1 < stream.size(); ++i) {
      REQUIRE(frames.feed(stream.data() + i, 1, recorder));
    }
    REQUIRE_FALSE(frames.feed(stream.data() + stream.size() - 1, 1, recorder));
    REQUIRE(recorder.seen == expected_mixed());
  }
}

TEST_CASE("a close frame without a payload is reported as 1005, and nothing is read after a close") {
  FrameReader frames = reader();
  Recorder recorder;
  const std::string stream = server_frame(0x8, "") + server_frame(0x1, "after");
  REQUIRE_FALSE(frames.feed(stream.data(), stream.size(), recorder));
  REQUIRE(recorder.seen == std::vector<std::string>{"close:1005:"});
  REQUIRE_FALSE(frames.feed(stream.data(), stream.size(), recorder));
  REQUIRE(recorder.seen.size() == 1);
}

TEST_CASE("a message larger than the limit fails with 1009 as soon as its length is known") {
  Recorder recorder;
  SECTION("one frame: only its header has arrived") {
    FrameReader frames = reader(65'536);
    const std::string header = server_frame(0x1, std::string(5'000'000, 'x')).substr(0, 10);
    REQUIRE_FALSE(frames.feed(header.data(), header.size(), recorder));
    REQUIRE(frames.error_code() == 1009);
  }
  SECTION("fragments that add up past the limit") {
    FrameReader frames = reader(65'536);
    const std::string stream = server_frame(0x1, std::string(40'000, 'x'), false) +
                               server_frame(0x0, std::string(40'000, 'y'), true);
    REQUIRE_FALSE(frames.feed(stream.data(), stream.size(), recorder));
    REQUIRE(frames.error_code() == 1009);
  }
  SECTION("exactly the limit is fine") {
    FrameReader frames = reader(65'536);
    const std::string stream = server_frame(0x1, std::string(65'536, 'x'));
    REQUIRE(frames.feed(stream.data(), stream.size(), recorder));
    REQUIRE(recorder.seen.size() == 1);
  }
  REQUIRE(recorder.seen.size() <= 1);
}

TEST_CASE("protocol violations fail with 1002 and say which") {
  const auto violation = [](const std::string& stream) {
    FrameReader frames = reader();
    Recorder recorder;
    REQUIRE_FALSE(frames.feed(stream.data(), stream.size(), recorder));
    REQUIRE(frames.error_code() == 1002);
    REQUIRE(recorder.seen.empty());
    return frames.error();
  };
  std::string masked = server_frame(0x1, "hi");
  masked[1] = static_cast<char>(masked[1] | 0x80);
  REQUIRE(violation(masked + "mask") == "a masked frame from the server");
  REQUIRE(violation(server_frame(0x1, "hi", true, 0x40)).find("reserved bits") != std::string::npos);
  REQUIRE(violation(server_frame(0x3, "hi")) == "a frame with unknown opcode 3");
  REQUIRE(violation(server_frame(0x0, "hi")) == "a continuation frame outside a message");
  REQUIRE(violation(server_frame(0x1, "a", false) + server_frame(0x1, "b")) ==
          "a new message before the previous one's final fragment");
  REQUIRE(violation(server_frame(0x9, std::string(126, 'p'))) == "a fragmented or oversized control frame");
  REQUIRE(violation(server_frame(0x9, "p", false)) == "a fragmented or oversized control frame");
  REQUIRE(violation(server_frame(0x8, "x")) == "a close frame with a one-byte payload");
  std::string huge = server_frame(0x1, std::string(70'000, 'x')).substr(0, 10);
  huge[2] = static_cast<char>(0x80);
  REQUIRE(violation(huge) == "a frame length with the most significant bit set");
}

TEST_CASE("the message buffer is kept up to the retained size and given back after a larger message") {
  FrameReader frames = reader();
  struct Capacity : Recorder {
    std::size_t capacity = 0;
    void on_message(std::string_view text, std::size_t cap) override {
      Recorder::on_message(text, cap);
      capacity = cap;
    }
  } recorder;
  std::string stream = server_frame(0x1, std::string(1000, 'a'));
  frames.feed(stream.data(), stream.size(), recorder);
  stream = server_frame(0x1, std::string(5000, 'a'));
  frames.feed(stream.data(), stream.size(), recorder);
  REQUIRE(recorder.capacity <= k_retained);  // medium messages grow the buffer to the retained size at most
  stream = server_frame(0x1, std::string(40'000, 'b'));
  frames.feed(stream.data(), stream.size(), recorder);
  REQUIRE(recorder.capacity >= 40'000 + k_padding);
  stream = server_frame(0x1, "small");
  frames.feed(stream.data(), stream.size(), recorder);
  REQUIRE(recorder.capacity < 40'000);
  REQUIRE(recorder.seen.size() == 4);
}

namespace {

std::string close_with(int code, std::string_view reason = {}) {
  std::string payload;
  payload.push_back(static_cast<char>((code >> 8) & 0xFF));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return server_frame(0x8, payload);
}

// The reader's result for a whole stream: what it delivered, then its error code and message.
struct Outcome {
  std::vector<std::string> seen;
  int error_code = 0;
  std::string error;
  bool closed = false;
  bool close_received = false;
  bool operator==(const Outcome&) const = default;
};

Outcome read_in_two(const std::string& stream, std::size_t split) {
  FrameReader frames = reader();
  Recorder recorder;
  if (frames.feed(stream.data(), split, recorder)) {
    frames.feed(stream.data() + split, stream.size() - split, recorder);
  }
  return {recorder.seen, frames.error_code(), frames.error(), frames.closed(), frames.close_received()};
}

}  // namespace

TEST_CASE("close codes valid on the wire are delivered, the others are protocol errors") {
  for (const int code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4009, 4999}) {
    INFO(code);
    const Outcome outcome = read_in_two(close_with(code, "bye"), 0);
    REQUIRE(outcome.error_code == 0);
    REQUIRE(outcome.seen == std::vector<std::string>{"close:" + std::to_string(code) + ":bye"});
    REQUIRE(is_valid_close_code(code));
  }
  for (const int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    INFO(code);
    const Outcome outcome = read_in_two(close_with(code), 0);
    REQUIRE(outcome.error_code == 1002);
    REQUIRE(outcome.error ==
            "a close frame with code " + std::to_string(code) + ", which is not valid on the wire");
    REQUIRE(outcome.seen.empty());
    REQUIRE(outcome.close_received);
    REQUIRE_FALSE(outcome.closed);
    REQUIRE_FALSE(is_valid_close_code(code));
  }
}

TEST_CASE(
    "a close reason or a text message that is not UTF-8 fails with 1007, binary messages are not checked") {
  const std::string bad = "caf\xC3";  // a sequence cut short
  for (const std::string& invalid : {bad, std::string("\xED\xA0\x80"), std::string("\xC0\xAF"),
                                     std::string("\xF4\x90\x80\x80"), std::string("\xFF")}) {
    INFO(invalid.size());
    Outcome outcome = read_in_two(close_with(1000, invalid), 0);
    REQUIRE(outcome.error_code == 1007);
    REQUIRE(outcome.error == "a close frame whose reason is not UTF-8");
    REQUIRE(outcome.seen.empty());
    outcome = read_in_two(server_frame(0x1, "{\"s\":\"" + invalid + "\"}"), 0);
    REQUIRE(outcome.error_code == 1007);
    REQUIRE(outcome.error == "a text message that is not UTF-8");
    // Handed over as invalid (never as a message) so that the client can pass its s before the close.
    REQUIRE(outcome.seen == std::vector<std::string>{"invalid:{\"s\":\"" + invalid + "\"}"});
    REQUIRE(read_in_two(server_frame(0x2, invalid), 0).seen ==
            std::vector<std::string>{"message:" + invalid});
  }
  SECTION("a character split across fragments is fine, a fragment's end is no character boundary") {
    const std::string stream = server_frame(0x1, "caf\xC3", false) + server_frame(0x0, "\xA9", true);
    REQUIRE(read_in_two(stream, 0).seen == std::vector<std::string>{"message:caf\xC3\xA9"});
  }
  REQUIRE(read_in_two(close_with(4000, "\xE2\x9C\x93 ok"), 0).seen ==
          std::vector<std::string>{"close:4000:\xE2\x9C\x93 ok"});
}

TEST_CASE("every split point of a stream that ends in an error gives the one-piece result") {
  const std::string prefix = server_frame(0x1, "one") + server_frame(0x1, "fr", false) +
                             server_frame(0x9, "ping") + server_frame(0x0, "ag");
  const std::vector<std::string> endings = {
      close_with(1006),
      close_with(999, "x"),
      close_with(5000),
      close_with(1000, "\xC3"),
      server_frame(0x8, "x"),
      server_frame(0x1, "{\"a\":\"\xC3\"}"),
      server_frame(0x1, "caf\xC3", false) + server_frame(0x9, "p") + server_frame(0x0, "(", true),
      server_frame(0x1, std::string(300, 'a') + "\xFF"),
      close_with(4000, "fine") + server_frame(0x1, "\xFF"),
  };
  for (const std::string& ending : endings) {
    const std::string stream = prefix + ending;
    const Outcome whole = read_in_two(stream, stream.size());
    REQUIRE((whole.error_code != 0 || whole.closed));
    for (std::size_t split = 0; split <= stream.size(); ++split) {
      INFO("split at " << split << " of " << stream.size());
      REQUIRE(read_in_two(stream, split) == whole);
    }
  }
}

#pragma once

// What a FrameReader makes of a byte stream fed in given pieces, with the properties every outcome must keep;
// shared by fuzz_frame_reader (a server's frames) and fuzz_client_frames (a client's).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "util/strings.hpp"
#include "websocket/frame_reader.hpp"

namespace relay::fuzz {

constexpr std::size_t k_frames_max_message = 64 * 1024;
constexpr std::size_t k_frames_padding = 64;
constexpr std::size_t k_frames_retained = 1024;

class FrameRecorder : public websocket::FrameHandler {
 public:
  std::vector<std::string> events;

  void on_message(std::string_view text, std::size_t capacity) override {
    FUZZ_CHECK(capacity >= text.size() + k_frames_padding);
    FUZZ_CHECK(text.size() <= k_frames_max_message);
    // The padding must be readable: a sanitizer build stops here if it is not.
    volatile char last = text.data()[capacity - 1];
    static_cast<void>(last);
    events.push_back("message " + std::string(text));
  }
  void on_invalid_text(std::string_view bytes, std::size_t /*capacity*/) override {
    FUZZ_CHECK(!util::is_valid_utf8(bytes));
    events.push_back("invalid " + std::string(bytes));
  }
  void on_ping(std::string_view payload) override {
    FUZZ_CHECK(payload.size() <= 125);
    events.push_back("ping " + std::string(payload));
  }
  void on_close(int code, std::string_view reason) override {
    FUZZ_CHECK(reason.size() <= 123);
    // RFC 6455 section 7.4: only codes valid on the wire are reported (1005: the frame carried none), with a
    // UTF-8 reason; anything else is a protocol error, never echoed.
    FUZZ_CHECK(code == 1005 || websocket::is_valid_close_code(code));
    FUZZ_CHECK(util::is_valid_utf8(reason));
    events.push_back("close " + std::to_string(code) + " " + std::string(reason));
  }
};

struct FrameOutcome {
  std::vector<std::string> events;
  bool stopped = false;  // feed returned false
  bool closed = false;
  int error_code = 0;
  std::string error;
  bool operator==(const FrameOutcome&) const = default;
};

inline FrameOutcome read_frames(const std::vector<std::string_view>& pieces, websocket::Peer peer) {
  websocket::FrameReader reader(k_frames_max_message, k_frames_padding, k_frames_retained, peer);
  FrameRecorder recorder;
  FrameOutcome outcome;
  for (const std::string_view piece : pieces) {
    if (!reader.feed(piece.data(), piece.size(), recorder)) {
      outcome.stopped = true;
      break;
    }
  }
  outcome.events = std::move(recorder.events);
  outcome.closed = reader.closed();
  outcome.error_code = reader.error_code();
  outcome.error = reader.error();
  // A stop is a close or an error, never neither; an error has a code and a reason.
  FUZZ_CHECK(outcome.stopped == (outcome.closed || outcome.error_code != 0));
  FUZZ_CHECK((outcome.error_code != 0) == !outcome.error.empty());
  FUZZ_CHECK(outcome.error_code == 0 || outcome.error_code == websocket::k_close_protocol_error ||
             outcome.error_code == websocket::k_close_invalid_payload ||
             outcome.error_code == websocket::k_close_message_too_big);
  return outcome;
}

}  // namespace relay::fuzz

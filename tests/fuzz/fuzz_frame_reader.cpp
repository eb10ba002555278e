// FrameReader (RFC 6455 framing, server to client): whatever the bytes, fed in one piece or cut anywhere, the
// reader reports the same messages, pings, close and error, and never reads outside its buffers; a close it
// reports has a code valid on the wire and a UTF-8 reason.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "split_input.hpp"
#include "util/strings.hpp"
#include "websocket/frame_reader.hpp"

namespace {

constexpr std::size_t k_max_message = 64 * 1024;
constexpr std::size_t k_padding = 64;
constexpr std::size_t k_retained = 1024;

class Recorder : public relay::websocket::FrameHandler {
 public:
  std::vector<std::string> events;

  void on_message(std::string_view text, std::size_t capacity) override {
    FUZZ_CHECK(capacity >= text.size() + k_padding);
    FUZZ_CHECK(text.size() <= k_max_message);
    // The padding must be readable: a sanitizer build stops here if it is not.
    volatile char last = text.data()[capacity - 1];
    static_cast<void>(last);
    events.push_back("message " + std::string(text));
  }
  void on_ping(std::string_view payload) override {
    FUZZ_CHECK(payload.size() <= 125);
    events.push_back("ping " + std::string(payload));
  }
  void on_close(int code, std::string_view reason) override {
    FUZZ_CHECK(reason.size() <= 123);
    // RFC 6455 section 7.4: only codes valid on the wire are reported (1005: the frame carried none), with a
    // UTF-8 reason; anything else is a protocol error, never echoed.
    FUZZ_CHECK(code == 1005 || relay::websocket::is_valid_close_code(code));
    FUZZ_CHECK(relay::util::is_valid_utf8(reason));
    events.push_back("close " + std::to_string(code) + " " + std::string(reason));
  }
};

struct Outcome {
  std::vector<std::string> events;
  bool stopped = false;  // feed returned false
  bool closed = false;
  int error_code = 0;
  std::string error;
};

Outcome read_all(const std::vector<std::string_view>& pieces) {
  relay::websocket::FrameReader reader(k_max_message, k_padding, k_retained);
  Recorder recorder;
  Outcome outcome;
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
  FUZZ_CHECK(outcome.error_code == 0 || outcome.error_code == relay::websocket::k_close_protocol_error ||
             outcome.error_code == relay::websocket::k_close_invalid_payload ||
             outcome.error_code == relay::websocket::k_close_message_too_big);
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const relay::fuzz::SplitInput input = relay::fuzz::split_input(data, size);
  const Outcome whole = read_all({input.payload});
  const Outcome pieces = read_all(input.pieces);
  FUZZ_CHECK(whole.events == pieces.events);
  FUZZ_CHECK(whole.stopped == pieces.stopped);
  FUZZ_CHECK(whole.closed == pieces.closed);
  FUZZ_CHECK(whole.error_code == pieces.error_code);
  FUZZ_CHECK(whole.error == pieces.error);
  return 0;
}

// How `qq-gateway-relay sub` shows a message it received (the three frames from any ZeroMQ publisher it is
// pointed at): no crash; a line is valid UTF-8 without control characters (C0, DEL, C1, bidirectional
// overrides), so nothing a publisher sends can drive the terminal; --json is one valid JSON document in UTF-8
// on one line; a cut line is no wider than asked.
// Input: split_input.hpp cuts; the first three pieces are the topic, the body and the metadata.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "split_input.hpp"
#include "sub/event_format.hpp"
#include "util/json_validate.hpp"
#include "util/strings.hpp"

namespace {

bool free_of_controls(std::string_view line) {
  for (std::size_t at = 0; at < line.size();) {
    const std::size_t length = relay::util::utf8_sequence_length(line.substr(at));
    if (length == 0) {
      return false;
    }
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(line[at + i]); };
    if (length == 1 && (byte(0) < 0x20 || byte(0) == 0x7F)) {
      return false;
    }
    if (length == 2 && byte(0) == 0xC2 && byte(1) < 0xA0) {
      return false;
    }
    if (length == 3 && byte(0) == 0xE2 &&
        ((byte(1) == 0x80 && byte(2) >= 0xAA && byte(2) <= 0xAE) ||
         (byte(1) == 0x81 && byte(2) >= 0xA6 && byte(2) <= 0xA9))) {
      return false;
    }
    at += length;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = relay::fuzz::split_input(data, size);
  relay::sub::Frames frames;
  if (!input.pieces.empty()) {
    frames.topic = input.pieces[0];
  }
  if (input.pieces.size() > 1) {
    frames.body = input.pieces[1];
  }
  if (input.pieces.size() > 2) {
    frames.meta = input.pieces[2];
  }
  const std::size_t width = size == 0 ? 0 : data[size - 1] % 80;
  const std::string plain = relay::sub::format_line(frames, relay::sub::LineStyle{width, false});
  FUZZ_CHECK(free_of_controls(plain));
  if (width > 0) {
    FUZZ_CHECK(relay::sub::display_width(plain) <= width);
  }
  const std::string json = relay::sub::format_json(frames);
  FUZZ_CHECK(relay::util::is_valid_json(json));
  FUZZ_CHECK(json.find('\n') == std::string::npos);
  (void)relay::sub::relay_seq_of(frames.meta);
  FUZZ_CHECK(free_of_controls(relay::sub::node_of(frames.meta)) || relay::sub::node_of(frames.meta).empty());
  return 0;
}

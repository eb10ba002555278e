// FrameDecoder (every gateway frame and webhook body): no crash whatever the bytes; the copying and the
// zero-copy entry points agree, and so do the envelope read from the strict check's members and simdjson's
// reading; a frame is flagged as faulty exactly when it is not strict JSON, and a frame
// that is not flagged has d's raw text inside the caller's bytes. And the strict check that keeps
// malformed JSON off the bus, util::is_valid_json, agrees with simdjson's DOM parser (which validates
// everything, UTF-8 included) on every input, except where simdjson refuses a number it cannot represent
// (NUMBER_ERROR: simdjson 3.1 has no separate BIGINT_ERROR) or a nesting deeper than it supports
// (DEPTH_ERROR): limits of the parser, not of the grammar.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <simdjson.h>

#include "fuzz_check.hpp"
#include "protocol/frame.hpp"
#include "util/json_validate.hpp"

namespace {

using relay::protocol::DecodeResult;

bool inside(std::string_view part, const char* begin, std::size_t size) {
  return part.empty() || (part.data() >= begin && part.data() + part.size() <= begin + size);
}

// Everything a result says, as text (the views die at the next decode).
std::string describe(const DecodeResult& result) {
  if (!result.frame) {
    return "error " + std::string(relay::protocol::describe(result.error));
  }
  const auto& frame = *result.frame;
  std::string out = "op " + std::to_string(frame.op);
  out += " s " + (frame.s ? std::to_string(*frame.s) : std::string("-"));
  out += " t " + std::string(frame.t) + " id " + std::string(frame.id) + " d " + std::string(frame.d_raw);
  out += " hb " +
         (frame.heartbeat_interval_ms ? std::to_string(*frame.heartbeat_interval_ms) : std::string("-"));
  out += " session " + std::string(frame.session_id);
  out += " bool " + (frame.d_bool ? std::to_string(*frame.d_bool) : std::string("-"));
  out +=
      " fault " + (frame.fault ? std::to_string(frame.fault->offset) + std::string(frame.fault->what) : "-");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static relay::protocol::FrameDecoder decoder;
  // The gateway's path: the message buffer has the padding past its end.
  std::vector<char> padded(size + simdjson::SIMDJSON_PADDING);
  std::memcpy(padded.data(), data, size);
  const std::string_view bytes(padded.data(), size);
  const DecodeResult in_place = decoder.decode_padded(bytes, padded.size());
  if (in_place.frame) {
    FUZZ_CHECK(in_place.frame->op >= 0);
    FUZZ_CHECK(relay::protocol::is_known_opcode(in_place.frame->op));
    // The strict check flags exactly the frames that are not one JSON document; only those may have been
    // read from a sanitised copy.
    FUZZ_CHECK(in_place.frame->fault.has_value() == !relay::util::is_valid_json(bytes));
    if (!in_place.frame->fault) {
      FUZZ_CHECK(inside(in_place.frame->d_raw, padded.data(), size));
    }
  }
  const std::string first = describe(in_place);
  // The envelope read from the strict check's members reads as simdjson reads it.
  static relay::protocol::FrameDecoder simdjson_only(false);
  FUZZ_CHECK(describe(simdjson_only.decode_padded(bytes, padded.size())) == first);
  // The webhook's path without padding: a copy of exactly the input's size.
  const std::vector<char> exact(data, data + size);
  const DecodeResult copied = decoder.decode(std::string_view(exact.data(), exact.size()));
  FUZZ_CHECK(describe(copied) == first);

  static simdjson::dom::parser dom;
  simdjson::dom::element root;
  const simdjson::error_code parsed = dom.parse(padded.data(), size, false).get(root);
  const bool valid = relay::util::is_valid_json(bytes);
  if (parsed == simdjson::SUCCESS) {
    FUZZ_CHECK(valid);
  } else if (parsed != simdjson::NUMBER_ERROR && parsed != simdjson::DEPTH_ERROR) {
    if (valid) {
      std::fprintf(stderr, "simdjson says %s\n", simdjson::error_message(parsed));
    }
    FUZZ_CHECK(!valid);
  }
  return 0;
}

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "util/json_validate.hpp"

namespace relay::protocol {

enum Opcode : int {
  k_op_dispatch = 0,
  k_op_heartbeat = 1,
  k_op_identify = 2,
  k_op_resume = 6,
  k_op_reconnect = 7,
  k_op_invalid_session = 9,
  k_op_hello = 10,
  k_op_heartbeat_ack = 11,
  k_op_callback_ack = 12,
  k_op_callback_validation = 13,
};

// Larger op values are kept out of `int` arithmetic altogether.
constexpr std::int64_t k_max_opcode = 255;

bool is_known_opcode(int op);

// One decoded envelope (SPEC section 4). Every view points into the bytes given to FrameDecoder::decode or
// into the decoder itself, and dies at the next decode.
struct Frame {
  int op = -1;
  std::optional<std::uint64_t> s;
  std::string_view t;
  std::string_view id;
  std::string_view d_raw;  // the raw JSON text of `d`, empty when absent

  // Filled only where the relay needs them: Hello's interval, READY's session id, the boolean of op 7/9.
  std::optional<std::uint64_t> heartbeat_interval_ms;
  std::string_view session_id;
  std::optional<bool> d_bool;

  // Set when the bytes are not exactly one JSON document in valid UTF-8 (trailing bytes, a bad literal or
  // number, a lone surrogate...). The fields above were still read leniently, so that the relay can advance
  // past such a frame, but its bytes must never be published.
  std::optional<util::JsonFault> fault;
};

enum class DecodeError {
  not_json,    // not a JSON object, or malformed
  missing_op,  // no integer `op`
  unknown_op,  // an op this protocol does not define
  bad_field,   // a known field has the wrong type (e.g. `s` is a string)
};

std::string_view describe(DecodeError error);

struct DecodeResult {
  std::optional<Frame> frame;
  DecodeError error = DecodeError::not_json;
  // Why the bytes are not one strict JSON document, whether or not they decoded (then also in frame->fault).
  std::optional<util::JsonFault> fault;
};

// Which of simdjson's kernels parse the frames. simdjson's library picks the kernel that finds a document's
// structure (stage 1, the SIMD part) for this CPU at run time: haswell with AVX2, westmere with SSE4.2, else
// fallback. The on-demand navigation above it is compiled into the relay for the build's target CPU (baseline
// x86-64: fallback); it is scalar code in every kernel.
struct JsonKernels {
  std::string_view indexing;    // simdjson::get_active_implementation()
  std::string_view navigation;  // simdjson::builtin_implementation()
};
JsonKernels json_kernels();

// Checks each frame strictly (util::find_json_fault), which also lists the envelope's members; a plain
// envelope is read from them, anything else is parsed once with simdjson on-demand, without copying when the
// caller's buffer has SIMDJSON_PADDING spare bytes (see decode_padded). Not thread-safe; one
// decoder per event loop.
class FrameDecoder {
 public:
  // `read_members` false: every frame goes through simdjson, for tests that compare the two readings.
  explicit FrameDecoder(bool read_members = true) : m_read_members(read_members) {}

  // `bytes` must stay alive and unchanged until the next call. Copies into an internal padded buffer.
  DecodeResult decode(std::string_view bytes);
  // Zero-copy: `capacity - bytes.size()` must be at least SIMDJSON_PADDING and the spare bytes readable.
  DecodeResult decode_padded(std::string_view bytes, std::size_t capacity);

 private:
  DecodeResult decode_view(const simdjson::padded_string_view& view);
  DecodeResult decode_document(const simdjson::padded_string_view& view);
  static DecodeResult with_fault(DecodeResult result, const std::optional<util::JsonFault>& fault);
  DecodeResult decode_data(Frame& frame);
  std::optional<DecodeResult> decode_members();

  simdjson::ondemand::parser m_parser;
  simdjson::ondemand::parser m_data_parser;
  std::string m_copy;
  std::string m_sanitized;
  util::JsonTopMembers m_members;
  bool m_read_members;
};

}  // namespace relay::protocol

#include "protocol/frame.hpp"

#include <charconv>

#include "util/strings.hpp"

namespace relay::protocol {

namespace ondemand = simdjson::ondemand;

namespace {

// A JSON number's text (already checked against the grammar) that is an integer of this type: digits, and a
// leading minus only for a signed type.
template <typename Integer>
std::optional<Integer> integer_of(std::string_view token) {
  Integer value = 0;
  const char* const end = token.data() + token.size();
  const auto [at, error] = std::from_chars(token.data(), end, value);
  if (error != std::errc() || at != end) {
    return std::nullopt;  // a fraction, an exponent, a sign it cannot take, or out of range
  }
  return value;
}

// A JSON string's text, without its quotes, when it has no escape (then it is the string itself).
std::optional<std::string_view> plain_string_of(std::string_view token) {
  if (token.size() < 2 || token.front() != '"' || token.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  return token.substr(1, token.size() - 2);
}

}  // namespace

bool is_known_opcode(int op) {
  switch (op) {
    case k_op_dispatch:
    case k_op_heartbeat:
    case k_op_identify:
    case k_op_resume:
    case k_op_reconnect:
    case k_op_invalid_session:
    case k_op_hello:
    case k_op_heartbeat_ack:
    case k_op_callback_ack:
    case k_op_callback_validation:
      return true;
    default:
      return false;
  }
}

JsonKernels json_kernels() {
  return {simdjson::get_active_implementation()->name(), simdjson::builtin_implementation()->name()};
}

std::string_view describe(DecodeError error) {
  switch (error) {
    case DecodeError::not_json:
      return "not a JSON object";
    case DecodeError::missing_op:
      return "no integer op";
    case DecodeError::unknown_op:
      return "unknown op";
    case DecodeError::bad_field:
      return "a field has the wrong type";
  }
  return "unknown error";
}

DecodeResult FrameDecoder::decode(std::string_view bytes) {
  m_copy.reserve(bytes.size() + simdjson::SIMDJSON_PADDING);
  m_copy.assign(bytes);
  return decode_padded(m_copy, m_copy.capacity());
}

DecodeResult FrameDecoder::decode_padded(std::string_view bytes, std::size_t capacity) {
  return decode_view(simdjson::padded_string_view(bytes.data(), bytes.size(), capacity));
}

DecodeResult FrameDecoder::decode_view(const simdjson::padded_string_view& view) {
  // simdjson's on-demand parser reads only what is asked for and tolerates trailing bytes, bad literals and
  // numbers elsewhere in the text: the strict check covers every byte once.
  const auto fault = util::find_json_fault(std::string_view(view.data(), view.length()), m_members);
  if (!fault && m_read_members) {
    if (auto result = decode_members()) {
      return std::move(*result);
    }
  }
  if (fault && fault->what == util::k_json_trailing_bytes) {
    // One whole document and then more: read the document, so that its s is known. The bytes after it
    // still count as padding for simdjson.
    const simdjson::padded_string_view document(view.data(), fault->offset, view.capacity());
    return with_fault(decode_document(document), fault);
  }
  auto result = decode_document(view);
  if (!result.frame && fault && fault->what == util::k_json_not_utf8) {
    // simdjson refuses the whole text for one stray byte; read a copy with U+FFFD in its place, so that the
    // frame's s is still known. The views then point into that copy, which lives until the next decode.
    m_sanitized.clear();
    util::append_valid_utf8(m_sanitized, std::string_view(view.data(), view.length()));
    const std::size_t length = m_sanitized.size();
    m_sanitized.resize(length + simdjson::SIMDJSON_PADDING);
    result = decode_document(simdjson::padded_string_view(m_sanitized.data(), length, m_sanitized.size()));
  }
  return with_fault(std::move(result), fault);
}

// A strict document's envelope, read from the members the check listed: no second parse. Only the plain
// shape is read here (an integer op and s or a null s, t and id strings without escapes, d an object, names
// without escapes); anything else, errors included, is left to simdjson (nothing is returned), so the result
// is always the one decode_document gives.
std::optional<DecodeResult> FrameDecoder::decode_members() {
  // simdjson's on-demand parser refuses nesting past its own limit, which is close to the check's.
  constexpr std::size_t k_depth_left_to_simdjson = 1000;
  if (!m_members.is_object || m_members.too_many || m_members.max_depth >= k_depth_left_to_simdjson) {
    return std::nullopt;
  }
  Frame frame;
  bool have_op = false;
  for (std::size_t i = 0; i < m_members.count; ++i) {
    const auto& [key, value] = m_members.members[i];
    if (key == "op") {
      const auto op = integer_of<std::int64_t>(value);
      if (!op) {
        return std::nullopt;
      }
      frame.op = *op >= 0 && *op <= k_max_opcode ? static_cast<int>(*op) : -1;
      have_op = true;
    } else if (key == "s") {
      if (value == "null") {
        continue;
      }
      const auto s = value.front() == '-' ? std::nullopt : integer_of<std::uint64_t>(value);
      if (!s) {
        return std::nullopt;
      }
      frame.s = *s;
    } else if (key == "t" || key == "id") {
      const auto text = plain_string_of(value);
      if (!text) {
        return std::nullopt;
      }
      (key == "t" ? frame.t : frame.id) = *text;
    } else if (key == "d") {
      if (value.front() != '{') {
        return std::nullopt;
      }
      frame.d_raw = value;
    } else if (key.find('\\') != std::string_view::npos) {
      return std::nullopt;  // an escaped name may still be one of the above
    }
  }
  if (!have_op || !is_known_opcode(frame.op)) {
    return std::nullopt;
  }
  return decode_data(frame);
}

DecodeResult FrameDecoder::with_fault(DecodeResult result, const std::optional<util::JsonFault>& fault) {
  result.fault = fault;
  if (result.frame) {
    result.frame->fault = fault;
  }
  return result;
}

DecodeResult FrameDecoder::decode_document(const simdjson::padded_string_view& view) {
  DecodeResult result;
  ondemand::document doc;
  if (m_parser.iterate(view).get(doc) != simdjson::SUCCESS) {
    return result;
  }
  ondemand::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return result;
  }
  Frame frame;
  bool have_op = false;
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return result;
    }
    ondemand::value value = field.value();
    if (key == "op") {
      std::int64_t op = 0;
      if (value.get_int64().get(op) != simdjson::SUCCESS) {
        result.error = DecodeError::missing_op;
        return result;
      }
      // Out of range stays unknown: a cast would turn 4294967309 into 13.
      frame.op = op >= 0 && op <= k_max_opcode ? static_cast<int>(op) : -1;
      have_op = true;
    } else if (key == "s") {
      bool is_null = false;
      if (value.is_null().get(is_null) == simdjson::SUCCESS && is_null) {
        continue;
      }
      std::uint64_t s = 0;
      if (value.get_uint64().get(s) != simdjson::SUCCESS) {
        result.error = DecodeError::bad_field;
        return result;
      }
      frame.s = s;
    } else if (key == "t") {
      if (value.get_string().get(frame.t) != simdjson::SUCCESS) {
        result.error = DecodeError::bad_field;
        return result;
      }
    } else if (key == "id") {
      if (value.get_string().get(frame.id) != simdjson::SUCCESS) {
        result.error = DecodeError::bad_field;
        return result;
      }
    } else if (key == "d") {
      if (simdjson::to_json_string(value).get(frame.d_raw) != simdjson::SUCCESS) {
        return result;
      }
    } else {
      // Unknown fields are allowed (SPEC section 4) but must still be well-formed.
      std::string_view ignored;
      if (simdjson::to_json_string(value).get(ignored) != simdjson::SUCCESS) {
        return result;
      }
    }
  }
  if (!have_op) {
    result.error = DecodeError::missing_op;
    return result;
  }
  if (!is_known_opcode(frame.op)) {
    result.error = DecodeError::unknown_op;
    return result;
  }
  return decode_data(frame);
}

// `d` is read a second time only for the rare frames whose content the relay acts on; a Dispatch other than
// READY never gets here, so the hot path parses each frame once.
DecodeResult FrameDecoder::decode_data(Frame& frame) {
  DecodeResult result;
  const bool wants_data = frame.op == k_op_hello || frame.op == k_op_reconnect ||
                          frame.op == k_op_invalid_session ||
                          (frame.op == k_op_dispatch && frame.t == "READY");
  if (wants_data && !frame.d_raw.empty()) {
    // d_raw lies inside a padded buffer and is followed by at least the closing brace and the padding.
    const simdjson::padded_string_view view(frame.d_raw.data(), frame.d_raw.size(),
                                            frame.d_raw.size() + simdjson::SIMDJSON_PADDING);
    ondemand::document doc;
    if (m_data_parser.iterate(view).get(doc) != simdjson::SUCCESS) {
      result.error = DecodeError::bad_field;
      return result;
    }
    if (frame.op == k_op_hello) {
      std::uint64_t interval = 0;
      if (doc["heartbeat_interval"].get_uint64().get(interval) != simdjson::SUCCESS) {
        result.error = DecodeError::bad_field;
        return result;
      }
      frame.heartbeat_interval_ms = interval;
    } else if (frame.op == k_op_dispatch) {
      if (doc["session_id"].get_string().get(frame.session_id) != simdjson::SUCCESS) {
        result.error = DecodeError::bad_field;
        return result;
      }
    } else {
      bool flag = false;
      if (doc.get_bool().get(flag) == simdjson::SUCCESS) {
        frame.d_bool = flag;
      }
    }
  }
  result.frame = frame;
  return result;
}

}  // namespace relay::protocol

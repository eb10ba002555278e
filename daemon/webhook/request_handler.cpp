#include "webhook/request_handler.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>
#include <simdjson.h>

#include "util/json_writer.hpp"

namespace relay::webhook {
namespace {

// The ACK the platform expects for a delivered event (SPEC 11.5).
constexpr std::string_view k_ack = R"({"op":12,"d":0})";

// Observed plain_tokens are 20 alphanumerics or 32 hex digits. Anything else is refused, so that op 13 cannot
// be used to have the bot's key sign an attacker's bytes (SPEC 11.4).
bool plausible_plain_token(std::string_view token) {
  return !token.empty() && token.size() <= 64 && std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  });
}

bool all_digits(std::string_view text, std::size_t max_length) {
  return !text.empty() && text.size() <= max_length &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string_view to_string(Rejection rejection) {
  switch (rejection) {
    case Rejection::none:
      return "none";
    case Rejection::wrong_path:
      return "wrong_path";
    case Rejection::wrong_method:
      return "wrong_method";
    case Rejection::body_too_large:
      return "body_too_large";
    case Rejection::not_json:
      return "not_json";
    case Rejection::unsupported_op:
      return "unsupported_op";
    case Rejection::malformed_signature:
      return "malformed_signature";
    case Rejection::missing_signature:
      return "missing_signature";
    case Rejection::stale_timestamp:
      return "stale_timestamp";
    case Rejection::bad_signature:
      return "bad_signature";
    case Rejection::bad_validation:
      return "bad_validation";
    case Rejection::length_required:
      return "length_required";
    case Rejection::timed_out:
      return "timed_out";
  }
  return "unknown";
}

int status_for(Rejection rejection) {
  switch (rejection) {
    case Rejection::none:
      return 200;
    case Rejection::wrong_path:
      return 404;
    case Rejection::wrong_method:
      return 405;
    case Rejection::body_too_large:
      return 413;
    case Rejection::not_json:
    case Rejection::unsupported_op:
    case Rejection::malformed_signature:
    case Rejection::bad_validation:
      return 400;
    case Rejection::missing_signature:
    case Rejection::stale_timestamp:
    case Rejection::bad_signature:
      return 401;
    case Rejection::length_required:
      return 411;
    case Rejection::timed_out:
      return 408;
  }
  return 400;
}

RequestHandler::RequestHandler(HandlerSettings settings, WebhookKey key)
    : m_settings(std::move(settings)), m_key(key) {}

Rejection RequestHandler::check_head(std::string_view method, std::string_view path,
                                     std::optional<std::uint64_t> content_length) const {
  if (path != m_settings.path) {
    return Rejection::wrong_path;
  }
  if (method != "POST") {
    return Rejection::wrong_method;
  }
  if (!content_length) {
    return Rejection::length_required;
  }
  if (*content_length > m_settings.max_body) {
    return Rejection::body_too_large;
  }
  return Rejection::none;
}

WebhookReply RequestHandler::reject(Rejection rejection, std::string_view detail) const {
  WebhookReply reply;
  reply.status = status_for(rejection);
  reply.rejection = rejection;
  reply.body = fmt::format(R"({{"error":"{}","message":)", to_string(rejection));
  util::append_json_string(reply.body, detail);
  reply.body += "}";
  return reply;
}

Rejection RequestHandler::check_signature(const WebhookRequest& request, std::int64_t now_unix_s) const {
  if (!request.signature || !request.timestamp) {
    return Rejection::missing_signature;
  }
  std::int64_t timestamp = 0;
  const auto& text = *request.timestamp;
  if (!all_digits(text, 18) ||
      std::from_chars(text.data(), text.data() + text.size(), timestamp).ec != std::errc()) {
    return Rejection::stale_timestamp;
  }
  if (std::llabs(now_unix_s - timestamp) > m_settings.max_clock_skew_s) {
    return Rejection::stale_timestamp;
  }
  switch (m_key.verify(*request.signature, *request.timestamp, request.body)) {
    case SignatureError::none:
      return Rejection::none;
    case SignatureError::malformed:
      return Rejection::malformed_signature;
    case SignatureError::mismatch:
      return Rejection::bad_signature;
  }
  return Rejection::bad_signature;
}

WebhookReply RequestHandler::handle(const WebhookRequest& request, std::int64_t now_unix_s) {
  if (const Rejection early = check_head(request.method, request.path, request.body.size());
      early != Rejection::none) {
    return reject(early, "");
  }
  const auto decoded = request.body_capacity >= request.body.size() + simdjson::SIMDJSON_PADDING
                           ? m_decoder.decode_padded(request.body, request.body_capacity)
                           : m_decoder.decode(request.body);
  if (!decoded.frame) {
    if (decoded.fault && (request.signature || request.timestamp) &&
        check_signature(request, now_unix_s) == Rejection::none) {
      return acknowledge_malformed(*decoded.fault);
    }
    return reject(Rejection::not_json, protocol::describe(decoded.error));
  }
  const protocol::Frame& frame = *decoded.frame;
  if (frame.fault && frame.op != protocol::k_op_dispatch) {
    return reject(Rejection::not_json, frame.fault->what);
  }
  if (frame.op == protocol::k_op_callback_validation) {
    return validate_callback(request, frame, now_unix_s);
  }
  if (const Rejection signature = check_signature(request, now_unix_s); signature != Rejection::none) {
    return reject(signature, "");
  }
  if (frame.op != protocol::k_op_dispatch) {
    return reject(Rejection::unsupported_op, fmt::format("op {} is not delivered by webhook", frame.op));
  }
  if (frame.fault) {
    return acknowledge_malformed(*frame.fault);
  }
  WebhookReply reply;
  reply.body = k_ack;
  reply.event = frame;
  return reply;
}

// Signed, so the platform sent it: acknowledged (a retry would only bring the same bytes), never published.
WebhookReply RequestHandler::acknowledge_malformed(const util::JsonFault& fault) {
  WebhookReply reply;
  reply.body = k_ack;
  reply.malformed_event = fault;
  return reply;
}

WebhookReply RequestHandler::validate_callback(const WebhookRequest& request, const protocol::Frame& frame,
                                               std::int64_t now_unix_s) {
  // The platform's validation request may come unsigned; when it is signed, the signature must hold.
  if (request.signature || request.timestamp) {
    if (const Rejection signature = check_signature(request, now_unix_s); signature != Rejection::none) {
      return reject(signature, "");
    }
  }
  simdjson::dom::parser parser;
  simdjson::dom::element d;
  std::string_view plain_token;
  std::string_view event_ts;
  // An absent `d` is an empty view whose data() may be null, which simdjson would hand to memcpy.
  if (frame.d_raw.empty() ||
      parser.parse(frame.d_raw.data(), frame.d_raw.size()).get(d) != simdjson::SUCCESS ||
      d["plain_token"].get_string().get(plain_token) != simdjson::SUCCESS ||
      d["event_ts"].get_string().get(event_ts) != simdjson::SUCCESS) {
    return reject(Rejection::bad_validation, "op 13 needs string d.plain_token and d.event_ts");
  }
  if (!plausible_plain_token(plain_token) || !all_digits(event_ts, 18)) {
    return reject(Rejection::bad_validation, "op 13 with an implausible plain_token or event_ts");
  }
  WebhookReply reply;
  reply.body = R"({"plain_token":)";
  util::append_json_string(reply.body, plain_token);
  reply.body += R"(,"signature":")";
  reply.body += m_key.sign_hex(event_ts, plain_token);
  reply.body += "\"}";
  return reply;
}

}  // namespace relay::webhook

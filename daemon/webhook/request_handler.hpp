#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/frame.hpp"
#include "webhook/signature.hpp"

namespace relay::webhook {

struct HandlerSettings {
  std::string path = "/qq/webhook";
  std::size_t max_body = 1'048'576;
  std::int64_t max_clock_skew_s = 300;  // how far X-Signature-Timestamp may be from our clock
};

// Why a request was turned away; also the label of the rejection counters.
enum class Rejection {
  none,
  wrong_path,           // 404
  wrong_method,         // 405
  body_too_large,       // 413
  not_json,             // 400: not a JSON object, or no integer op
  unsupported_op,       // 400: a signed op other than 0 and 13
  malformed_signature,  // 400: X-Signature-Ed25519 is not 128 hex digits, or S is not canonical
  missing_signature,    // 401: no signature or timestamp header on an event
  stale_timestamp,      // 401: X-Signature-Timestamp is not a number, or too far from our clock
  bad_signature,        // 401: the signature does not verify
  bad_validation,       // 400: op 13 whose plain_token or event_ts does not look like the platform's
  length_required,      // 411: no valid Content-Length (the platform always sends one)
  timed_out,            // 408: the request did not arrive in time (set by the server)
};
inline constexpr std::size_t k_rejection_kinds = static_cast<std::size_t>(Rejection::timed_out) + 1;
std::string_view to_string(Rejection rejection);
int status_for(Rejection rejection);

struct WebhookRequest {
  std::string_view method;
  std::string_view path;  // without the query string
  std::optional<std::string_view> signature;
  std::optional<std::string_view> timestamp;
  std::string_view body;
  std::size_t body_capacity = 0;  // at least body.size() + SIMDJSON_PADDING lets the decoder parse in place
};

struct WebhookReply {
  int status = 200;
  std::string body;
  Rejection rejection = Rejection::none;
  // An op 0 Dispatch to publish. Its views point into the request body (or, when the body has no padding,
  // into the handler's copy of it) and are valid until the next handle().
  std::optional<protocol::Frame> event;
  // A signed op 0 whose body is not one JSON document in UTF-8: acknowledged, to be quarantined, not
  // published.
  std::optional<util::JsonFault> malformed_event;
};

// Everything about a webhook request except the socket (SPEC 11): the path and method, the size limit, the
// signature and its timestamp, op 13 validation and op 0 events. Pure: the caller supplies the clock.
class RequestHandler {
 public:
  RequestHandler(HandlerSettings settings, WebhookKey key);

  // What can be decided from the request line and headers alone, before any of the body is read.
  Rejection check_head(std::string_view method, std::string_view path,
                       std::optional<std::uint64_t> content_length) const;

  WebhookReply handle(const WebhookRequest& request, std::int64_t now_unix_s);

  const HandlerSettings& settings() const { return m_settings; }

 private:
  WebhookReply reject(Rejection rejection, std::string_view detail) const;
  static WebhookReply acknowledge_malformed(const util::JsonFault& fault);
  Rejection check_signature(const WebhookRequest& request, std::int64_t now_unix_s) const;
  WebhookReply validate_callback(const WebhookRequest& request, const protocol::Frame& frame,
                                 std::int64_t now_unix_s);

  HandlerSettings m_settings;
  WebhookKey m_key;
  protocol::FrameDecoder m_decoder;
};

}  // namespace relay::webhook

#include <catch2/catch.hpp>

#include "webhook/request_handler.hpp"

using relay::webhook::HandlerSettings;
using relay::webhook::Rejection;
using relay::webhook::RequestHandler;
using relay::webhook::WebhookKey;
using relay::webhook::WebhookReply;
using relay::webhook::WebhookRequest;

namespace {

constexpr std::int64_t k_now = 1'725'442'341;
const std::string k_secret = "DG5g3B4j9X2KOErG";

struct Harness {
  HandlerSettings settings;
  RequestHandler handler{settings, *WebhookKey::from_secret(k_secret)};
  WebhookKey key = *WebhookKey::from_secret(k_secret);
  std::string body;
  std::string signature;
  std::string timestamp = std::to_string(k_now);

  WebhookReply post(std::string text, bool sign = true, std::int64_t now = k_now) {
    body = std::move(text);
    signature = key.sign_hex(timestamp, body);
    WebhookRequest request;
    request.method = "POST";
    request.path = "/qq/webhook";
    if (sign) {
      request.signature = signature;
      request.timestamp = timestamp;
    }
    request.body = body;
    return handler.handle(request, now);
  }
};

constexpr const char* k_event =
    R"({"op":0,"id":"GROUP_AT_MESSAGE_CREATE:abc","t":"GROUP_AT_MESSAGE_CREATE","d":{"content":"你好"}})";

}  // namespace

TEST_CASE("a signed event is acknowledged with op 12 and handed over with its bytes") {
  Harness h;
  const auto reply = h.post(k_event);
  REQUIRE(reply.status == 200);
  REQUIRE(reply.body == R"({"op":12,"d":0})");
  REQUIRE(reply.event);
  REQUIRE(reply.event->t == "GROUP_AT_MESSAGE_CREATE");
  REQUIRE(reply.event->id == "GROUP_AT_MESSAGE_CREATE:abc");
}

TEST_CASE("events without a valid, fresh signature are refused") {
  Harness h;
  REQUIRE(h.post(k_event, false).rejection == Rejection::missing_signature);
  REQUIRE(h.post(k_event, false).status == 401);
  // Signed 10 minutes ago, with the default 5 minutes of allowed skew; also 10 minutes in the future.
  REQUIRE(h.post(k_event, true, k_now + 600).rejection == Rejection::stale_timestamp);
  REQUIRE(h.post(k_event, true, k_now - 600).rejection == Rejection::stale_timestamp);
  REQUIRE(h.post(k_event, true, k_now + 299).rejection == Rejection::none);

  WebhookRequest request;
  request.method = "POST";
  request.path = "/qq/webhook";
  request.body = k_event;
  const std::string timestamp = std::to_string(k_now);
  request.timestamp = timestamp;
  const std::string other = h.key.sign_hex(timestamp, "{}");
  request.signature = other;
  auto reply = h.handler.handle(request, k_now);
  REQUIRE(reply.rejection == Rejection::bad_signature);
  REQUIRE(reply.status == 401);
  REQUIRE_FALSE(reply.event);
  request.signature = "zz";
  REQUIRE(h.handler.handle(request, k_now).rejection == Rejection::malformed_signature);
  REQUIRE(h.handler.handle(request, k_now).status == 400);
  const std::string bad_time = "17254423x1";
  request.timestamp = bad_time;
  request.signature = other;
  REQUIRE(h.handler.handle(request, k_now).rejection == Rejection::stale_timestamp);
}

TEST_CASE("the path, the method and the size are checked before the body") {
  Harness h;
  REQUIRE(h.handler.check_head("POST", "/other", std::nullopt) == Rejection::wrong_path);
  REQUIRE(h.handler.check_head("GET", "/qq/webhook", std::nullopt) == Rejection::wrong_method);
  REQUIRE(h.handler.check_head("POST", "/qq/webhook", 1'048'577) == Rejection::body_too_large);
  REQUIRE(h.handler.check_head("POST", "/qq/webhook", 1'048'576) == Rejection::none);
  REQUIRE(h.handler.check_head("POST", "/qq/webhook", std::nullopt) == Rejection::length_required);
  REQUIRE(relay::webhook::status_for(Rejection::length_required) == 411);
  REQUIRE(relay::webhook::status_for(Rejection::wrong_path) == 404);
  REQUIRE(relay::webhook::status_for(Rejection::wrong_method) == 405);
  REQUIRE(relay::webhook::status_for(Rejection::body_too_large) == 413);
}

TEST_CASE("bodies that are not an envelope are refused with 400") {
  Harness h;
  for (const char* body : {"[1,2]", R"({"d":{}})", R"({"op":"0"})", R"({"op":99})"}) {
    INFO(body);
    const auto reply = h.post(body);
    REQUIRE(reply.rejection == Rejection::not_json);
    REQUIRE(reply.status == 400);
  }
  const auto heartbeat = h.post(R"({"op":1,"d":null})");
  REQUIRE(heartbeat.rejection == Rejection::unsupported_op);
  REQUIRE_FALSE(heartbeat.event);
}

TEST_CASE("op 13 answers the documented vector") {
  Harness h;
  const auto reply =
      h.post(R"({"d":{"plain_token":"Arq0D5A61EgUu4OxUvOp","event_ts":"1725442341"},"op":13})", false);
  REQUIRE(reply.status == 200);
  REQUIRE(
      reply.body ==
      R"({"plain_token":"Arq0D5A61EgUu4OxUvOp","signature":"87befc99c42c651b3aac0278e71ada338433ae26fcb24307bdc5ad38c1adc2d01bcfcadc0842edac85e85205028a1132afe09280305f13aa6909ffc2d652c706"})");
  REQUIRE_FALSE(reply.event);
}

TEST_CASE("op 13 is no signing oracle") {
  Harness h;
  // A signed op 13 must carry a good signature.
  WebhookRequest request;
  request.method = "POST";
  request.path = "/qq/webhook";
  const std::string body = R"({"d":{"plain_token":"Arq0D5A61EgUu4OxUvOp","event_ts":"1725442341"},"op":13})";
  request.body = body;
  const std::string timestamp = std::to_string(k_now);
  request.timestamp = timestamp;
  const std::string wrong = h.key.sign_hex(timestamp, "something else");
  request.signature = wrong;
  REQUIRE(h.handler.handle(request, k_now).rejection == Rejection::bad_signature);
  // Only short alphanumeric tokens and numeric timestamps are signed: never bytes that could form an event.
  for (
      const char* d :
      {R"({"plain_token":"{\"op\":0}","event_ts":"1725442341"})",
       R"({"plain_token":"abc def","event_ts":"1725442341"})",
       R"({"plain_token":"","event_ts":"1725442341"})",
       R"({"plain_token":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","event_ts":"1"})",
       R"({"plain_token":"Arq0","event_ts":"17254x"})", R"({"plain_token":"Arq0"})", R"("just a string")"}) {
    INFO(d);
    const auto reply = h.post(std::string(R"({"op":13,"d":)") + d + "}", false);
    REQUIRE(reply.rejection == Rejection::bad_validation);
    REQUIRE(reply.status == 400);
    REQUIRE(reply.body.find("signature") == std::string::npos);
  }
}

TEST_CASE(
    "a signed event that is not one JSON document is acknowledged, marked malformed, never handed over") {
  Harness h;
  for (const std::string& body :
       {std::string(k_event) + " trailing", std::string(R"({"op":0,"t":"X","d":{"a":tru}})"),
        std::string("{\"op\":0,\"t\":\"X\",\"d\":{\"a\":\"\xff\"}}"), std::string(""),
        std::string("not json"), std::string(R"({"op":0,"d":{})")}) {
    INFO(body);
    const auto reply = h.post(body);
    REQUIRE(reply.status == 200);
    REQUIRE(reply.rejection == Rejection::none);
    REQUIRE_FALSE(reply.event);
    REQUIRE(reply.malformed_event);
    // Unsigned, the same bytes are only an unauthenticated request: refused, nothing to keep.
    const auto unsigned_reply = h.post(body, false);
    REQUIRE(unsigned_reply.status >= 400);
    REQUIRE_FALSE(unsigned_reply.malformed_event);
  }
  const auto validation = h.post(R"({"op":13,"d":{"plain_token":"abc","event_ts":"1725442341"}} x)", false);
  REQUIRE(validation.rejection == Rejection::not_json);
}

TEST_CASE("an unsigned op 13 without d or with a null d is refused, not parsed") {
  // Without `d` the frame's d_raw is an empty view with a null pointer; it must not reach the JSON parser
  // (memcpy from null is undefined behaviour, which a RELAY_SANITIZE build reports).
  Harness h;
  for (const char* body : {R"({"op":13})", R"({"op":13,"d":null})", R"({"d":{},"op":13})"}) {
    INFO(body);
    const auto reply = h.post(body, false);
    REQUIRE(reply.rejection == Rejection::bad_validation);
    REQUIRE(reply.status == 400);
    REQUIRE(reply.body.find("signature") == std::string::npos);
  }
}

// Webhook delivery (SPEC 11): POST /_sim/webhook, its results, and the --webhook-url form of --rate.
#include <algorithm>
#include <ctime>
#include <iterator>

#include <fmt/format.h>

#include "simulator.hpp"
#include "util/json_writer.hpp"
#include "util/url.hpp"

namespace qqsim {

namespace {

using relay::util::append_json_string;

// The --rate generator holds off above this many queued POSTs, so that a slow receiver neither grows the
// queue without bound nor starves POST /_sim/webhook of room.
constexpr std::size_t k_rate_queue_high = 1000;

HttpResponse error_reply(int status, std::string_view message) {
  HttpResponse r{status, R"({"error":)"};
  append_json_text(r.body, message);
  r.body += '}';
  return r;
}

std::optional<SignatureMode> parse_mode(std::string_view text) {
  if (text == "valid") {
    return SignatureMode::valid;
  }
  if (text == "bad") {
    return SignatureMode::bad;
  }
  if (text == "missing") {
    return SignatureMode::missing;
  }
  if (text == "malformed") {
    return SignatureMode::malformed;
  }
  return std::nullopt;
}

std::string now_seconds() {
  return std::to_string(std::time(nullptr));
}

}  // namespace

HttpResponse Simulator::control_webhook_results(const HttpRequest& request, bool clear) {
  if (clear) {
    if (request.method != "POST") {
      return error_reply(405, "use POST");
    }
    webhook_.clear_results();
    return HttpResponse{200, R"({"cleared":true})"};
  }
  if (request.method != "GET") {
    return error_reply(405, "use GET");
  }
  return HttpResponse{200, webhook_.results_json()};
}

HttpResponse Simulator::control_webhook(const JsonObject& req) {
  auto delivery = std::make_shared<WebhookDelivery>();
  delivery->app_id = opt_.app_id;

  std::string url = opt_.webhook_url;
  if (req.has("url")) {
    const auto given = req.get_string("url");
    if (!given) {
      return error_reply(400, "url must be a string");
    }
    url = *given;
  }
  if (url.empty()) {
    return error_reply(400, "no url: pass \"url\" or start the sim with --webhook-url");
  }
  const auto parsed = relay::util::parse_url(url);
  if (!parsed || parsed->websocket) {
    return error_reply(400, "url must be an http:// or https:// URL");
  }
  delivery->url = url;

  if (req.has("signature")) {
    const auto mode = parse_mode(req.get_string("signature").value_or(""));
    if (!mode) {
      return error_reply(400, "signature must be valid, bad, missing or malformed");
    }
    delivery->mode = *mode;
  }
  if (req.has("timestamp")) {
    delivery->timestamp = req.get_int("timestamp");
    if (!delivery->timestamp || *delivery->timestamp < 0) {
      return error_reply(400, "timestamp must be a non-negative integer (unix seconds)");
    }
  }
  const std::int64_t repeat = req.has("repeat") ? req.get_int("repeat").value_or(0) : 1;
  if (repeat < 1 || static_cast<std::uint64_t>(repeat) > WebhookClient::k_max_queued) {
    return error_reply(400, "repeat must be an integer from 1 to 100000");
  }
  std::string secret = opt_.secret;
  if (req.has("secret")) {
    secret = req.get_string("secret").value_or("");
  }
  delivery->key = relay::webhook::WebhookKey::from_secret(secret);
  if (!delivery->key) {
    return error_reply(400, "secret must be a non-empty string");
  }

  const bool by_event = req.has("t") || req.has("d");
  const char* const modes[] = {"generate", "fixtures", "validation"};
  const auto chosen = static_cast<int>(by_event) + std::count_if(std::begin(modes), std::end(modes),
                                                                 [&](const char* m) { return req.has(m); });
  if (chosen != 1) {
    return error_reply(400, "give exactly one of t and d, generate, fixtures or validation");
  }

  // Everything is checked before the generated-event counter moves or anything is queued.
  std::vector<std::string> bodies;
  std::uint64_t generate = 0;
  std::size_t size = opt_.event_size;
  if (by_event) {
    const auto t = req.get_string("t");
    const JsonMember* d = req.find("d");
    if (!t || t->empty() || d == nullptr) {
      return error_reply(400, "t (a non-empty string) and d are both needed");
    }
    std::string id;
    if (req.has("id")) {
      const auto given = req.get_string("id");
      if (!given || given->empty()) {
        return error_reply(400, "id must be a non-empty string");
      }
      id = *given;
    }
    bodies.push_back(build_webhook_event(random_, *t, d->raw, id));
  } else if (req.has("generate")) {
    const auto n = req.get_int("generate");
    const auto given_size = req.has("size") ? req.get_int("size") : std::optional<std::int64_t>(size);
    if (!n || *n < 0 || static_cast<std::uint64_t>(*n) > WebhookClient::k_max_queued || !given_size ||
        *given_size < 0) {
      return error_reply(400, "generate must be an integer from 0 to 100000, and size non-negative");
    }
    generate = static_cast<std::uint64_t>(*n);
    size = static_cast<std::size_t>(*given_size);
  } else if (req.has("fixtures")) {
    if (req.get_bool("fixtures") != true) {
      return error_reply(400, "fixtures must be true");
    }
    const auto only = req.get_string("file");
    for (const Fixture& fixture : fixtures_) {
      if (!only || *only == fixture.file) {
        bodies.push_back(build_webhook_event(random_, fixture.t, fixture.d, {}));
      }
    }
  } else {
    const JsonMember* raw = req.find("validation");
    const auto validation = raw != nullptr && raw->kind == JsonKind::object
                                ? parse_json_object(raw->raw)
                                : relay::util::Unexpected(std::string("not an object"));
    if (!validation) {
      return error_reply(400, "validation must be an object");
    }
    const JsonObject& v = *validation;
    const auto plain_token = v.has("plain_token") ? v.get_string("plain_token") : random_.token(20);
    const auto event_ts = v.has("event_ts") ? v.get_string("event_ts") : now_seconds();
    if (!plain_token || !event_ts) {
      return error_reply(400, "plain_token and event_ts must be strings");
    }
    // The platform's documented example carries no signature headers.
    const bool is_signed = req.get_bool("signed").value_or(req.has("signature"));
    if (!is_signed) {
      delivery->mode = SignatureMode::missing;
    }
    std::string body = R"({"d":{"plain_token":)";
    append_json_string(body, *plain_token);
    body += R"(,"event_ts":)";
    append_json_string(body, *event_ts);
    body += R"(},"op":13})";
    bodies.push_back(std::move(body));
  }

  const std::uint64_t distinct = generate > 0 ? generate : bodies.size();
  const std::uint64_t scheduled = distinct * static_cast<std::uint64_t>(repeat);
  if (scheduled > WebhookClient::k_max_queued || !webhook_.has_room(scheduled)) {
    return error_reply(429, fmt::format("the webhook queue is full ({} queued, at most {})",
                                        webhook_.queued(), WebhookClient::k_max_queued));
  }
  for (std::uint64_t i = 0; i < generate; ++i) {
    bodies.push_back(build_generated_webhook(random_, ++webhook_generated_, size));
  }
  delivery->id = ++webhook_deliveries_;
  std::shared_ptr<const WebhookDelivery> shared = std::move(delivery);

  HttpResponse r{200, {}};
  r.body.reserve(64 + bodies.size() * (size + 64));
  fmt::format_to(std::back_inserter(r.body), R"({{"delivery":{},"scheduled":{},"bodies":[)", shared->id,
                 scheduled);
  bool first = true;
  for (std::string& body : bodies) {
    r.body += first ? "" : ",";
    first = false;
    append_json_string(r.body, body);
    for (std::int64_t n = 1; n < repeat; ++n) {
      webhook_.enqueue(WebhookPost{shared, body});
    }
    webhook_.enqueue(WebhookPost{shared, std::move(body)});
  }
  r.body += "]}";
  return r;
}

void Simulator::rate_tick_webhook(std::int64_t now) {
  if (!rate_delivery_) {
    auto delivery = std::make_shared<WebhookDelivery>();
    delivery->url = opt_.webhook_url;
    delivery->app_id = opt_.app_id;
    delivery->key = relay::webhook::WebhookKey::from_secret(opt_.secret);
    delivery->mode = delivery->key ? SignatureMode::valid : SignatureMode::missing;
    rate_delivery_ = std::move(delivery);
  }
  const auto expected =
      static_cast<std::uint64_t>(static_cast<double>(now - rate_started_us_) * opt_.rate / 1e6);
  std::uint64_t due = expected > rate_produced_ ? expected - rate_produced_ : 0;
  const auto max_burst = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(opt_.rate / 10));
  if (due > max_burst) {  // fell behind: do not try to catch up more than 100 ms
    rate_produced_ += due - max_burst;
    due = max_burst;
  }
  const std::size_t queued = webhook_.queued();
  const std::uint64_t room = queued < k_rate_queue_high ? k_rate_queue_high - queued : 0;
  for (std::uint64_t i = 0; i < std::min(due, room); ++i) {
    webhook_.enqueue(
        WebhookPost{rate_delivery_, build_generated_webhook(random_, ++webhook_generated_, opt_.event_size)});
  }
  rate_produced_ += due;  // what did not fit is dropped, as on a backed-up gateway connection
}

}  // namespace qqsim

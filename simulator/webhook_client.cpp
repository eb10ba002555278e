#include "webhook_client.hpp"

#include <ctime>
#include <iterator>
#include <utility>

#include <fmt/format.h>

#include "json_in.hpp"
#include "log.hpp"
#include "util/time.hpp"

namespace qqsim {

namespace {

constexpr relay::util::Millis k_timeout{10'000};
constexpr std::size_t k_max_response = 64u * 1024u;  // longer response bodies are cut, not failed

}  // namespace

WebhookClient::WebhookClient(std::size_t result_limit) : result_limit_(result_limit) {}

WebhookClient::~WebhookClient() {
  shutdown();
}

void WebhookClient::attach(struct lws_context* context) {
  context_ = context;
  // A vhost of its own keeps the client's connect timeout and TLS context apart from the gateway server's.
  relay::http::VhostOptions options;
  options.name = "webhook-client";
  options.connect_timeout_s = static_cast<unsigned>(k_timeout.count() / 1000) + 5;
  vhost_ = relay::http::create_client_vhost(context, options);
  if (vhost_ == nullptr) {
    log(LogLevel::error, "cannot create the webhook client vhost; webhook POSTs will fail");
  }
  if (!queue_.empty()) {
    schedule_pump();
  }
}

void WebhookClient::shutdown() {
  if (context_ == nullptr) {
    return;
  }
  lws_sul_cancel(&pump_timer_.sul);
  pump_scheduled_ = false;
  in_flight_.clear();  // each request cancels its connection
  queue_.clear();
  context_ = nullptr;
  vhost_ = nullptr;  // lws_context_destroy frees it
}

void WebhookClient::enqueue(WebhookPost post) {
  queue_.push_back(std::move(post));
  schedule_pump();
}

void WebhookClient::schedule_pump() {
  if (context_ == nullptr || pump_scheduled_) {
    return;
  }
  pump_scheduled_ = true;
  lws_sul_schedule(
      context_, 0, &pump_timer_.sul,
      [](lws_sorted_usec_list_t* sul) {
        // PumpTimer is standard-layout with the sul first.
        reinterpret_cast<PumpTimer*>(sul)->client->pump();
      },
      0);
}

// Runs from a timer, never inside an lws callback (enqueue is called from the control API's): connecting from
// there can call back re-entrantly.
void WebhookClient::pump() {
  pump_scheduled_ = false;
  while (in_flight_.size() < k_max_in_flight && !queue_.empty()) {
    auto post = in_flight_.emplace(in_flight_.end());
    post->spec = std::move(queue_.front());
    queue_.pop_front();
    start(post);
  }
}

void WebhookClient::start(std::list<Post>::iterator post) {
  const WebhookDelivery& delivery = *post->spec.delivery;
  const std::string& body = post->spec.body;
  relay::http::RequestSpec spec;
  spec.method = "POST";
  spec.url = delivery.url;
  spec.body = body;
  spec.timeout = k_timeout;
  spec.max_response_bytes = k_max_response;
  spec.cut_long_responses = true;
  // A test receiver has a throwaway self-signed certificate; the sim checks nothing about the peer.
  spec.verify_peer = false;
  spec.follow_redirects = false;  // report a 3xx like any other status
  spec.send_origin = false;
  spec.headers = {{"User-Agent", "QQBot-Callback"}, {"X-Bot-Appid", delivery.app_id}};
  if (delivery.mode != SignatureMode::missing) {
    const std::string timestamp = std::to_string(delivery.timestamp.value_or(std::time(nullptr)));
    std::string signature = "xyz";
    if (delivery.key && delivery.mode == SignatureMode::valid) {
      signature = delivery.key->sign_hex(timestamp, body);
    } else if (delivery.key && delivery.mode == SignatureMode::bad) {
      signature = delivery.key->sign_hex(timestamp, "!" + body);
    }
    spec.headers.emplace_back("X-Signature-Ed25519", std::move(signature));
    spec.headers.emplace_back("X-Signature-Timestamp", timestamp);
  }
  if (vhost_ == nullptr) {
    finish(post, relay::http::Response{0, {}, "cannot connect to " + delivery.url + ": no client vhost", {}});
    return;
  }
  post->request = std::make_unique<relay::http::Request>(
      context_, vhost_, std::move(spec),
      [this, post](relay::http::Response&& response) { finish(post, std::move(response)); });
}

// Runs from the request's delivery timer (or from pump), never inside an lws callback, so the request can go.
void WebhookClient::finish(std::list<Post>::iterator post, relay::http::Response&& response) {
  std::optional<std::string> error;
  if (response.status == 0) {
    error = std::move(response.error);
    log(LogLevel::info, "webhook POST to {} failed: {}", post->spec.delivery->url, *error);
  }
  ++finished_;
  results_.push_back(Result{post->spec.delivery->id, response.status, std::move(error),
                            std::move(response.body), std::move(post->spec.body),
                            relay::util::unix_micros_now()});
  while (results_.size() > result_limit_) {
    results_.pop_front();
  }
  in_flight_.erase(post);
  schedule_pump();
}

std::string WebhookClient::results_json() const {
  std::string out;
  out.reserve(64 + results_.size() * 512);
  auto it = std::back_inserter(out);
  out += R"({"results":[)";
  bool first = true;
  for (const Result& r : results_) {
    out += first ? "" : ",";
    first = false;
    fmt::format_to(it, R"({{"delivery":{},"status":{},"error":)", r.delivery, r.status);
    if (r.error) {
      append_json_text(out, *r.error);
    } else {
      out += "null";
    }
    out += R"(,"response":)";
    append_json_text(out, r.response);
    out += R"(,"body":)";
    append_json_text(out, r.body);
    fmt::format_to(it, R"(,"at_us":{}}})", r.at_us);
  }
  fmt::format_to(it, R"(],"pending":{},"finished":{}}})", pending(), finished_);
  return out;
}

}  // namespace qqsim

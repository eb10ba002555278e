#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <libwebsockets.h>

#include "http/client.hpp"
#include "webhook/signature.hpp"

namespace qqsim {

// How the POSTs of one delivery are signed (SPEC 11.3).
enum class SignatureMode : std::uint8_t {
  valid,
  bad,        // a well-formed signature, but of other bytes
  missing,    // no X-Signature-Ed25519 and no X-Signature-Timestamp
  malformed,  // X-Signature-Ed25519: xyz
};

// What every POST of one control request (or of the --rate generator) shares.
struct WebhookDelivery {
  std::uint64_t id = 0;
  std::string url;  // http:// or https://
  std::string app_id;
  SignatureMode mode = SignatureMode::valid;
  std::optional<std::int64_t> timestamp;  // unix seconds; default: when the POST starts
  std::optional<relay::webhook::WebhookKey> key;
};

struct WebhookPost {
  std::shared_ptr<const WebhookDelivery> delivery;
  std::string body;
};

// The sim's delivery policy over the daemon's HTTP client (relay::http): at most k_max_in_flight POSTs at
// once, the rest queued, the last results kept. Signatures are computed when a POST starts, so a large batch
// costs the control request nothing and the default timestamp is the sending time, as on the platform.
class WebhookClient {
 public:
  static constexpr std::size_t k_max_in_flight = 32;
  static constexpr std::size_t k_max_queued = 100000;

  explicit WebhookClient(std::size_t result_limit);
  ~WebhookClient();
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;

  // Creates the client vhost (on the context's service thread, before the loop runs).
  void attach(struct lws_context* context);
  // Abandons every POST.
  void shutdown();

  bool has_room(std::uint64_t posts) const { return queue_.size() + posts <= k_max_queued; }
  std::size_t queued() const { return queue_.size(); }
  // Queued plus in flight.
  std::size_t pending() const { return queue_.size() + in_flight_.size(); }
  void enqueue(WebhookPost post);

  // {"results":[…],"pending":N,"finished":N}
  std::string results_json() const;
  void clear_results() { results_.clear(); }

 private:
  struct Post {
    WebhookPost spec;
    std::unique_ptr<relay::http::Request> request;
  };
  struct PumpTimer {
    lws_sorted_usec_list_t sul;
    WebhookClient* client;
  };
  struct Result {
    std::uint64_t delivery = 0;
    int status = 0;
    std::optional<std::string> error;
    std::string response;
    std::string body;
    std::int64_t at_us = 0;
  };

  void schedule_pump();
  void pump();
  void start(std::list<Post>::iterator post);
  void finish(std::list<Post>::iterator post, relay::http::Response&& response);

  struct lws_context* context_ = nullptr;
  struct lws_vhost* vhost_ = nullptr;
  std::size_t result_limit_;
  std::deque<WebhookPost> queue_;
  std::list<Post> in_flight_;
  std::deque<Result> results_;
  std::uint64_t finished_ = 0;
  PumpTimer pump_timer_{{}, this};
  bool pump_scheduled_ = false;
};

}  // namespace qqsim

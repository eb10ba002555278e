#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ingress/event_loop.hpp"
#include "ingress/http_request.hpp"
#include "util/backoff.hpp"

namespace relay::ingress {

struct TokenSettings {
  std::string app_id;
  std::string client_secret;
  std::string token_url;
  unsigned max_rejections = 5;  // consecutive refusals of the secret before giving up for good
};

// Keeps a valid access token (SPEC section 3.1): fetches one, refreshes it inside the last minute of its life
// (when the platform issues the next one), retries failures with backoff, and never touches live connections.
class TokenSource {
 public:
  using OnToken = std::function<void(const std::string& authorization)>;
  using OnRefused = std::function<void(const std::string& why)>;

  TokenSource(EventLoop& loop, TokenSettings settings, OnToken on_token, OnRefused on_refused);

  void start();
  // Someone else who wants each new token (the OpenAPI forwarder shares the gateway's token).
  void also_notify(OnToken listener) { m_listeners.push_back(std::move(listener)); }
  // The platform refused the current token (close 4004, API code 11244): fetch again now.
  void invalidate();
  bool has_token() const { return !m_authorization.empty(); }
  const std::string& authorization() const { return m_authorization; }
  std::uint64_t refreshes() const { return m_refreshes; }
  std::uint64_t failures() const { return m_failures; }

 private:
  void fetch();
  void on_response(HttpResponse&& response);
  std::string refusal_detail(std::string_view body) const;
  void retry_later();

  EventLoop& m_loop;
  TokenSettings m_settings;
  OnToken m_on_token;
  OnRefused m_on_refused;
  std::vector<OnToken> m_listeners;
  std::unique_ptr<HttpRequest> m_request;
  Timer m_timer;
  std::string m_authorization;
  unsigned m_rejections = 0;
  std::uint64_t m_refreshes = 0;
  std::uint64_t m_failures = 0;
  util::Backoff m_backoff{util::Millis(1'000), util::Millis(60'000)};
  std::mt19937_64 m_random{std::random_device{}()};
};

}  // namespace relay::ingress

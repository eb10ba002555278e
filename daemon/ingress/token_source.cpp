#include "ingress/token_source.hpp"

#include <spdlog/spdlog.h>

#include "protocol/responses.hpp"
#include "util/strings.hpp"

namespace relay::ingress {

TokenSource::TokenSource(EventLoop& loop, TokenSettings settings, OnToken on_token, OnRefused on_refused)
    : m_loop(loop),
      m_settings(std::move(settings)),
      m_on_token(std::move(on_token)),
      m_on_refused(std::move(on_refused)),
      m_timer(loop, [this] { fetch(); }) {}

void TokenSource::start() {
  fetch();
}

void TokenSource::invalidate() {
  m_authorization.clear();
  if (!m_request) {
    m_timer.cancel();
    fetch();
  }
}

void TokenSource::fetch() {
  if (m_request) {
    return;
  }
  HttpRequestSpec spec;
  spec.method = "POST";
  spec.url = m_settings.token_url;
  spec.body = protocol::token_request_body(m_settings.app_id, m_settings.client_secret);
  m_request = std::make_unique<HttpRequest>(
      m_loop, std::move(spec), [this](HttpResponse&& response) { on_response(std::move(response)); });
}

void TokenSource::on_response(HttpResponse&& response) {
  m_request.reset();
  if (response.status == 200) {
    if (auto grant = protocol::parse_token_grant(response.body)) {
      m_rejections = 0;
      m_backoff.reset();
      ++m_refreshes;
      m_authorization = "QQBot " + grant->access_token;
      // A new token is only issued in the old one's last 60 s, so refresh inside that window; a short-lived
      // token is refreshed at half its life.
      const std::uint64_t lifetime = grant->expires_in_s;
      const std::uint64_t refresh_in = lifetime > 120 ? lifetime - 50 : lifetime / 2;
      m_timer.schedule_in(util::Millis(std::max<std::uint64_t>(refresh_in, 1) * 1000));
      spdlog::info("access token obtained, valid for {} s, next refresh in {} s", lifetime, refresh_in);
      m_on_token(m_authorization);
      for (const auto& listener : m_listeners) {
        listener(m_authorization);
      }
      return;
    }
    ++m_failures;
    spdlog::warn("token endpoint answered 200 without a usable access_token; retrying");
    retry_later();
    return;
  }
  ++m_failures;
  if (response.status >= 400 && response.status < 500) {
    const std::string detail = refusal_detail(response.body);
    ++m_rejections;
    spdlog::error("token endpoint refused the credentials (HTTP {}, {}), {} of {}", response.status, detail,
                  m_rejections, m_settings.max_rejections);
    if (m_rejections >= m_settings.max_rejections) {
      m_on_refused(fmt::format("the token endpoint keeps refusing bot.app_id {} and its secret (HTTP {}, {})",
                               m_settings.app_id, response.status, detail));
      return;
    }
  } else if (response.status == 0) {
    spdlog::warn("token request failed: {}; retrying", response.error);
  } else {
    spdlog::warn("token endpoint answered HTTP {}; retrying", response.status);
  }
  retry_later();
}

std::string TokenSource::refusal_detail(std::string_view body) const {
  // The body comes from the endpoint (or whatever sits in front of it) and is logged: a short excerpt only,
  // and never the secret, which an error page could echo from the request.
  std::string text(body);
  if (const auto error = protocol::parse_api_error(body)) {
    text = fmt::format("code {}: {}", error->code, error->message);
  }
  if (!m_settings.client_secret.empty()) {
    for (auto at = text.find(m_settings.client_secret); at != std::string::npos;
         at = text.find(m_settings.client_secret, at)) {
      text.replace(at, m_settings.client_secret.size(), "[secret]");
    }
  }
  return util::log_excerpt(text, 200);
}

void TokenSource::retry_later() {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto delay = std::max(util::Millis(200), m_backoff.next(unit(m_random)));
  m_timer.schedule_in(delay);
}

}  // namespace relay::ingress

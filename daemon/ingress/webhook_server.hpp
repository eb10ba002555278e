#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "ingress/event_loop.hpp"
#include "ingress/listener.hpp"
#include "protocol/frame.hpp"
#include "util/expected.hpp"
#include "util/log_throttle.hpp"
#include "webhook/request_handler.hpp"

struct lws_vhost;
struct ssl_ctx_st;

namespace relay::ingress {

struct WebhookServerSettings {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string tls_cert;  // both empty: plain HTTP
  std::string tls_key;
  unsigned request_timeout_s = 10;  // a request (headers and body) must arrive within this
  unsigned max_connections = 256;   // open at once; more are closed as they arrive
};

// Where verified webhook events go. Called on the event loop; views die when the call returns.
class WebhookSink {
 public:
  virtual ~WebhookSink() = default;
  virtual void on_webhook_event(const protocol::Frame& event, std::string_view body,
                                std::int64_t received_at_us) = 0;
  // A signed body that is not one valid JSON document: acknowledged, never published.
  virtual void on_invalid_webhook_body(const util::JsonFault& fault, std::string_view body) = 0;
};

struct WebhookCounters {
  std::uint64_t requests = 0;
  std::uint64_t events = 0;
  std::uint64_t validations = 0;
  std::array<std::uint64_t, webhook::k_rejection_kinds> rejected{};
};

// The HTTP(S) listener for platform callbacks, as one more libwebsockets vhost on the relay's event loop, so
// a request never waits on anything but its own bytes and shares no state with the gateway shards except the
// loop. Every decision is the RequestHandler's; this class only moves bytes and enforces time and size.
class WebhookServer {
 public:
  // Throws std::runtime_error naming the address when it cannot listen.
  WebhookServer(EventLoop& loop, WebhookServerSettings settings, webhook::RequestHandler handler,
                WebhookSink& sink);
  ~WebhookServer();
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  int port() const { return m_listener.port(); }
  const Listener& listener() const { return m_listener; }
  bool tls() const { return !m_settings.tls_cert.empty(); }
  const WebhookCounters& counters() const { return m_counters; }
  // Re-reads tls_cert and tls_key (same paths) for new connections; connections already open keep theirs.
  // On failure the listener keeps the certificate it had.
  util::Expected<void, std::string> reload_certificate();

  struct Request;  // one HTTP request in progress
  // For the libwebsockets callback only.
  void adopt_tls_context(ssl_ctx_st* context) { m_tls_context = context; }
  int on_callback(struct lws* wsi, int reason, void* user, void* in, std::size_t len);

 private:
  void begin(struct lws* wsi, Request& request, std::string_view path);
  void finish_body(struct lws* wsi, Request& request);
  void respond(struct lws* wsi, Request& request, int status, std::string body, bool close);
  int write_response(struct lws* wsi, Request& request);
  void count_rejection(webhook::Rejection rejection, std::string_view peer_detail);
  void expire_requests();
  void forget(Request* request);

  EventLoop& m_loop;
  WebhookServerSettings m_settings;
  webhook::RequestHandler m_handler;
  WebhookSink& m_sink;
  Listener m_listener;
  lws_vhost* m_vhost = nullptr;
  ssl_ctx_st* m_tls_context = nullptr;  // owned by lws; set while the vhost is created
  WebhookCounters m_counters;
  std::array<util::LogThrottle, webhook::k_rejection_kinds> m_rejection_logs;
  // Requests still arriving, checked against their deadline every second: libwebsockets re-arms its own
  // timeout on every body chunk, so a body that trickles in would otherwise never time out.
  std::unordered_set<Request*> m_arriving;
  Timer m_expiry_timer;
};

}  // namespace relay::ingress

#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <libwebsockets.h>

#include "http/resolver.hpp"
#include "util/time.hpp"

namespace relay::http {

// The libwebsockets protocol every request runs under. A context that makes requests lists protocol() among
// its protocols (or makes requests on a vhost from create_client_vhost, which does).
inline constexpr const char* k_protocol = "relay-http";
lws_protocols protocol();

struct VhostOptions {
  const char* name = "http-client";
  std::string ca_file;             // PEM file of the CAs to trust; empty: the system's (or $SSL_CERT_FILE)
  unsigned connect_timeout_s = 0;  // 0: the context's
};

// A client-only vhost of its own, so that its TLS trust and connect timeout do not touch the context's other
// vhosts. Create it before the loop runs; lws_context_destroy frees it. Null when libwebsockets refuses.
lws_vhost* create_client_vhost(lws_context* context, const VhostOptions& options);

struct RequestSpec {
  std::string method = "GET";
  std::string url;  // http:// or https://
  // Sent as given, after the Host line; names without the colon.
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent with Content-Type and Content-Length when set, even when empty.
  std::optional<std::string> body;
  std::string content_type = "application/json";
  util::Millis timeout{10'000};  // from the start to the whole response
  std::size_t max_response_bytes = 1 << 20;
  // A longer response fails the request, unless it is to be cut at the limit and reported as received.
  bool cut_long_responses = false;
  // False accepts a self-signed or expired certificate, or one naming another host: for test receivers only.
  bool verify_peer = true;
  // False reports a 3xx like any other status.
  bool follow_redirects = true;
  // Origin: http://<host>, as the relay has always sent to the REST API; the platform's webhook POSTs have
  // none.
  bool send_origin = true;
  // Response headers to keep (lower-case names, e.g. "content-type", "x-tps-trace-id").
  std::vector<std::string> response_headers;
};

// The outcome of a request: the HTTP status and body, or status 0 and why there is none (no connection, a
// timeout, a TLS failure, a response over the limit). A 4xx or 5xx is a response, not a failure.
struct Response {
  int status = 0;
  std::string body;
  std::string error;  // set only when status is 0
  // The response headers asked for in RequestSpec::response_headers that came, in that order.
  std::vector<std::pair<std::string, std::string>> headers;
};

// One HTTP/1.1 request on a libwebsockets context, driven by its service thread. `on_done` runs exactly once,
// from a timer on that thread and never inside a libwebsockets callback, so it may destroy the request;
// destroying the request earlier cancels it and `on_done` never runs.
class Request {
 public:
  using Callback = std::function<void(Response&&)>;
  // `vhost` null: the context's default vhost, which must list protocol().
  Request(lws_context* context, lws_vhost* vhost, RequestSpec spec, Callback on_done);
  ~Request();
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // For the protocol callback only.
  int handle(lws* wsi, int reason, void* in, std::size_t len);

  struct Timer {
    lws_sorted_usec_list_t sul;  // first: the timer callback gets its address
    Request* owner;
  };

 private:
  void connect(lws_vhost* vhost);
  void open(lws_vhost* vhost, const std::string& address);
  void finish(int status, std::string error, bool from_callback);
  void deliver();
  void schedule(Timer& timer, void (*fire)(lws_sorted_usec_list_t*), util::Millis delay);
  int write_body(lws* wsi);
  void keep_headers(lws* wsi);

  lws_context* m_context;
  RequestSpec m_spec;
  Callback m_on_done;
  lws* m_wsi = nullptr;
  int m_status = 0;
  bool m_done = false;
  bool m_body_sent = false;
  std::string m_received;
  std::vector<std::pair<std::string, std::string>> m_headers;
  std::string m_error;
  std::string m_host;
  std::string m_path;
  std::string m_host_header;
  std::string m_address;  // numeric: the name looked up by the Resolver, or as given
  int m_port = 0;
  bool m_tls = false;
  std::unique_ptr<Resolver::Lookup> m_lookup;  // while the host name is looked up
  Timer m_timeout{{}, this};
  Timer m_deliver{{}, this};
  Timer m_rearm{{}, this};
};

}  // namespace relay::http

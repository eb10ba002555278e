#include "ingress/webhook_server.hpp"

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <new>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "ingress/tls_files.hpp"
#include "util/time.hpp"

namespace relay::ingress {

struct WebhookServer::Request {
  lws* wsi = nullptr;
  util::TimePoint deadline;
  std::string method;
  std::string path;
  std::optional<std::string> signature;
  std::optional<std::string> timestamp;
  std::string body;  // reserved with simdjson padding, so the decoder parses in place
  bool receiving = false;
  int status = 0;
  std::string response;
  bool close_after = false;
  bool headers_sent = false;
};

namespace {

constexpr std::string_view k_signature_header = "x-signature-ed25519:";
constexpr std::string_view k_timestamp_header = "x-signature-timestamp:";
constexpr std::size_t k_max_header_value = 512;
constexpr std::size_t k_initial_body = 4096;

std::optional<std::string> custom_header(lws* wsi, std::string_view name) {
  const int length = lws_hdr_custom_length(wsi, name.data(), static_cast<int>(name.size()));
  if (length < 0 || static_cast<std::size_t>(length) > k_max_header_value) {
    return length < 0 ? std::nullopt : std::optional<std::string>("");  // oversized: certainly not valid
  }
  std::string value(static_cast<std::size_t>(length) + 1, '\0');
  if (lws_hdr_custom_copy(wsi, value.data(), static_cast<int>(value.size()), name.data(),
                          static_cast<int>(name.size())) < 0) {
    return std::nullopt;
  }
  value.resize(static_cast<std::size_t>(length));
  return value;
}

std::string_view method_name(int method) {
  switch (method) {
    case LWSHUMETH_GET:
      return "GET";
    case LWSHUMETH_POST:
      return "POST";
    case LWSHUMETH_OPTIONS:
      return "OPTIONS";
    case LWSHUMETH_PUT:
      return "PUT";
    case LWSHUMETH_PATCH:
      return "PATCH";
    case LWSHUMETH_DELETE:
      return "DELETE";
    case LWSHUMETH_HEAD:
      return "HEAD";
    default:
      return "OTHER";
  }
}

int webhook_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  auto* server = static_cast<WebhookServer*>(lws_vhost_user(lws_get_vhost(wsi)));
  if (server == nullptr) {
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
  if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS) {
    // Sent once while the vhost is created: `user` is its TLS context, kept for certificate reloads.
    server->adopt_tls_context(static_cast<ssl_ctx_st*>(user));
    return 0;
  }
  try {
    return server->on_callback(wsi, static_cast<int>(reason), user, in, len);
  } catch (const std::exception& error) {
    spdlog::error("webhook: {}", error.what());
    return -1;
  }
}

// Each connection's user area holds one pointer to its Request.
const lws_protocols k_webhook_protocols[] = {
    {"relay-webhook", webhook_callback, sizeof(void*), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

WebhookServer::WebhookServer(EventLoop& loop, WebhookServerSettings settings, webhook::RequestHandler handler,
                             WebhookSink& sink)
    : m_loop(loop),
      m_settings(std::move(settings)),
      m_handler(std::move(handler)),
      m_sink(sink),
      m_listener(loop,
                 ListenerSettings{"webhook", m_settings.host, m_settings.port, m_settings.max_connections}),
      m_expiry_timer(loop, [this] { expire_requests(); }) {
  lws_context_creation_info info{};
  info.vhost_name = "webhook";
  // m_listener accepts and hands connections over; lws still does TLS on them when the vhost has a
  // certificate. This must stay the only vhost with this "port": lws re-selects a request's vhost by its Host
  // header (and a TLS connection's certificate by SNI) among the vhosts that share a listening port.
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.protocols = k_webhook_protocols;
  info.user = this;
  info.alpn = "http/1.1";
  info.timeout_secs = m_settings.request_timeout_s;
  info.timeout_secs_ah_idle = m_settings.request_timeout_s;  // headers that never finish
  info.keepalive_timeout = static_cast<int>(m_settings.request_timeout_s);
  if (!m_settings.tls_cert.empty()) {
    info.ssl_cert_filepath = m_settings.tls_cert.c_str();
    info.ssl_private_key_filepath = m_settings.tls_key.c_str();
    // lws enables TLS on a vhost only when the vhost's own options ask for it.
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    // A client-initiated renegotiation costs the relay a handshake per request of the client's choosing.
    info.ssl_options_set = SSL_OP_NO_RENEGOTIATION;
  }
  m_vhost = lws_create_vhost(loop.context(), &info);
  if (m_vhost == nullptr) {
    throw std::runtime_error(
        tls() ? "cannot load webhook.tls_cert/tls_key: check that both are PEM files and that "
                "the key belongs to the certificate (openssl x509 -noout -pubkey -in CERT, "
                "openssl pkey -pubout -in KEY)"
              : "cannot create the libwebsockets vhost for webhooks");
  }
  m_listener.serve([vhost = m_vhost](int fd) { return lws_adopt_socket_vhost(vhost, fd); });
}

util::Expected<void, std::string> WebhookServer::reload_certificate() {
  if (m_tls_context == nullptr) {
    return util::Unexpected<std::string>(
        "the listener's TLS context is not known; a restart loads the new certificate");
  }
  const auto pair = CertificatePair::load(m_settings.tls_cert, m_settings.tls_key);
  if (!pair) {
    return util::Unexpected(pair.error());
  }
  if (auto installed = pair->install_into(m_tls_context); !installed) {
    return installed;
  }
  spdlog::info("webhook: TLS certificate re-read from {} (valid until {})", m_settings.tls_cert,
               pair->not_after());
  return {};
}

WebhookServer::~WebhookServer() {
  // Close what is still open while this object can take the callbacks: lws_vhost_destroy only marks the
  // vhost, and its connections would otherwise be closed (and call back here) when the context goes.
  for (lws* wsi : m_listener.connections()) {
    lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_SYNC);
  }
  if (m_vhost != nullptr) {
    lws_vhost_destroy(m_vhost);
  }
}

int WebhookServer::on_callback(lws* wsi, int reason, void* user, void* in, std::size_t len) {
  if (reason == LWS_CALLBACK_WSI_DESTROY) {
    m_listener.on_connection_closed(wsi);
    return 0;
  }
  auto** slot = static_cast<Request**>(user);
  if (slot == nullptr) {
    // lws allocates the user area only once a request's headers are complete; a connection that closes
    // before that (a half-sent request timing out) has none.
    return lws_callback_http_dummy(wsi, static_cast<lws_callback_reasons>(reason), user, in, len);
  }
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      return -1;  // no WebSocket or h2c upgrades: this listener serves one POST path and nothing else
    case LWS_CALLBACK_HTTP: {
      forget(*slot);
      delete *slot;
      *slot = new Request();
      (*slot)->wsi = wsi;
      begin(wsi, **slot, std::string_view(static_cast<const char*>(in), len));
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY: {
      if (*slot == nullptr) {
        return -1;
      }
      Request& request = **slot;
      if (!request.receiving) {
        return 0;  // a request already answered; its body is ignored
      }
      if (request.body.size() + len > m_handler.settings().max_body) {
        request.receiving = false;
        forget(&request);
        count_rejection(webhook::Rejection::body_too_large, "");
        respond(wsi, request, 413, R"({"error":"body_too_large"})", true);
        return 0;
      }
      request.body.append(static_cast<const char*>(in), len);
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      if (*slot != nullptr && (*slot)->receiving) {
        finish_body(wsi, **slot);
      }
      return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return *slot != nullptr ? write_response(wsi, **slot) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      // DROP_PROTOCOL comes when libwebsockets frees the user area without closing; either way the request
      // ends.
      if (*slot != nullptr) {
        if ((*slot)->receiving) {
          count_rejection(webhook::Rejection::timed_out, "connection closed before the request was complete");
        }
        forget(*slot);
        delete *slot;
        *slot = nullptr;
      }
      return 0;
    default:
      return lws_callback_http_dummy(wsi, static_cast<lws_callback_reasons>(reason), user, in, len);
  }
}

void WebhookServer::begin(lws* wsi, Request& request, std::string_view path) {
  ++m_counters.requests;
  char* uri = nullptr;
  int uri_length = 0;
  request.method = method_name(lws_http_get_uri_and_method(wsi, &uri, &uri_length));
  request.path = std::string(path);
  std::optional<std::uint64_t> content_length;
  if (const int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH); n > 0 && n < 32) {
    char text[32] = {};
    lws_hdr_copy(wsi, text, sizeof(text), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text, text + n, value);
    if (ec == std::errc() && end == text + n) {
      content_length = value;
    }
  }
  const webhook::Rejection early = m_handler.check_head(request.method, request.path, content_length);
  if (early != webhook::Rejection::none) {
    count_rejection(early, request.method + " " + request.path);
    // Closing afterwards spares reading a body nobody wants.
    respond(wsi, request, webhook::status_for(early),
            fmt::format(R"({{"error":"{}"}})", webhook::to_string(early)), true);
    return;
  }
  request.signature = custom_header(wsi, k_signature_header);
  request.timestamp = custom_header(wsi, k_timestamp_header);
  // What Content-Length claims is only a claim: the buffer grows with the bytes that actually arrive, so that
  // idle connections announcing large bodies reserve nothing much.
  request.body.reserve(std::min<std::uint64_t>(content_length.value_or(k_initial_body), k_initial_body) +
                       simdjson::SIMDJSON_PADDING);
  request.receiving = true;
  request.deadline = m_loop.now() + std::chrono::seconds(m_settings.request_timeout_s);
  if (m_arriving.empty()) {
    m_expiry_timer.schedule_in(util::Millis(1'000));
  }
  m_arriving.insert(&request);
  if (content_length == 0) {
    finish_body(wsi, request);
  }
}

void WebhookServer::finish_body(lws* wsi, Request& request) {
  request.receiving = false;
  forget(&request);
  if (request.body.capacity() < request.body.size() + simdjson::SIMDJSON_PADDING) {
    request.body.reserve(request.body.size() + simdjson::SIMDJSON_PADDING);
  }
  webhook::WebhookRequest input;
  input.method = request.method;
  input.path = request.path;
  if (request.signature) {
    input.signature = *request.signature;
  }
  if (request.timestamp) {
    input.timestamp = *request.timestamp;
  }
  input.body = request.body;
  input.body_capacity = request.body.capacity();
  const std::int64_t now_us = util::unix_micros_now();
  webhook::WebhookReply reply = m_handler.handle(input, now_us / 1'000'000);
  if (reply.rejection != webhook::Rejection::none) {
    count_rejection(reply.rejection, reply.body);
  } else if (reply.event) {
    ++m_counters.events;
    m_sink.on_webhook_event(*reply.event, request.body, now_us);
  } else if (reply.malformed_event) {
    m_sink.on_invalid_webhook_body(*reply.malformed_event, request.body);
  } else {
    ++m_counters.validations;
    spdlog::info("webhook: answered the platform's callback URL validation (op 13)");
  }
  respond(wsi, request, reply.status, std::move(reply.body), false);
}

void WebhookServer::respond(lws* wsi, Request& request, int status, std::string body, bool /*close*/) {
  request.status = status;
  request.response = std::move(body);
  // Every answer closes its connection. The platform sends one request per connection anyway, and
  // libwebsockets 4.1 mishandles a second request pipelined behind the first one on a kept-alive connection.
  request.close_after = true;
  request.headers_sent = false;
  lws_callback_on_writable(wsi);
}

int WebhookServer::write_response(lws* wsi, Request& request) {
  if (request.status == 0) {
    return 0;
  }
  if (!request.headers_sent) {
    std::array<unsigned char, LWS_PRE + 512> buffer{};
    unsigned char* start = buffer.data() + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buffer.data() + buffer.size();
    if (lws_add_http_common_headers(wsi, static_cast<unsigned>(request.status), "application/json",
                                    request.response.size(), &p, end) ||
        (request.close_after &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                      reinterpret_cast<const unsigned char*>("close"), 5, &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end)) {
      return -1;
    }
    request.headers_sent = true;
    lws_callback_on_writable(wsi);
    return 0;
  }
  std::string out(LWS_PRE, '\0');
  out += request.response;
  const int written = lws_write(wsi, reinterpret_cast<unsigned char*>(out.data()) + LWS_PRE,
                                request.response.size(), LWS_WRITE_HTTP_FINAL);
  request.status = 0;
  if (written < static_cast<int>(request.response.size()) || request.close_after) {
    return -1;
  }
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void WebhookServer::forget(Request* request) {
  m_arriving.erase(request);
}

void WebhookServer::expire_requests() {
  const auto now = m_loop.now();
  for (auto it = m_arriving.begin(); it != m_arriving.end();) {
    Request* request = *it;
    if (now >= request->deadline) {
      it = m_arriving.erase(it);
      // Closed from outside its own callback: libwebsockets does it on its next pass.
      lws_set_timeout(request->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
    } else {
      ++it;
    }
  }
  if (!m_arriving.empty()) {
    m_expiry_timer.schedule_in(util::Millis(1'000));
  }
}

void WebhookServer::count_rejection(webhook::Rejection rejection, std::string_view detail) {
  const auto kind = static_cast<std::size_t>(rejection);
  const std::uint64_t count = ++m_counters.rejected[kind];
  // One line per kind per 10 s at most: a flood of bad requests must not become a flood of log lines.
  if (m_rejection_logs[kind].allow(m_loop.now())) {
    spdlog::warn("webhook: rejected a request ({}, HTTP {}; {} so far){}{:.200}",
                 webhook::to_string(rejection), webhook::status_for(rejection), count,
                 detail.empty() ? "" : ": ", detail);
  }
}

}  // namespace relay::ingress

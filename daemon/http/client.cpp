#include "http/client.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/ssl.h>

#include "http/resolver.hpp"
#include "util/url.hpp"

namespace relay::http {
namespace {

int client_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      // Once per vhost listing this protocol: collecting twice finds nothing the second time.
      Resolver::wake(lws_get_context(wsi));
      return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
      break;
    default:
      // Vhost-level reasons pass other things as `user` (an SSL_CTX, for one): never a Request.
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
  auto* request = static_cast<Request*>(user);
  if (request == nullptr) {
    return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  }
  try {
    return request->handle(wsi, static_cast<int>(reason), in, len);
  } catch (...) {
    return -1;
  }
}

const lws_protocols k_protocols[] = {
    {k_protocol, client_callback, 0, 16384, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// The Host header value: the port is omitted when it is the scheme's default.
std::string host_header(const util::Url& url) {
  const int default_port = url.tls ? 443 : 80;
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string host = v6 ? "[" + url.host + "]" : url.host;
  return url.port == default_port ? host : host + ":" + std::to_string(url.port);
}

Request& owner_of(lws_sorted_usec_list_t* sul) {
  return *reinterpret_cast<Request::Timer*>(sul)->owner;  // Timer is standard-layout with the sul first
}

std::string seconds(util::Millis delay) {
  const auto ms = delay.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace

lws_protocols protocol() {
  return k_protocols[0];
}

lws_vhost* create_client_vhost(lws_context* context, const VhostOptions& options) {
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = k_protocols;
  info.vhost_name = options.name;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.ssl_client_options_set = SSL_OP_NO_RENEGOTIATION;
  info.client_ssl_ca_filepath = options.ca_file.empty() ? nullptr : options.ca_file.c_str();
  info.connect_timeout_secs = options.connect_timeout_s;
  return lws_create_vhost(context, &info);
}

Request::Request(lws_context* context, lws_vhost* vhost, RequestSpec spec, Callback on_done)
    : m_context(context), m_spec(std::move(spec)), m_on_done(std::move(on_done)) {
  connect(vhost);
}

void Request::connect(lws_vhost* vhost) {
  const auto url = util::parse_url(m_spec.url);
  if (!url || url->websocket) {
    finish(0, "not an http or https URL: " + m_spec.url, false);
    return;
  }
  m_host = url->host;
  m_path = url->path;
  m_host_header = host_header(*url);
  m_port = url->port;
  m_tls = url->tls;
  schedule(
      m_timeout,
      [](lws_sorted_usec_list_t* sul) {
        Request& request = owner_of(sul);
        const std::string after = " after " + seconds(request.m_spec.timeout);
        request.finish(
            0, request.m_lookup ? "timed out resolving " + request.m_host + after : "timed out" + after,
            false);
      },
      m_spec.timeout);
  Resolver* resolver = Resolver::needed_for(m_context, m_host);
  if (resolver == nullptr) {
    open(vhost, m_host);
    return;
  }
  // The name is looked up off the loop; the connection goes to the address, TLS still checks the name
  // (lws takes SNI and the certificate's name from info.host, not info.address).
  m_lookup = resolver->resolve(m_host, [this, vhost](Resolution&& resolution) {
    m_lookup.reset();
    if (resolution.address.empty()) {
      finish(0, resolution.error, false);
    } else {
      open(vhost, resolution.address);
    }
  });
}

void Request::open(lws_vhost* vhost, const std::string& address) {
  m_address = address;
  lws_client_connect_info info{};
  info.context = m_context;
  info.vhost = vhost;
  info.address = m_address.c_str();
  info.port = m_port;
  info.path = m_path.c_str();
  info.host = m_host_header.c_str();
  info.origin = m_spec.send_origin ? m_host_header.c_str() : nullptr;
  info.method = m_spec.method.c_str();
  if (m_tls) {
    info.ssl_connection = LCCSCF_USE_SSL;
    if (!m_spec.verify_peer) {
      info.ssl_connection |=
          LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
    }
  }
  if (!m_spec.follow_redirects) {
    info.ssl_connection |= LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
  }
  info.alpn = "http/1.1";  // keep requests off the h2 client
  info.local_protocol_name = k_protocol;
  info.protocol = k_protocol;
  info.userdata = this;
  info.pwsi = &m_wsi;
  if (!lws_client_connect_via_info(&info)) {
    m_wsi = nullptr;
    finish(0, "cannot connect to " + m_host_header, false);
  }
}

Request::~Request() {
  lws_sul_cancel(&m_timeout.sul);
  lws_sul_cancel(&m_deliver.sul);
  lws_sul_cancel(&m_rearm.sul);
  if (m_wsi != nullptr) {
    lws_set_wsi_user(m_wsi, nullptr);
    lws_set_timeout(m_wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
  }
}

void Request::schedule(Timer& timer, void (*fire)(lws_sorted_usec_list_t*), util::Millis delay) {
  lws_sul_schedule(m_context, 0, &timer.sul, fire, static_cast<lws_usec_t>(delay.count()) * LWS_US_PER_MS);
}

// The result is always delivered from a timer, never from inside a libwebsockets callback or the constructor,
// so the callback may destroy this request.
void Request::finish(int status, std::string error, bool from_callback) {
  if (m_done) {
    return;  // a connection error reported by the callback and again by the failed connect
  }
  m_done = true;
  m_status = status;
  m_error = std::move(error);
  m_lookup.reset();
  lws_sul_cancel(&m_timeout.sul);
  lws_sul_cancel(&m_rearm.sul);
  if (m_wsi != nullptr) {
    lws_set_wsi_user(m_wsi, nullptr);
    if (!from_callback) {
      lws_set_timeout(m_wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    }
    m_wsi = nullptr;
  }
  schedule(
      m_deliver, [](lws_sorted_usec_list_t* sul) { owner_of(sul).deliver(); }, util::Millis(0));
}

void Request::deliver() {
  Response response;
  response.status = m_status;
  response.body = std::move(m_received);
  response.headers = std::move(m_headers);
  response.error = std::move(m_error);
  auto callback = std::move(m_on_done);
  callback(std::move(response));  // may destroy this
}

void Request::keep_headers(lws* wsi) {
  constexpr int k_max_value = 1024;
  for (const std::string& name : m_spec.response_headers) {
    char value[k_max_value + 1];
    int length = -1;
    if (name == "content-type") {
      length = lws_hdr_copy(wsi, value, sizeof(value), WSI_TOKEN_HTTP_CONTENT_TYPE);
    } else {
      const std::string field = name + ":";
      const int n = lws_hdr_custom_length(wsi, field.c_str(), static_cast<int>(field.size()));
      if (n >= 0 && n <= k_max_value) {
        length =
            lws_hdr_custom_copy(wsi, value, sizeof(value), field.c_str(), static_cast<int>(field.size()));
      }
    }
    if (length > 0) {
      m_headers.emplace_back(name, std::string(value, static_cast<std::size_t>(length)));
    }
  }
}

int Request::write_body(lws* wsi) {
  if (m_body_sent || !m_spec.body) {
    return 0;
  }
  const std::string& body = *m_spec.body;
  std::vector<unsigned char> buffer(LWS_PRE + body.size());
  std::memcpy(buffer.data() + LWS_PRE, body.data(), body.size());
  m_body_sent = true;
  lws_client_http_body_pending(wsi, 0);
  const int written = lws_write(wsi, buffer.data() + LWS_PRE, body.size(), LWS_WRITE_HTTP_FINAL);
  if (written != static_cast<int>(body.size())) {
    finish(0, "cannot write the request body", true);
    return -1;
  }
  // Once this callback returns, lws gives the server the context's timeout_secs to answer, which may be
  // shorter than this request's timeout (the simulator's context uses 5 s for its own server). Lengthen it
  // for this connection, from a timer that runs after lws has set it; this request's own timer still decides.
  schedule(
      m_rearm,
      [](lws_sorted_usec_list_t* sul) {
        Request& request = owner_of(sul);
        if (request.m_wsi != nullptr) {
          const auto whole = std::chrono::duration_cast<std::chrono::seconds>(request.m_spec.timeout).count();
          lws_set_timeout(request.m_wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE,
                          static_cast<int>(whole) + 5);
        }
      },
      util::Millis(0));
  return 0;
}

int Request::handle(lws* wsi, int reason, void* in, std::size_t len) {
  if (m_done) {
    return lws_callback_http_dummy(wsi, static_cast<lws_callback_reasons>(reason), nullptr, in, len);
  }
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
      auto** cursor = static_cast<unsigned char**>(in);
      unsigned char* end = *cursor + len - 1;
      auto add = [&](const std::string& name, const std::string& value) {
        const std::string field = name + ":";
        return lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(field.c_str()),
                                           reinterpret_cast<const unsigned char*>(value.data()),
                                           static_cast<int>(value.size()), cursor, end) == 0;
      };
      bool fits = true;
      for (const auto& [name, value] : m_spec.headers) {
        fits = fits && add(name, value);
      }
      if (m_spec.body) {
        fits = fits && add("Content-Type", m_spec.content_type) &&
               add("Content-Length", std::to_string(m_spec.body->size()));
      }
      if (!fits) {
        finish(0, "request headers too long", true);
        return -1;
      }
      if (m_spec.body) {
        lws_client_http_body_pending(wsi, 1);
        lws_callback_on_writable(wsi);
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
      return write_body(wsi);
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
      m_status = static_cast<int>(lws_http_client_http_response(wsi));
      keep_headers(wsi);
      return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
      char buffer[LWS_PRE + 4096];
      char* cursor = buffer + LWS_PRE;
      int available = sizeof(buffer) - LWS_PRE;
      return lws_http_client_read(wsi, &cursor, &available) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
      if (m_received.size() + len > m_spec.max_response_bytes) {
        if (!m_spec.cut_long_responses) {
          finish(0, "response larger than " + std::to_string(m_spec.max_response_bytes) + " bytes", true);
          return -1;
        }
        len = m_spec.max_response_bytes - m_received.size();
      }
      m_received.append(static_cast<const char*>(in), len);
      return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
      finish(m_status, {}, true);
      return -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      m_wsi = nullptr;
      finish(0,
             in != nullptr ? std::string(static_cast<const char*>(in),
                                         strnlen(static_cast<const char*>(in), len != 0 ? len : 256))
                           : std::string("connection error"),
             true);
      return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
      m_wsi = nullptr;
      // Without Content-Length or chunking, the end of the response is the end of the connection.
      if (m_status != 0) {
        finish(m_status, {}, true);
      } else {
        finish(0, "connection closed before a response", true);
      }
      return 0;
    default:
      return lws_callback_http_dummy(wsi, static_cast<lws_callback_reasons>(reason), nullptr, in, len);
  }
}

}  // namespace relay::http

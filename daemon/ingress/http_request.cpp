#include "ingress/http_request.hpp"

#include <cstring>

#include "ingress/lws_callbacks.hpp"
#include "ingress/lws_util.hpp"
#include "util/url.hpp"

namespace relay::ingress {

HttpRequest::HttpRequest(EventLoop& loop, HttpRequestSpec spec, Callback on_done)
    : m_spec(std::move(spec)),
      m_on_done(std::move(on_done)),
      m_timeout(loop, [this] { finish(0, "timed out"); }),
      m_deliver(loop, [this] { deliver(); }) {
  const auto url = util::parse_url(m_spec.url);
  if (!url || url->websocket) {
    finish(0, "not an http or https URL: " + m_spec.url);
    return;
  }
  m_host = url->host;
  m_path = url->path;
  m_host_header = host_header(*url);
  lws_client_connect_info info{};
  info.context = loop.context();
  info.address = m_host.c_str();
  info.port = url->port;
  info.path = m_path.c_str();
  info.host = m_host_header.c_str();
  info.origin = m_host_header.c_str();
  info.ssl_connection = url->tls ? LCCSCF_USE_SSL : 0;
  info.method = m_spec.method.c_str();
  info.alpn = "http/1.1";  // keep REST calls off the h2 client
  info.local_protocol_name = "relay-http";
  info.protocol = "relay-http";
  info.userdata = this;
  info.pwsi = &m_wsi;
  m_timeout.schedule_in(m_spec.timeout);
  if (!lws_client_connect_via_info(&info)) {
    m_wsi = nullptr;
    finish(0, "cannot connect to " + m_host_header);
  }
}

HttpRequest::~HttpRequest() {
  if (m_wsi) {
    detach_and_kill(m_wsi);
  }
}

// The result is always delivered from a timer, never from inside a libwebsockets callback or the constructor,
// so the callback may destroy this request.
void HttpRequest::finish(int status, std::string error) {
  if (m_done) {
    return;
  }
  m_done = true;
  m_status = status;
  m_error = std::move(error);
  m_timeout.cancel();
  if (m_wsi) {
    detach_and_kill(m_wsi);
    m_wsi = nullptr;
  }
  m_deliver.schedule_in(util::Millis(0));
}

void HttpRequest::deliver() {
  HttpResponse response;
  response.status = m_status;
  response.body = std::move(m_received);
  response.error = std::move(m_error);
  auto callback = std::move(m_on_done);
  callback(std::move(response));  // may destroy this
}

int HttpRequest::handle(lws* wsi, int reason, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
      auto** cursor = static_cast<unsigned char**>(in);
      unsigned char* end = *cursor + len - 1;
      auto add = [&](const std::string& name, const std::string& value) {
        return lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                           reinterpret_cast<const unsigned char*>(value.data()),
                                           static_cast<int>(value.size()), cursor, end) == 0;
      };
      for (const auto& [name, value] : m_spec.headers) {
        if (!add(name + ":", value)) {
          return -1;
        }
      }
      if (!m_spec.body.empty()) {
        if (!add("content-type:", "application/json") ||
            !add("content-length:", std::to_string(m_spec.body.size()))) {
          return -1;
        }
        lws_client_http_body_pending(wsi, 1);
        lws_callback_on_writable(wsi);
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
      if (m_body_sent || m_spec.body.empty()) {
        return 0;
      }
      std::vector<unsigned char> buffer(LWS_PRE + m_spec.body.size());
      std::memcpy(buffer.data() + LWS_PRE, m_spec.body.data(), m_spec.body.size());
      m_body_sent = true;
      lws_client_http_body_pending(wsi, 0);
      const int written = lws_write(wsi, buffer.data() + LWS_PRE, m_spec.body.size(), LWS_WRITE_HTTP_FINAL);
      return written == static_cast<int>(m_spec.body.size()) ? 0 : -1;
    }
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
      m_status = static_cast<int>(lws_http_client_http_response(wsi));
      return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
      char buffer[LWS_PRE + 4096];
      char* cursor = buffer + LWS_PRE;
      int available = sizeof(buffer) - LWS_PRE;
      return lws_http_client_read(wsi, &cursor, &available) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
      if (m_received.size() + len > m_spec.max_response_bytes) {
        finish(0, "response larger than " + std::to_string(m_spec.max_response_bytes) + " bytes");
        return -1;
      }
      m_received.append(static_cast<const char*>(in), len);
      return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
      finish(m_status, {});
      return -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      m_wsi = nullptr;
      finish(0, in ? std::string(static_cast<const char*>(in),
                                 strnlen(static_cast<const char*>(in), len ? len : 256))
                   : std::string("connection error"));
      return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
      m_wsi = nullptr;
      if (m_status != 0) {
        finish(m_status, {});
      } else {
        finish(0, "connection closed before a response");
      }
      return 0;
    default:
      return lws_callback_http_dummy(wsi, static_cast<lws_callback_reasons>(reason), nullptr, in, len);
  }
}

int http_request_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  auto* request = static_cast<HttpRequest*>(user);
  if (!request) {
    return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  }
  try {
    return request->handle(wsi, static_cast<int>(reason), in, len);
  } catch (...) {
    return -1;
  }
}

}  // namespace relay::ingress

#include "ingress/status_server.hpp"

#include <libwebsockets.h>

#include <array>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace relay::ingress {
namespace {

struct Exchange {
  StatusResponse response;
  bool headers_sent = false;
};

int status_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  auto* server = static_cast<const StatusServer*>(lws_vhost_user(lws_get_vhost(wsi)));
  auto** slot = static_cast<Exchange**>(user);
  if (server == nullptr || slot == nullptr) {
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      return -1;
    case LWS_CALLBACK_HTTP: {
      char* uri = nullptr;
      int uri_length = 0;
      const int method = lws_http_get_uri_and_method(wsi, &uri, &uri_length);
      delete *slot;
      *slot = new Exchange();
      const std::string_view name = method == LWSHUMETH_GET ? "GET" : "OTHER";
      try {
        (*slot)->response = server->answer(name, std::string_view(static_cast<const char*>(in), len));
      } catch (const std::exception& error) {
        (*slot)->response = {500, "text/plain", std::string(error.what()) + "\n"};
      }
      lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: {
      Exchange* exchange = *slot;
      if (exchange == nullptr) {
        return -1;
      }
      if (!exchange->headers_sent) {
        std::array<unsigned char, LWS_PRE + 512> buffer{};
        unsigned char* start = buffer.data() + LWS_PRE;
        unsigned char* p = start;
        unsigned char* end = buffer.data() + buffer.size();
        if (lws_add_http_common_headers(wsi, static_cast<unsigned>(exchange->response.status),
                                        exchange->response.content_type.c_str(),
                                        exchange->response.body.size(), &p, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                         reinterpret_cast<const unsigned char*>("close"), 5, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end)) {
          return -1;
        }
        exchange->headers_sent = true;
        lws_callback_on_writable(wsi);
        return 0;
      }
      std::string out(LWS_PRE, '\0');
      out += exchange->response.body;
      lws_write(wsi, reinterpret_cast<unsigned char*>(out.data()) + LWS_PRE, exchange->response.body.size(),
                LWS_WRITE_HTTP_FINAL);
      return -1;  // one request per connection
    }
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      delete *slot;
      *slot = nullptr;
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

const lws_protocols k_status_protocols[] = {
    {"relay-status", status_callback, sizeof(void*), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

StatusServer::StatusServer(EventLoop& loop, const std::string& host, int port, Handler metrics,
                           Handler health)
    : m_metrics(std::move(metrics)), m_health(std::move(health)) {
  lws_context_creation_info info{};
  info.vhost_name = "status";
  info.port = port;
  info.iface = host.c_str();
  info.protocols = k_status_protocols;
  info.user = this;
  info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
  info.alpn = "http/1.1";
  info.timeout_secs = 5;
  info.timeout_secs_ah_idle = 5;
  info.keepalive_timeout = 5;
  m_vhost = lws_create_vhost(loop.context(), &info);
  if (m_vhost == nullptr) {
    throw std::runtime_error(fmt::format("cannot listen for metrics on {}:{}", host, port));
  }
  m_port = lws_get_vhost_listen_port(m_vhost);
}

StatusServer::~StatusServer() {
  if (m_vhost != nullptr) {
    lws_vhost_destroy(m_vhost);
  }
}

StatusResponse StatusServer::answer(std::string_view method, std::string_view path) const {
  if (path != "/metrics" && path != "/healthz") {
    return {404, "text/plain", "not found: try /metrics or /healthz\n"};
  }
  if (method != "GET") {
    return {405, "text/plain", "only GET\n"};
  }
  return path == "/metrics" ? m_metrics() : m_health();
}

}  // namespace relay::ingress

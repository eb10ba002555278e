#include "ingress/status_server.hpp"

#include <libwebsockets.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace relay::ingress {
namespace {

constexpr std::size_t k_max_head = 8 * 1024;
constexpr int k_exchange_timeout_s = 5;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

std::string render(const StatusResponse& response) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      response.status, reason_phrase(response.status), response.content_type, response.body.size(),
      response.body);
}

StatusResponse plain(int status, std::string body) {
  return {status, "text/plain", std::move(body)};
}

}  // namespace

std::string status_response_to(
    std::string_view head, const std::function<StatusResponse(std::string_view, std::string_view)>& answer) {
  // request-line = method SP request-target SP HTTP-version; the target in origin form ("/metrics?x")
  const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const auto first_space = line.find(' ');
  const auto second_space =
      first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  const std::string_view version =
      second_space == std::string_view::npos ? "" : line.substr(second_space + 1);
  if (first_space == 0 || (version != "HTTP/1.1" && version != "HTTP/1.0") || line[first_space + 1] != '/') {
    return render(plain(400, "bad request\n"));
  }
  const std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  target = target.substr(0, target.find('?'));
  try {
    return render(answer(method, target));
  } catch (const std::exception& error) {
    return render(plain(500, std::string(error.what()) + "\n"));
  }
}

StatusServer::StatusServer(EventLoop& loop, ListenerSettings listen, Handler metrics, Handler health)
    : m_loop(loop),
      m_metrics(std::move(metrics)),
      m_health(std::move(health)),
      m_listener(loop, std::move(listen)) {
  m_listener.serve([this](int fd) {
    lws* wsi = m_loop.adopt_raw_socket(fd, *this);
    if (wsi != nullptr) {
      m_exchanges.try_emplace(wsi);
      // The whole exchange, not each read: a client trickling bytes cannot hold the connection longer.
      lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, k_exchange_timeout_s);
    }
    return wsi;
  });
}

StatusServer::~StatusServer() {
  for (auto& [wsi, exchange] : m_exchanges) {
    lws_set_opaque_user_data(wsi, nullptr);
    lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
  }
}

int StatusServer::on_raw_socket(lws* wsi, int reason, void* in, std::size_t len) {
  const auto it = m_exchanges.find(wsi);
  if (it == m_exchanges.end()) {
    return reason == LWS_CALLBACK_RAW_ADOPT ? 0 : -1;  // adopted just now: the entry follows the return
  }
  Exchange& exchange = it->second;
  switch (reason) {
    case LWS_CALLBACK_RAW_RX:
      return on_bytes(wsi, exchange, std::string_view(static_cast<const char*>(in), len));
    case LWS_CALLBACK_RAW_WRITEABLE: {
      if (exchange.response.empty()) {
        return 0;
      }
      if (exchange.written) {
        return -1;  // everything sent (libwebsockets sends what it buffered before calling again): close
      }
      exchange.written = true;
      std::string out(LWS_PRE, '\0');
      out += exchange.response;
      if (lws_write(wsi, reinterpret_cast<unsigned char*>(out.data()) + LWS_PRE, exchange.response.size(),
                    LWS_WRITE_RAW) < 0) {
        return -1;
      }
      lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_RAW_CLOSE:
      m_exchanges.erase(it);
      m_listener.on_connection_closed(wsi);
      return 0;
    default:
      return 0;
  }
}

int StatusServer::on_bytes(lws* wsi, Exchange& exchange, std::string_view bytes) {
  if (!exchange.response.empty()) {
    return 0;  // one request per connection; what follows it is ignored
  }
  exchange.request.append(bytes);
  const auto end = exchange.request.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (exchange.request.size() > k_max_head) {
      exchange.response = render(plain(431, "request head too large\n"));
      lws_callback_on_writable(wsi);
    }
    return 0;
  }
  exchange.response = status_response_to(
      exchange.request.substr(0, end),
      [this](std::string_view method, std::string_view path) { return answer(method, path); });
  exchange.request.clear();
  exchange.request.shrink_to_fit();
  lws_callback_on_writable(wsi);
  return 0;
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

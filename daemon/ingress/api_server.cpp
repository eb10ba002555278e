#include "ingress/api_server.hpp"

#include <libwebsockets.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "ingress/tls_files.hpp"
#include "ingress/tls_session.hpp"

namespace relay::ingress {
namespace {

constexpr std::size_t k_write_piece = 64 * 1024;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

}  // namespace

std::string render_response(const ApiResponse& response, bool close) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", response.status, reason_phrase(response.status));
  for (const auto& [name, value] : response.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", response.body.size());
  if (close) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  out += response.body;
  return out;
}

struct ApiServer::Connection {
  Connection(lws* socket, http::ReaderLimits limits) : wsi(socket), reader(limits) {}
  lws* wsi;
  http::RequestReader reader;
  std::unique_ptr<TlsSession> tls;  // with HTTPS
  std::string unread;               // plaintext after a request, for the next one (pipelining)
  ExchangeId waiting_for = 0;       // a request handed to the handler, not answered yet
  std::string out;                  // bytes for the socket (ciphertext with TLS)
  std::size_t written = 0;
  bool close_after = false;
  bool answering = false;  // `out` holds an answer (not only a 100 Continue or handshake messages)
  bool continue_sent = false;
};

ApiServer::ApiServer(EventLoop& loop, ApiServerSettings settings, ApiHandler& handler)
    : m_loop(loop),
      m_settings(std::move(settings)),
      m_handler(handler),
      m_listener(loop,
                 ListenerSettings{"api", m_settings.host, m_settings.port, m_settings.max_connections}) {
  m_listener.serve([this](int fd) {
    lws* wsi = m_loop.adopt_raw_socket(fd, *this);
    if (wsi != nullptr) {
      http::ReaderLimits limits;
      limits.max_body = m_settings.max_body;
      auto connection = std::make_unique<Connection>(wsi, limits);
      if (m_settings.tls != nullptr) {
        connection->tls = std::make_unique<TlsSession>(m_settings.tls->get());
      }
      m_connections.emplace(wsi, std::move(connection));
      lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, static_cast<int>(m_settings.request_timeout_s));
    }
    return wsi;
  });
}

ApiServer::~ApiServer() {
  for (auto& [wsi, connection] : m_connections) {
    lws_set_opaque_user_data(wsi, nullptr);
    lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
  }
}

int ApiServer::on_raw_socket(lws* wsi, int reason, void* in, std::size_t len) {
  const auto it = m_connections.find(wsi);
  if (it == m_connections.end()) {
    return reason == LWS_CALLBACK_RAW_ADOPT ? 0 : -1;  // adopted just now: the entry follows the return
  }
  Connection& connection = *it->second;
  switch (reason) {
    case LWS_CALLBACK_RAW_RX: {
      if (!connection.tls) {
        return on_bytes(connection, std::string_view(static_cast<const char*>(in), len));
      }
      std::string plaintext;
      if (!connection.tls->receive(static_cast<const char*>(in), len, plaintext)) {
        spdlog::debug("api: closing a connection: {}", connection.tls->error());
        return -1;
      }
      if (connection.tls->has_output()) {
        connection.tls->take_output(connection.out);  // handshake messages
        lws_callback_on_writable(connection.wsi);
      }
      if (connection.tls->peer_closed()) {
        return -1;
      }
      return plaintext.empty() ? 0 : on_bytes(connection, plaintext);
    }
    case LWS_CALLBACK_RAW_WRITEABLE:
      return write_some(connection);
    case LWS_CALLBACK_RAW_CLOSE:
      if (connection.waiting_for != 0) {
        ++m_counters.abandoned;
        m_waiting.erase(connection.waiting_for);
      }
      m_connections.erase(it);
      m_listener.on_connection_closed(wsi);
      return 0;
    default:
      return 0;
  }
}

int ApiServer::on_bytes(Connection& connection, std::string_view bytes) {
  if (connection.waiting_for != 0 || connection.answering) {
    // Reading is paused while a request is answered; bytes already on their way are kept for later.
    if (connection.unread.size() + bytes.size() > m_settings.max_body + (64 << 10)) {
      return -1;
    }
    connection.unread.append(bytes);
    lws_rx_flow_control(connection.wsi, 0);
    return 0;
  }
  const std::size_t used = connection.reader.feed(bytes);
  using State = http::RequestReader::State;
  switch (connection.reader.state()) {
    case State::head:
      return 0;
    case State::body:
      if (connection.reader.request().expects_continue && !connection.continue_sent) {
        connection.continue_sent = true;
        queue(connection, "HTTP/1.1 100 Continue\r\n\r\n");
      }
      return 0;
    case State::failed: {
      ++m_counters.malformed;
      const std::string body =
          fmt::format(R"({{"code":{},"message":"{}"}})", connection.reader.error_status(), "bad request");
      answer(connection,
             ApiResponse{connection.reader.error_status(), {{"Content-Type", "application/json"}}, body},
             true);
      return 0;
    }
    case State::complete: {
      connection.unread.assign(bytes.substr(used));
      ++m_counters.requests;
      const ExchangeId id = m_next_id++;
      connection.waiting_for = id;
      m_waiting.emplace(id, &connection);
      lws_rx_flow_control(connection.wsi, 0);
      // No time limit while the answer is worked out: the forwarder's own timeout bounds it.
      lws_set_timeout(connection.wsi, NO_PENDING_TIMEOUT, 0);
      m_handler.on_request(id, connection.reader.request());
      return 0;
    }
  }
  return 0;
}

void ApiServer::respond(ExchangeId id, ApiResponse response) {
  const auto it = m_waiting.find(id);
  if (it == m_waiting.end()) {
    return;
  }
  Connection& connection = *it->second;
  m_waiting.erase(it);
  connection.waiting_for = 0;
  answer(connection, std::move(response), !connection.reader.request().keep_alive);
}

void ApiServer::answer(Connection& connection, ApiResponse response, bool close) {
  connection.close_after = close;
  connection.answering = true;
  queue(connection, render_response(response, close));
}

void ApiServer::queue(Connection& connection, std::string_view plaintext) {
  if (connection.tls) {
    if (connection.tls->send(plaintext)) {
      connection.tls->take_output(connection.out);
    }
  } else {
    connection.out.append(plaintext);
  }
  lws_callback_on_writable(connection.wsi);
}

int ApiServer::write_some(Connection& connection) {
  if (connection.out.empty()) {
    return 0;
  }
  const std::size_t piece = std::min(k_write_piece, connection.out.size() - connection.written);
  std::string buffer(LWS_PRE, '\0');
  buffer.append(connection.out, connection.written, piece);
  if (lws_write(connection.wsi, reinterpret_cast<unsigned char*>(buffer.data()) + LWS_PRE, piece,
                LWS_WRITE_RAW) < 0) {
    return -1;
  }
  connection.written += piece;
  if (connection.written < connection.out.size()) {
    lws_callback_on_writable(connection.wsi);
    return 0;
  }
  const bool was_answer = connection.answering;
  connection.out.clear();
  connection.written = 0;
  connection.answering = false;
  if (!was_answer) {
    return 0;  // a 100 Continue: the body follows
  }
  if (connection.close_after) {
    return -1;
  }
  // Ready for the next request: what arrived meanwhile first.
  connection.reader.reset();
  connection.continue_sent = false;
  lws_set_timeout(connection.wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                  static_cast<int>(m_settings.request_timeout_s));
  lws_rx_flow_control(connection.wsi, 1);
  if (!connection.unread.empty()) {
    std::string pending = std::move(connection.unread);
    connection.unread.clear();
    return on_bytes(connection, pending);
  }
  return 0;
}

}  // namespace relay::ingress

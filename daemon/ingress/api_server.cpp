#include "ingress/api_server.hpp"

#include <sys/socket.h>

#include <libwebsockets.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "ingress/send_buffer.hpp"
#include "ingress/tls_files.hpp"
#include "ingress/tls_session.hpp"

namespace relay::ingress {
namespace {

constexpr std::size_t k_write_piece = 64 * 1024;
// What a connection may hold of the client's bytes while it does not read them (an answer or an upgrade on
// its way, a paused stream), beyond the largest body.
constexpr std::size_t k_held_beyond_body = 64 * 1024;
// How long a closed stream's socket is read (and its bytes dropped) after its last byte was written, for the
// client to close its side.
constexpr int k_linger_s = 2;

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

std::string render_response(const ApiResponse& response, bool close, bool head_request) {
  const bool bodiless_status = (response.status >= 100 && response.status < 200) || response.status == 204;
  const bool with_body = !bodiless_status && !head_request;
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", response.status, reason_phrase(response.status));
  for (const auto& [name, value] : response.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (with_body) {
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", response.body.size());
  }
  if (close) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  if (with_body) {
    out += response.body;
  }
  return out;
}

struct ApiServer::Connection {
  Connection(lws* socket, http::ReaderLimits limits) : wsi(socket), reader(limits) {}
  lws* wsi;
  http::RequestReader reader;
  std::unique_ptr<TlsSession> tls;  // with HTTPS
  std::string unread;          // plaintext after a request, for the next one (pipelining) or for the stream
  ExchangeId waiting_for = 0;  // a request handed to the handler, not answered yet
  SendBuffer out;              // bytes for the socket (ciphertext with TLS)
  bool close_after = false;
  bool answering = false;  // `out` holds an answer (not only a 100 Continue or handshake messages)
  bool continue_sent = false;
  bool head_checked = false;           // refuse_before_body was asked for this request
  std::optional<ApiResponse> refused;  // its answer, sent once the discarded body has been read
  // After upgrade():
  StreamId stream = 0;
  StreamHandler* stream_handler = nullptr;
  bool stream_reading = false;  // the upgrade response went out: the client's bytes go to the handler
  bool stream_paused = false;
  bool stream_closing = false;  // close_stream() was called
  bool lingering = false;       // closed for writing after the last byte; reading what the client still sends
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
      arm_request_timeout(*m_connections.emplace(wsi, std::move(connection)).first->second);
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
      const std::string_view bytes(static_cast<const char*>(in), len);
      if (!connection.tls) {
        return connection.stream != 0 ? on_stream_bytes(connection, bytes) : on_bytes(connection, bytes);
      }
      std::string plaintext;
      if (!connection.tls->receive(bytes.data(), bytes.size(), plaintext)) {
        spdlog::debug("api: closing a connection: {}", connection.tls->error());
        return -1;
      }
      if (connection.tls->has_output()) {
        connection.tls->take_output(connection.out.append_target());  // handshake messages
        lws_callback_on_writable(connection.wsi);
      }
      if (connection.stream != 0) {
        // A stream gets what came before the client's close_notify.
        const int result = plaintext.empty() ? 0 : on_stream_bytes(connection, plaintext);
        return connection.tls->peer_closed() ? -1 : result;
      }
      if (connection.tls->peer_closed()) {
        return -1;
      }
      return plaintext.empty() ? 0 : on_bytes(connection, plaintext);
    }
    case LWS_CALLBACK_RAW_WRITEABLE:
      return write_some(connection);
    case LWS_CALLBACK_RAW_CLOSE: {
      if (connection.waiting_for != 0) {
        ++m_counters.abandoned;
        m_waiting.erase(connection.waiting_for);
      }
      const StreamId stream = connection.stream;
      StreamHandler* stream_handler = connection.stream_handler;
      if (stream != 0) {
        ++m_counters.streams_closed;
        m_streams.erase(stream);
      }
      m_connections.erase(it);
      m_listener.on_connection_closed(wsi);
      if (stream_handler != nullptr) {
        stream_handler->on_stream_closed(stream);  // last: the connection is gone from every map
      }
      return 0;
    }
    default:
      return 0;
  }
}

int ApiServer::on_bytes(Connection& connection, std::string_view bytes) {
  if (connection.waiting_for != 0 || connection.answering) {
    // Reading is paused while a request is answered; bytes already on their way are kept for later.
    if (connection.unread.size() + bytes.size() > m_settings.max_body + k_held_beyond_body) {
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
      if (!connection.head_checked) {
        connection.head_checked = true;
        connection.refused = m_handler.refuse_before_body(connection.reader.request());
        if (connection.refused) {
          ++m_counters.refused_before_body;
          if (connection.reader.request().expects_continue) {
            // The client waits before sending its body: it never comes, so the connection cannot go on.
            answer(connection, std::move(*connection.refused), true);
            connection.refused.reset();
            return 0;
          }
          connection.reader.discard_body();
        }
      }
      if (connection.refused) {
        return 0;
      }
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
      if (connection.refused) {
        lws_rx_flow_control(connection.wsi, 0);
        answer(connection, std::move(*connection.refused), !connection.reader.request().keep_alive);
        connection.refused.reset();
        return 0;
      }
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
  // The client has the request timeout to take each piece of the answer (write_some arms it again): one that
  // stops reading, while it pipelines requests say, gives its connection and its place back.
  arm_request_timeout(connection);
  queue(connection, render_response(response, close, connection.reader.request().method == "HEAD"));
}

void ApiServer::arm_request_timeout(Connection& connection) {
  lws_set_timeout(connection.wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                  static_cast<int>(m_settings.request_timeout_s));
}

bool ApiServer::queue(Connection& connection, std::string_view plaintext) {
  if (connection.tls) {
    if (!connection.tls->send(plaintext)) {
      spdlog::debug("api: closing a connection: {}", connection.tls->error());
      lws_set_timeout(connection.wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
      return false;
    }
    connection.tls->take_output(connection.out.append_target());
  } else {
    connection.out.append(plaintext);
  }
  lws_callback_on_writable(connection.wsi);
  return true;
}

int ApiServer::write_some(Connection& connection) {
  bool drained = false;
  if (!connection.out.empty()) {
    const std::string_view pending = connection.out.pending();
    const std::size_t piece = std::min(k_write_piece, pending.size());
    m_write_scratch.assign(LWS_PRE, '\0');
    m_write_scratch.append(pending.substr(0, piece));
    if (lws_write(connection.wsi, reinterpret_cast<unsigned char*>(m_write_scratch.data()) + LWS_PRE, piece,
                  LWS_WRITE_RAW) < 0) {
      return -1;
    }
    connection.out.consume(piece);
    if (connection.answering && connection.stream == 0) {
      arm_request_timeout(connection);  // the answer moves
    }
    drained = connection.out.empty();
    if (!drained) {
      lws_callback_on_writable(connection.wsi);
    }
  }
  if (connection.stream != 0) {
    return after_stream_write(connection, drained);
  }
  if (!connection.out.empty()) {
    return 0;
  }
  const bool was_answer = connection.answering;
  connection.answering = false;
  if (!was_answer) {
    return 0;  // a 100 Continue, handshake messages: the request goes on
  }
  if (connection.close_after) {
    return close_when_flushed(connection);
  }
  // Ready for the next request: what arrived meanwhile first.
  connection.reader.reset();
  connection.continue_sent = false;
  connection.head_checked = false;
  arm_request_timeout(connection);
  lws_rx_flow_control(connection.wsi, 1);
  if (!connection.unread.empty()) {
    std::string pending = std::move(connection.unread);
    connection.unread.clear();
    return on_bytes(connection, pending);
  }
  return 0;
}

int ApiServer::linger(Connection& connection) {
  if (connection.lingering) {
    return 0;
  }
  // Closing a socket that still holds unread bytes from the client makes the kernel send a reset and drop
  // what it has not sent yet, the close frame included: a client refused in the middle of a large message
  // (1009) would see a reset instead. So the relay only stops writing, and reads and drops what still comes
  // until the client closes, for a short while (RFC 6455 section 7.1.1: the server closes first).
  connection.lingering = true;
  ::shutdown(lws_get_socket_fd(connection.wsi), SHUT_WR);
  lws_rx_flow_control(connection.wsi, 1);
  lws_set_timeout(connection.wsi, PENDING_TIMEOUT_CLOSE_SEND, k_linger_s);
  return 0;
}

int ApiServer::close_when_flushed(Connection& connection) {
  if (lws_partial_buffered(connection.wsi) != 0) {
    // libwebsockets holds the end of the last piece and writes it before calling back again.
    lws_callback_on_writable(connection.wsi);
    return 0;
  }
  return -1;
}

// --- Streams
// -------------------------------------------------------------------------------------------------

ApiServer::Connection* ApiServer::stream(StreamId id) const {
  const auto it = m_streams.find(id);
  return it == m_streams.end() ? nullptr : it->second;
}

StreamId ApiServer::upgrade(ExchangeId id, std::string_view response_head, StreamHandler& handler) {
  const auto it = m_waiting.find(id);
  if (it == m_waiting.end()) {
    return 0;
  }
  Connection& connection = *it->second;
  m_waiting.erase(it);
  connection.waiting_for = 0;
  connection.stream = m_next_id++;
  connection.stream_handler = &handler;
  m_streams.emplace(connection.stream, &connection);
  ++m_counters.upgraded;
  // Reading stays off (since the request) until the head is written: bytes reach the handler from the loop,
  // after this returns, never before the answer that makes them a stream. No timeout: the protocol on the
  // stream has its own.
  queue(connection, response_head);
  return connection.stream;
}

bool ApiServer::send(StreamId id, std::string_view bytes) {
  Connection* connection = stream(id);
  if (connection == nullptr || connection->stream_closing) {
    return false;
  }
  m_counters.stream_bytes_out += bytes.size();
  return queue(*connection, bytes);
}

std::size_t ApiServer::buffered(StreamId id) const {
  const Connection* connection = stream(id);
  return connection == nullptr ? 0 : connection->out.size();
}

void ApiServer::close_stream(StreamId id, bool after_flush) {
  Connection* connection = stream(id);
  // A stream closing after its queue may still be cut at once (its client stopped reading): only a second
  // graceful close is nothing to do.
  if (connection == nullptr || (connection->stream_closing && after_flush)) {
    return;
  }
  connection->stream_closing = true;
  connection->unread.clear();
  if (after_flush) {
    // The next writable callback closes once `out` is written; a client that stops reading has this long.
    lws_set_timeout(connection->wsi, PENDING_TIMEOUT_CLOSE_SEND,
                    static_cast<int>(m_settings.request_timeout_s));
    lws_callback_on_writable(connection->wsi);
  } else {
    connection->out.clear();
    lws_set_timeout(connection->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
  }
}

void ApiServer::pause_stream(StreamId id, bool paused) {
  Connection* connection = stream(id);
  if (connection == nullptr || connection->stream_closing || connection->stream_paused == paused) {
    return;
  }
  connection->stream_paused = paused;
  if (!connection->stream_reading) {
    return;  // the first write turns reading on, or leaves it off
  }
  lws_rx_flow_control(connection->wsi, paused ? 0 : 1);
  if (!paused && !connection->unread.empty()) {
    lws_callback_on_writable(connection->wsi);  // what was held back goes to the handler from the loop
  }
}

int ApiServer::on_stream_bytes(Connection& connection, std::string_view bytes) {
  if (connection.stream_closing) {
    return 0;  // the handler is done with the stream
  }
  if (!connection.stream_reading || connection.stream_paused) {
    if (connection.unread.size() + bytes.size() > m_settings.max_body + k_held_beyond_body) {
      return -1;
    }
    connection.unread.append(bytes);
    lws_rx_flow_control(connection.wsi, 0);
    return 0;
  }
  if (!connection.unread.empty()) {
    // Bytes held back are on their way to the handler (a writable callback was asked for): these follow them.
    connection.unread.append(bytes);
    return 0;
  }
  m_counters.stream_bytes_in += bytes.size();
  connection.stream_handler->on_stream_bytes(connection.stream, bytes);
  return 0;
}

int ApiServer::after_stream_write(Connection& connection, bool drained) {
  if (connection.stream_closing) {
    if (!connection.out.empty() || lws_partial_buffered(connection.wsi) != 0) {
      if (connection.out.empty()) {
        lws_callback_on_writable(connection.wsi);  // libwebsockets writes the rest first
      }
      return 0;
    }
    return linger(connection);
  }
  if (!connection.stream_reading) {
    // The upgrade response (at the front, shorter than a piece) was just written: the stream begins.
    connection.stream_reading = true;
    if (!connection.stream_paused) {
      lws_rx_flow_control(connection.wsi, 1);
    }
  }
  if (!connection.stream_paused && !connection.unread.empty()) {
    const std::string held = std::move(connection.unread);
    connection.unread.clear();
    m_counters.stream_bytes_in += held.size();
    connection.stream_handler->on_stream_bytes(connection.stream, held);
  }
  if (drained && connection.out.empty() && !connection.stream_closing) {
    connection.stream_handler->on_stream_writable(connection.stream);
  }
  return 0;
}

}  // namespace relay::ingress

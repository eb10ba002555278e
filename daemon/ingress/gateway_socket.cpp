#include "ingress/gateway_socket.hpp"

#include <array>
#include <cstring>

#include <openssl/rand.h>
#include <simdjson.h>

#include "ingress/lws_callbacks.hpp"
#include "ingress/lws_util.hpp"
#include "websocket/frame_writer.hpp"

namespace relay::ingress {
namespace {
// A buffer that grew for a rare large message is given back rather than kept by an idle shard.
constexpr std::size_t k_retained_buffer_bytes = 16 * 1024;
constexpr int k_close_abnormal = 1006;
constexpr int k_close_no_status = 1005;
// How long a close frame waits for the server's answer before the connection is dropped.
constexpr int k_close_answer_timeout_s = 1;

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
  std::array<unsigned char, N> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(N)) != 1) {
    // Masks and keys need to be unpredictable to a proxy, not secret; never fail a connection over them.
    for (auto& byte : bytes) {
      byte = static_cast<unsigned char>(std::rand());
    }
  }
  return bytes;
}

// Decrypted bytes are handed on at once, so one buffer serves every connection of the (single) loop.
std::string& decrypted_scratch() {
  static std::string buffer;
  return buffer;
}

}  // namespace

GatewaySocket::GatewaySocket(EventLoop& loop, const util::Url& url, std::size_t max_message_bytes,
                             SocketHandler& handler, util::Millis setup_timeout)
    : m_handler(&handler),
      m_setup_timeout(setup_timeout),
      m_setup_timer(loop, [this] { on_setup_timeout(); }),
      m_wants_tls(url.tls),
      m_frames(max_message_bytes, simdjson::SIMDJSON_PADDING, k_retained_buffer_bytes) {
  m_host = url.host;
  m_path = url.path;
  m_host_header = host_header(url);
  m_port = url.port;
  m_setup_timer.schedule_in(m_setup_timeout);  // covers the name lookup too
  http::Resolver* resolver = http::Resolver::needed_for(loop.context(), m_host);
  if (resolver == nullptr) {
    open(loop.context(), m_host);
    return;
  }
  // Looked up off the loop; TlsSession still checks the certificate against the name, not the address.
  m_lookup = resolver->resolve(m_host, [this, context = loop.context()](http::Resolution&& resolution) {
    m_lookup.reset();
    if (resolution.address.empty()) {
      m_setup_timer.cancel();
      report_closed(k_close_abnormal, "connect failed: " + resolution.error);
    } else {
      open(context, resolution.address);
      if (!m_wsi) {
        m_setup_timer.cancel();
        report_closed(k_close_abnormal, "cannot start a connection");
      }
    }
  });
}

void GatewaySocket::open(lws_context* context, const std::string& address) {
  m_address = address;
  lws_client_connect_info info{};
  info.context = context;
  info.address = m_address.c_str();
  info.port = m_port;
  info.path = m_path.c_str();
  info.host = m_host_header.c_str();
  info.method = "RAW";
  info.local_protocol_name = "qq-gateway";
  info.userdata = this;
  info.pwsi = &m_wsi;
  if (!lws_client_connect_via_info(&info)) {
    m_wsi = nullptr;
    m_setup_timer.cancel();
  }
}

void GatewaySocket::on_setup_timeout() {
  if (m_lookup) {
    m_lookup.reset();
    report_closed(k_close_abnormal, "connect failed: timed out resolving " + m_host + " (" +
                                        std::to_string(m_setup_timeout.count()) + " ms)");
    return;
  }
  if (!m_wsi || m_phase == Phase::open || m_phase == Phase::closing) {
    return;
  }
  const char* stage = m_phase == Phase::connecting                         ? "connecting"
                      : m_wants_tls && !(m_tls && m_tls->handshake_done()) ? "in the TLS handshake"
                                                                           : "waiting for the upgrade answer";
  const std::string reason = "connect failed: timed out " + std::string(stage) + " (" +
                             std::to_string(m_setup_timeout.count()) + " ms)";
  lws* wsi = m_wsi;
  m_wsi = nullptr;
  detach_and_kill(wsi);
  report_closed(k_close_abnormal, reason);
}

GatewaySocket::~GatewaySocket() {
  if (m_wsi) {
    detach_and_kill(m_wsi);
  }
}

void GatewaySocket::send(std::string text) {
  if (!m_wsi || m_phase != Phase::open) {
    return;
  }
  queue_frame(websocket::Opcode::text, text);
}

void GatewaySocket::close(int code, std::string_view reason) {
  m_handler = nullptr;
  m_lookup.reset();
  if (!m_wsi || m_phase == Phase::closing) {
    return;
  }
  if (m_phase != Phase::open) {
    // No WebSocket yet to close politely.
    m_end_after_write = true;
    m_pending.clear();
    m_phase = Phase::closing;
    lws_callback_on_writable(m_wsi);
    return;
  }
  m_pending.clear();
  queue_close(websocket::close_payload(code, reason));
  m_phase = Phase::closing;
  lws_set_timeout(m_wsi, PENDING_TIMEOUT_CLOSE_ACK, k_close_answer_timeout_s);
}

void GatewaySocket::report_closed(int code, std::string_view reason) {
  SocketHandler* handler = m_handler;
  m_handler = nullptr;
  if (handler) {
    handler->on_closed(code, reason);  // the owner retires sockets, never deletes one in here
  }
}

void GatewaySocket::fail(int code, const std::string& reason) {
  // Close first, so that the close frame carries this code and not the one the handler's reaction would
  // close with.
  SocketHandler* handler = m_handler;
  close(code, reason);
  if (handler) {
    handler->on_closed(code, reason);
  }
}

std::string GatewaySocket::closed_reason() const {
  switch (m_phase) {
    case Phase::connecting:
      return "connect failed";
    case Phase::upgrading:
      return m_wants_tls && !(m_tls && m_tls->handshake_done())
                 ? "connect failed: the connection closed during the TLS handshake"
                 : "connect failed: the connection closed before the WebSocket upgrade was answered";
    default:
      return "connection lost without a close frame";
  }
}

void GatewaySocket::queue_plaintext(std::string_view bytes) {
  m_pending.append(bytes);
  if (m_wsi) {
    lws_callback_on_writable(m_wsi);
  }
}

void GatewaySocket::queue_frame(websocket::Opcode opcode, std::string_view payload) {
  std::string frame;
  websocket::append_client_frame(frame, opcode, payload, random_bytes<4>());
  queue_plaintext(frame);
}

void GatewaySocket::queue_close(const std::string& payload) {
  m_sent_close_code = payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                                static_cast<unsigned char>(payload[1])
                                          : k_close_no_status;
  queue_frame(websocket::Opcode::close, payload);
}

bool GatewaySocket::on_connected() {
  m_phase = Phase::upgrading;
  const websocket::UpgradeRequest request =
      websocket::make_upgrade_request(m_host_header, m_path, random_bytes<16>());
  m_upgrade.emplace(request.key);
  if (m_wants_tls) {
    m_tls = std::make_unique<TlsSession>(m_host);
    if (!m_tls->error().empty()) {
      report_closed(k_close_abnormal, "connect failed: " + m_tls->error());
      return false;
    }
  }
  queue_plaintext(request.text);
  return true;
}

bool GatewaySocket::on_bytes(const char* data, std::size_t size) {
  if (!m_tls) {
    return on_plaintext(data, size);
  }
  std::string& plaintext = decrypted_scratch();
  plaintext.clear();
  if (!m_tls->receive(data, size, plaintext)) {
    if (m_peer_close_code) {
      report_closed(m_peer_close_code, m_peer_close_reason);  // the close frame came first: it is the news
    } else {
      report_closed(k_close_abnormal,
                    m_phase == Phase::upgrading ? "connect failed: " + m_tls->error() : m_tls->error());
    }
    return false;
  }
  if (m_tls->has_output() || (m_tls->handshake_done() && !m_pending.empty())) {
    lws_callback_on_writable(m_wsi);
  }
  if (!plaintext.empty() && !on_plaintext(plaintext.data(), plaintext.size())) {
    return false;
  }
  // After close_notify nothing more can come: what was decrypted before it has been handled, and the
  // connection ends (RAW_CLOSE reports the close frame's code if one came).
  return !m_tls->peer_closed();
}

bool GatewaySocket::on_plaintext(const char* data, std::size_t size) {
  if (m_upgrade) {
    std::size_t used = 0;
    switch (m_upgrade->feed(data, size, used)) {
      case websocket::UpgradeResponse::Result::incomplete:
        return true;
      case websocket::UpgradeResponse::Result::refused:
        report_closed(k_close_abnormal, "connect failed: " + m_upgrade->error());
        return false;
      case websocket::UpgradeResponse::Result::accepted:
        break;
    }
    m_upgrade.reset();
    m_phase = Phase::open;
    m_setup_timer.cancel();
    if (m_handler) {
      m_handler->on_open();
    }
    data += used;
    size -= used;
  }
  if (size == 0 || m_frames.closed()) {
    return true;
  }
  if (!m_frames.feed(data, size, *this) && !m_frames.closed()) {
    fail(m_frames.error_code(), m_frames.error());
  }
  return true;
}

void GatewaySocket::on_message(std::string_view text, std::size_t capacity) {
  if (m_handler && m_phase == Phase::open) {
    m_handler->on_message(text, capacity);
  }
}

void GatewaySocket::on_invalid_text(std::string_view bytes, std::size_t capacity) {
  if (m_handler && m_phase == Phase::open) {
    m_handler->on_invalid_text(bytes, capacity);
  }
}

void GatewaySocket::on_ping(std::string_view payload) {
  if (m_phase == Phase::open) {
    queue_frame(websocket::Opcode::pong, payload);
  }
}

void GatewaySocket::on_close(int code, std::string_view reason) {
  m_peer_close_code = code;
  m_peer_close_reason = std::string(reason);
  if (m_phase != Phase::closing) {
    // Answer with the same code (RFC 6455 section 5.5.1), or with no code to a close without one (the reader
    // reports only codes valid on the wire, and 1005 for none).
    m_pending.clear();
    queue_close(code == k_close_no_status ? std::string() : websocket::close_payload(code, {}));
    m_phase = Phase::closing;
    // The server closes the TCP connection once it has our answer (RFC 6455 section 7.1.1); one that does
    // not is dropped after the timeout. Ending it here at once could lose our answer: a server that sees the
    // connection end before it has read the close frame reports an abnormal closure.
    lws_set_timeout(m_wsi, PENDING_TIMEOUT_CLOSE_ACK, k_close_answer_timeout_s);
  } else {
    m_end_after_write = true;  // the answer to our close: nothing more to wait for
    lws_callback_on_writable(m_wsi);
  }
}

bool GatewaySocket::write_pending(lws* wsi) {
  m_wire.assign(LWS_PRE, '\0');
  if (m_tls) {
    if (m_tls->handshake_done() && !m_pending.empty()) {
      if (!m_tls->send(m_pending)) {
        report_closed(k_close_abnormal, m_tls->error());
        return false;
      }
      m_pending.clear();
    }
    m_tls->take_output(m_wire);
  } else {
    m_wire += m_pending;
    m_pending.clear();
  }
  const std::size_t size = m_wire.size() - LWS_PRE;
  if (size > 0) {
    auto* bytes = reinterpret_cast<unsigned char*>(m_wire.data() + LWS_PRE);
    if (lws_write(wsi, bytes, size, LWS_WRITE_RAW) < static_cast<int>(size)) {
      return false;
    }
  }
  if (m_wire.capacity() > k_retained_buffer_bytes) {
    std::string().swap(m_wire);
  }
  return !m_end_after_write;
}

int GatewaySocket::handle(lws* wsi, int reason, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
      m_wsi = wsi;
      if (m_phase == Phase::closing) {
        return -1;  // closed while connecting
      }
      return on_connected() ? 0 : -1;
    case LWS_CALLBACK_RAW_RX:
      if (m_handler) {
        m_handler->on_bytes_arrived();
      }
      return on_bytes(static_cast<const char*>(in), len) ? 0 : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
      return write_pending(wsi) ? 0 : -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      m_wsi = nullptr;
      lws_set_wsi_user(wsi, nullptr);
      std::string why = "connect failed";
      if (in) {
        why += ": ";
        why += std::string(static_cast<const char*>(in), strnlen(static_cast<const char*>(in), 256));
      }
      report_closed(k_close_abnormal, why);
      return 0;
    }
    case LWS_CALLBACK_RAW_CLOSE:
      m_wsi = nullptr;
      lws_set_wsi_user(wsi, nullptr);
      if (m_peer_close_code) {
        report_closed(m_peer_close_code, m_peer_close_reason);
      } else {
        report_closed(k_close_abnormal, closed_reason());
      }
      return 0;
    default:
      return 0;
  }
}

int gateway_socket_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  return raw_client_callback<GatewaySocket>(wsi, reason, user, in, len);
}

}  // namespace relay::ingress

#include "ingress/gateway_socket.hpp"

#include <algorithm>
#include <cstring>

#include <simdjson.h>

#include "ingress/lws_callbacks.hpp"
#include "ingress/lws_util.hpp"

namespace relay::ingress {
namespace {
// A buffer that grew for a rare large message is given back rather than kept by an idle shard.
constexpr std::size_t k_retained_buffer_bytes = 16 * 1024;
constexpr int k_close_message_too_big = 1009;
constexpr int k_close_abnormal = 1006;
}  // namespace

GatewaySocket::GatewaySocket(EventLoop& loop, const util::Url& url, std::size_t max_message_bytes,
                             SocketHandler& handler)
    : m_handler(&handler), m_max_message_bytes(max_message_bytes) {
  m_host = url.host;
  m_path = url.path;
  m_host_header = host_header(url);
  lws_client_connect_info info{};
  info.context = loop.context();
  info.address = m_host.c_str();
  info.port = url.port;
  info.path = m_path.c_str();
  info.host = m_host_header.c_str();
  info.origin = m_host_header.c_str();
  info.ssl_connection = url.tls ? LCCSCF_USE_SSL : 0;
  info.local_protocol_name = "qq-gateway";
  info.ietf_version_or_minus_one = -1;
  info.userdata = this;
  info.pwsi = &m_wsi;
  if (!lws_client_connect_via_info(&info)) {
    m_wsi = nullptr;
  }
}

GatewaySocket::~GatewaySocket() {
  if (m_wsi) {
    detach_and_kill(m_wsi);
  }
}

void GatewaySocket::send(std::string text) {
  if (!m_wsi || m_close_code) {
    return;
  }
  m_outbox.push_back(std::move(text));
  lws_callback_on_writable(m_wsi);
}

void GatewaySocket::close(int code, std::string_view reason) {
  m_handler = nullptr;
  if (!m_wsi || m_close_code) {
    return;
  }
  m_close_code = code;
  m_close_reason = std::string(reason.substr(0, 120));
  m_outbox.clear();
  lws_callback_on_writable(m_wsi);
}

void GatewaySocket::report_closed(int code, std::string_view reason) {
  SocketHandler* handler = m_handler;
  m_handler = nullptr;
  if (handler) {
    handler->on_closed(code,
                       reason);  // may destroy nothing: the owner retires sockets, never deletes in here
  }
}

void GatewaySocket::release_buffer() {
  // Not `m_message = std::string()`: moving in a short (inline) string keeps the old allocation.
  std::string().swap(m_message);
}

int GatewaySocket::handle(lws* wsi, int reason, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (m_handler) {
        m_handler->on_open();
      }
      return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
      if (lws_is_first_fragment(wsi)) {
        m_message.clear();
        m_discarding = false;
      }
      if (m_discarding) {
        return 0;
      }
      if (m_message.size() + len > m_max_message_bytes) {
        m_discarding = true;
        release_buffer();
        report_closed(k_close_message_too_big, "message larger than gateway.max_frame_bytes");
        close(k_close_message_too_big, "message too big");
        return 0;
      }
      const std::size_t needed = m_message.size() + len + simdjson::SIMDJSON_PADDING;
      if (m_message.capacity() < needed) {
        // Doubling; but a message that fits in the retained size gets no more than that, so that medium
        // messages do not leave a buffer that is released and allocated again for every message.
        const std::size_t doubled = m_message.capacity() * 2;
        const std::size_t grown =
            needed <= k_retained_buffer_bytes ? std::min(doubled, k_retained_buffer_bytes) : doubled;
        m_message.reserve(std::max(needed, grown));
      }
      m_message.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        if (m_handler) {
          m_handler->on_message(m_message, m_message.capacity());
        }
        if (m_message.capacity() > k_retained_buffer_bytes) {
          release_buffer();
        }
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (m_close_code) {
        lws_close_reason(wsi, static_cast<lws_close_status>(m_close_code),
                         reinterpret_cast<unsigned char*>(m_close_reason.data()), m_close_reason.size());
        return -1;
      }
      if (m_outbox.empty()) {
        return 0;
      }
      const std::string& text = m_outbox.front();
      m_write_buffer.resize(LWS_PRE + text.size());
      std::memcpy(m_write_buffer.data() + LWS_PRE, text.data(), text.size());
      const int written = lws_write(wsi, m_write_buffer.data() + LWS_PRE, text.size(), LWS_WRITE_TEXT);
      m_outbox.pop_front();
      if (written < static_cast<int>(text.size())) {
        return -1;
      }
      if (!m_outbox.empty()) {
        lws_callback_on_writable(wsi);
      }
      return 0;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (len >= 2) {
        const auto* bytes = static_cast<const unsigned char*>(in);
        m_peer_close_code = (bytes[0] << 8) | bytes[1];
        m_peer_close_reason.assign(reinterpret_cast<const char*>(bytes + 2), len - 2);
      }
      return 0;
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
    case LWS_CALLBACK_CLIENT_CLOSED:
      m_wsi = nullptr;
      lws_set_wsi_user(wsi, nullptr);
      if (m_peer_close_code) {
        report_closed(m_peer_close_code, m_peer_close_reason);
      } else {
        report_closed(k_close_abnormal, "connection lost without a close frame");
      }
      return 0;
    default:
      return 0;
  }
}

int gateway_socket_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  auto* socket = static_cast<GatewaySocket*>(user);
  if (!socket) {
    return 0;
  }
  try {
    return socket->handle(wsi, static_cast<int>(reason), in, len);
  } catch (...) {
    return -1;
  }
}

}  // namespace relay::ingress

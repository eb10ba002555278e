#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/resolver.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/tls_session.hpp"
#include "util/url.hpp"
#include "websocket/frame_reader.hpp"
#include "websocket/frame_writer.hpp"
#include "websocket/handshake.hpp"

namespace relay::ingress {

// Receives what happens on one gateway WebSocket.
class SocketHandler {
 public:
  virtual ~SocketHandler() = default;
  virtual void on_open() = 0;
  // Bytes came in from the network; the messages they complete follow. Once per read, so that the time of
  // arrival is taken once for the dozens of messages a read can hold in a flood, not once per message.
  virtual void on_bytes_arrived() {}
  // One whole message. `capacity` bytes are readable from text.data(), at least SIMDJSON_PADDING past the
  // end, so the decoder needs no copy.
  virtual void on_message(std::string_view text, std::size_t capacity) = 0;
  // A text message that is not UTF-8; the connection fails with 1007 right after (see FrameHandler).
  virtual void on_invalid_text(std::string_view /*bytes*/, std::size_t /*capacity*/) {}
  // The connection ended: the peer's close code, or 1006 without one (including a failed connect).
  virtual void on_closed(int code, std::string_view reason) = 0;
};

// One WebSocket client connection to the gateway. libwebsockets connects the socket and moves its bytes
// (a raw connection); TLS (TlsSession), the upgrade and the framing (websocket/) are done here, because
// libwebsockets 4.1's client parses frames a byte at a time, which was a third of the relay's CPU in a flood.
// Messages larger than `max_message_bytes` close it (reported as 1009) before they can exhaust memory.
class GatewaySocket final : private websocket::FrameHandler {
 public:
  // Connecting, the TLS handshake and the upgrade together.
  static constexpr util::Millis k_default_setup_timeout{20'000};

  // A connection that is not open within `setup_timeout` is given up (reported as 1006).
  GatewaySocket(EventLoop& loop, const util::Url& url, std::size_t max_message_bytes, SocketHandler& handler,
                util::Millis setup_timeout = k_default_setup_timeout);
  ~GatewaySocket() override;
  GatewaySocket(const GatewaySocket&) = delete;
  GatewaySocket& operator=(const GatewaySocket&) = delete;

  void send(std::string text);
  // Sends a close frame with `code`; the handler hears nothing more from this socket.
  void close(int code, std::string_view reason);
  bool finished() const { return m_wsi == nullptr && !m_lookup; }
  // The code of the close frame this socket sent: 1005 for one without a code, 0 before any.
  int sent_close_code() const { return m_sent_close_code; }

  // For the protocol callback only.
  int handle(lws* wsi, int reason, void* in, std::size_t len);

 private:
  enum class Phase { connecting, upgrading, open, closing };

  void on_message(std::string_view text, std::size_t capacity) override;
  void on_invalid_text(std::string_view bytes, std::size_t capacity) override;
  void on_ping(std::string_view payload) override;
  void on_close(int code, std::string_view reason) override;

  void open(lws_context* context, const std::string& address);
  // False when the connection must end now.
  bool on_connected();
  // False when the connection must end now.
  bool on_bytes(const char* data, std::size_t size);
  bool on_plaintext(const char* data, std::size_t size);
  void queue_frame(websocket::Opcode opcode, std::string_view payload);
  void queue_plaintext(std::string_view bytes);
  void queue_close(const std::string& payload);
  bool write_pending(lws* wsi);
  void fail(int code, const std::string& reason);
  void report_closed(int code, std::string_view reason);
  void on_setup_timeout();
  std::string closed_reason() const;

  SocketHandler* m_handler;
  util::Millis m_setup_timeout;
  Timer m_setup_timer;
  lws* m_wsi = nullptr;
  Phase m_phase = Phase::connecting;
  std::string m_host;
  std::string m_path;
  std::string m_host_header;
  std::string m_address;  // numeric: the name looked up by the Resolver, or as given
  int m_port = 0;
  std::unique_ptr<http::Resolver::Lookup> m_lookup;  // while the host name is looked up
  std::unique_ptr<TlsSession> m_tls;
  bool m_wants_tls = false;
  std::optional<websocket::UpgradeResponse> m_upgrade;
  websocket::FrameReader m_frames;
  std::string m_pending;  // plaintext (request, frames) not yet handed to the socket
  std::string m_wire;     // LWS_PRE bytes of headroom, then what one write sends
  bool m_end_after_write = false;
  int m_peer_close_code = 0;
  int m_sent_close_code = 0;
  std::string m_peer_close_reason;
};

}  // namespace relay::ingress

#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "ingress/event_loop.hpp"
#include "util/url.hpp"

namespace relay::ingress {

// Receives what happens on one gateway WebSocket.
class SocketHandler {
 public:
  virtual ~SocketHandler() = default;
  virtual void on_open() = 0;
  // One whole message. `capacity` bytes are readable from text.data(), at least SIMDJSON_PADDING past the
  // end, so the decoder needs no copy.
  virtual void on_message(std::string_view text, std::size_t capacity) = 0;
  // The connection ended: the peer's close code, or 1006 without one (including a failed connect).
  virtual void on_closed(int code, std::string_view reason) = 0;
};

// One WebSocket client connection to the gateway. Messages larger than `max_message_bytes` close it
// (reported as 1009) before they can exhaust memory.
class GatewaySocket {
 public:
  GatewaySocket(EventLoop& loop, const util::Url& url, std::size_t max_message_bytes, SocketHandler& handler);
  ~GatewaySocket();
  GatewaySocket(const GatewaySocket&) = delete;
  GatewaySocket& operator=(const GatewaySocket&) = delete;

  void send(std::string text);
  // Sends a close frame with `code`; the handler hears nothing more from this socket.
  void close(int code, std::string_view reason);
  bool finished() const { return m_wsi == nullptr; }

  // For the protocol callback only.
  int handle(lws* wsi, int reason, void* in, std::size_t len);

 private:
  void report_closed(int code, std::string_view reason);
  void release_buffer();

  SocketHandler* m_handler;
  std::size_t m_max_message_bytes;
  lws* m_wsi = nullptr;
  std::string m_host;
  std::string m_path;
  std::string m_host_header;
  std::string m_message;
  bool m_discarding = false;
  std::deque<std::string> m_outbox;
  std::vector<unsigned char> m_write_buffer;
  int m_peer_close_code = 0;
  std::string m_peer_close_reason;
  int m_close_code = 0;
  std::string m_close_reason;
};

}  // namespace relay::ingress

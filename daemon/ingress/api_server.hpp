#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/request_reader.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/listener.hpp"

namespace relay::ingress {

struct ApiResponse {
  int status = 200;
  // Sent as given; Content-Length and Connection are added.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// One request waiting for its answer; stays valid while the connection is open.
using ExchangeId = std::uint64_t;

class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  // A whole request. Answer it now or later with ApiServer::respond(id, ...); the connection reads nothing
  // more until then.
  virtual void on_request(ExchangeId id, http::ServerRequest& request) = 0;
};

class TlsServerContext;

struct ApiServerSettings {
  std::string host = "127.0.0.1";
  int port = 8081;
  unsigned max_connections = 256;
  std::size_t max_body = 16 << 20;
  unsigned request_timeout_s = 30;  // a request, head and body, must arrive within this; also the idle limit
  TlsServerContext* tls = nullptr;  // HTTPS when set (outlives the server)
};

struct ApiServerCounters {
  std::uint64_t requests = 0;
  std::uint64_t malformed = 0;  // answered 4xx/5xx by the reader (bad framing, too large)
  std::uint64_t abandoned = 0;  // connections closed before their answer was sent
};

// The HTTP/1.1 listener of the OpenAPI forwarder: keep-alive connections, one request at a time each,
// read with http::RequestReader from raw sockets (not through a libwebsockets vhost, for the reason
// StatusServer gives). HTTPS with a TlsServerContext, over TlsSession; plain HTTP otherwise.
class ApiServer final : private RawSocketHandler {
 public:
  // Throws std::runtime_error naming the address when it cannot listen.
  ApiServer(EventLoop& loop, ApiServerSettings settings, ApiHandler& handler);
  ~ApiServer() override;
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Answers the request `id`; nothing happens when its client has gone.
  void respond(ExchangeId id, ApiResponse response);
  bool waiting(ExchangeId id) const { return m_waiting.contains(id); }

  int port() const { return m_listener.port(); }
  const Listener& listener() const { return m_listener; }
  const ApiServerCounters& counters() const { return m_counters; }

 private:
  struct Connection;
  int on_raw_socket(lws* wsi, int reason, void* in, std::size_t len) override;
  int on_bytes(Connection& connection, std::string_view bytes);
  void answer(Connection& connection, ApiResponse response, bool close);
  // Queues bytes for the client, through TLS when the connection has it.
  void queue(Connection& connection, std::string_view plaintext);
  int write_some(Connection& connection);

  EventLoop& m_loop;
  ApiServerSettings m_settings;
  ApiHandler& m_handler;
  std::unordered_map<lws*, std::unique_ptr<Connection>> m_connections;
  std::unordered_map<ExchangeId, Connection*> m_waiting;
  ExchangeId m_next_id = 1;
  ApiServerCounters m_counters;
  Listener m_listener;
};

// "HTTP/1.1 200 OK\r\n" + headers + Content-Length (+ Connection: close) + blank line + body.
std::string render_response(const ApiResponse& response, bool close);

}  // namespace relay::ingress

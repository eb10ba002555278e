#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  // The head of a request whose body is still to come (the request has no body yet): an answer refuses it
  // now, and its body is read and thrown away, never kept (or, with Expect: 100-continue, never asked for:
  // the connection closes after the answer). Nothing: the body is read and on_request follows.
  virtual std::optional<ApiResponse> refuse_before_body(const http::ServerRequest& /*head*/) {
    return std::nullopt;
  }
};

// A connection handed over to a byte stream after an upgrade (a WebSocket): unique for the server's life,
// never 0, distinct from every ExchangeId.
using StreamId = std::uint64_t;

// Receives the bytes of upgraded connections. Calls come from the event loop, never from inside an ApiServer
// method the handler called (upgrade, send, close_stream, pause_stream), so the handler may call any of them
// from its callbacks. It must stay alive until on_stream_closed for each of its streams, or until the server
// is destroyed.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // Plaintext from the client, in order: first what it sent after the upgrade request, then what follows.
  virtual void on_stream_bytes(StreamId id, std::string_view bytes) = 0;
  // Everything queued so far was written to the socket (a sender that bounds its backlog can go on).
  virtual void on_stream_writable(StreamId id) = 0;
  // The stream is gone, whatever the reason (the client closed, an error, close_stream): called exactly once
  // per stream while the server lives, and last; not called when the server itself is destroyed.
  virtual void on_stream_closed(StreamId id) = 0;
};

class TlsServerContext;

struct ApiServerSettings {
  std::string host = "127.0.0.1";
  int port = 8081;
  unsigned max_connections = 256;
  std::size_t max_body = 16 << 20;
  // A request, head and body, must arrive within this; also the idle limit, and how long a client may leave
  // an answer untaken.
  unsigned request_timeout_s = 30;
  TlsServerContext* tls = nullptr;  // HTTPS when set (outlives the server)
};

struct ApiServerCounters {
  std::uint64_t requests = 0;
  std::uint64_t malformed = 0;            // answered 4xx/5xx by the reader (bad framing, too large)
  std::uint64_t refused_before_body = 0;  // answered by ApiHandler::refuse_before_body
  std::uint64_t abandoned = 0;            // connections closed before their answer was sent
  std::uint64_t upgraded = 0;             // streams opened by upgrade()
  std::uint64_t streams_closed = 0;
  std::uint64_t stream_bytes_in = 0;   // plaintext received on streams
  std::uint64_t stream_bytes_out = 0;  // plaintext queued on streams with send()
};

// The HTTP/1.1 listener of the OpenAPI forwarder: keep-alive connections, one request at a time each,
// read with http::RequestReader from raw sockets (not through a libwebsockets vhost, for the reason
// StatusServer gives). HTTPS with a TlsServerContext, over TlsSession; plain HTTP otherwise.
class ApiServer final : private RawSocketHandler {
 public:
  // Throws std::runtime_error naming the address when it cannot listen.
  ApiServer(EventLoop& loop, ApiServerSettings settings, ApiHandler& handler);
  // Closes every connection, streams included, without calling their StreamHandler.
  ~ApiServer() override;
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Answers the request `id`; nothing happens when its client has gone.
  void respond(ExchangeId id, ApiResponse response);
  bool waiting(ExchangeId id) const { return m_waiting.contains(id); }

  // Answers the request `id` with `response_head` (the whole 101 response, sent as given) and hands the
  // connection to `handler` as a byte stream: no request timeout any more, the client's bytes (those that
  // came after the request first) go to handler.on_stream_bytes once the head is on its way. 0 when the
  // client has gone (nothing is sent and the handler is never called).
  StreamId upgrade(ExchangeId id, std::string_view response_head, StreamHandler& handler);
  // Queues bytes for the client (encrypted with TLS). False when the stream is gone or closing.
  bool send(StreamId id, std::string_view bytes);
  // Bytes queued and not yet handed to the socket (ciphertext with TLS); 0 for a stream that is gone. Not
  // counted: the end of the last 64 KiB piece when the kernel took only part of it (libwebsockets holds it).
  std::size_t buffered(StreamId id) const;
  // Ends the stream: at once, dropping what is queued, or after writing what is queued (within the request
  // timeout, for a client that stops reading). No bytes reach the handler after this; on_stream_closed
  // follows. A stream closing after its queue can still be cut at once with after_flush false.
  void close_stream(StreamId id, bool after_flush);
  // Stops (true) or resumes reading the client's bytes.
  void pause_stream(StreamId id, bool paused);
  std::size_t open_streams() const { return m_streams.size(); }

  int port() const { return m_listener.port(); }
  void stop_accepting() { m_listener.stop_accepting(); }
  const Listener& listener() const { return m_listener; }
  const ApiServerCounters& counters() const { return m_counters; }

 private:
  struct Connection;
  int on_raw_socket(lws* wsi, int reason, void* in, std::size_t len) override;
  int on_bytes(Connection& connection, std::string_view bytes);
  int on_stream_bytes(Connection& connection, std::string_view bytes);
  int after_stream_write(Connection& connection, bool drained);
  Connection* stream(StreamId id) const;
  void answer(Connection& connection, ApiResponse response, bool close);
  // The connection is closed unless something happens within the request timeout (from now).
  void arm_request_timeout(Connection& connection);
  // Queues bytes for the client, through TLS when the connection has it.
  // False (the connection is being closed) when TLS fails.
  bool queue(Connection& connection, std::string_view plaintext);
  int write_some(Connection& connection);
  // -1 (close now) unless libwebsockets still holds part of the last write.
  int close_when_flushed(Connection& connection);
  // A stream whose last byte was written: shut down for writing, read until the client closes (or briefly).
  int linger(Connection& connection);

  EventLoop& m_loop;
  ApiServerSettings m_settings;
  ApiHandler& m_handler;
  std::unordered_map<lws*, std::unique_ptr<Connection>> m_connections;
  std::unordered_map<ExchangeId, Connection*> m_waiting;
  std::unordered_map<StreamId, Connection*> m_streams;
  std::string m_write_scratch;  // LWS_PRE + one piece, reused for every write
  ExchangeId m_next_id = 1;
  ApiServerCounters m_counters;
  Listener m_listener;
};

// "HTTP/1.1 200 OK\r\n" + headers + Content-Length (+ Connection: close) + blank line + body. A 1xx or 204
// has neither Content-Length nor body (RFC 9110 8.6), nor has the answer to a HEAD: the length of what a GET
// would get is not known here, and no Content-Length is better than a wrong one.
std::string render_response(const ApiResponse& response, bool close, bool head_request = false);

}  // namespace relay::ingress

#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/resolver.hpp"
#include "http/response_reader.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/http_request.hpp"
#include "ingress/tls_session.hpp"
#include "util/url.hpp"

namespace relay::ingress {

struct UpstreamPoolSettings {
  std::size_t max_idle = 64;          // idle connections kept, all origins together
  util::Millis idle_timeout{30'000};  // an idle connection is closed after this long
};

struct UpstreamCounters {
  std::uint64_t new_connections = 0;     // requests that opened a connection
  std::uint64_t reused_connections = 0;  // requests sent on a kept-alive one
  std::uint64_t stale_retries = 0;       // requests sent again because a reused connection was already gone
};

class UpstreamPool;
class UpstreamRequest;

// One HTTP/1.1 client connection of the pool: libwebsockets connects the socket and moves its bytes (a raw
// connection, like GatewaySocket); TLS (TlsSession, the host verified) and HTTP (http::ResponseReader) are
// done here. One request at a time: no pipelining.
class UpstreamConnection {
 public:
  UpstreamConnection(EventLoop& loop, UpstreamPool& pool, const util::Url& origin, std::string origin_key);
  ~UpstreamConnection();
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // Sends one request (`bytes`: head and body) and reports to `user`; the connection must be fresh or idle.
  void start(UpstreamRequest& user, std::shared_ptr<const std::string> bytes, bool head_request,
             std::size_t max_body);
  // Back in the pool: no user; the idle timer runs.
  void park(util::Millis idle_timeout);
  // Done with for good: no user, no timer (the connection is already killed).
  void park_dead();
  // True when an idle connection can carry a request: open, and nothing (no EOF, no stray byte) waiting.
  bool usable_when_idle() const;
  bool dead() const { return m_dead; }
  // The request was wholly handed to the socket (so the server may have received all of it).
  bool request_written() const { return m_written; }
  const std::string& origin_key() const { return m_origin_key; }
  http::ResponseReader& reader() { return m_reader; }
  // A complete answer after which the connection may carry another request.
  bool reusable() const;
  const std::string& error() const { return m_error; }
  // The host name is still being looked up.
  bool resolving() const { return m_lookup != nullptr; }
  // Ends the connection now (from outside its callbacks).
  void kill();

  // For the protocol callback only.
  int handle(lws* wsi, int reason, void* in, std::size_t len);

 private:
  void open(lws_context* context, const std::string& address);
  bool on_connected();
  bool on_bytes(const char* data, std::size_t size);
  bool on_plaintext(const char* data, std::size_t size);
  bool write_pending(lws* wsi);
  void lost(std::string why);
  void notify();

  UpstreamPool& m_pool;
  UpstreamRequest* m_user = nullptr;
  std::string m_origin_key;
  std::string m_host;
  std::string m_address;  // numeric: the name looked up by the Resolver, or as given
  int m_port = 0;
  std::unique_ptr<http::Resolver::Lookup> m_lookup;  // while the host name is looked up
  bool m_wants_tls = false;
  lws* m_wsi = nullptr;
  bool m_connected = false;
  bool m_dead = false;
  bool m_written = false;
  std::unique_ptr<TlsSession> m_tls;
  http::ResponseReader m_reader;
  std::size_t pending_size() const { return m_pending ? m_pending->size() : 0; }

  std::shared_ptr<const std::string> m_pending;  // the request; null once handed wholly to TLS or the socket
  std::size_t m_pending_sent = 0;
  std::string m_wire;
  std::string m_error;
  Timer m_idle_timer;
};

// One request through the pool. `on_done` runs exactly once, from a loop timer (never inside a
// libwebsockets callback, so it may destroy the request), unless the request is destroyed first, which
// cancels it.
class UpstreamRequest {
 public:
  using Callback = std::function<void(HttpResponse&&)>;
  UpstreamRequest(EventLoop& loop, UpstreamPool& pool, HttpRequestSpec spec, Callback on_done);
  ~UpstreamRequest();
  UpstreamRequest(const UpstreamRequest&) = delete;
  UpstreamRequest& operator=(const UpstreamRequest&) = delete;

  // From the connection: its answer is complete, or it failed.
  void on_connection_event() { m_step.schedule_in(util::Millis(0)); }

 private:
  void begin();
  void step();
  void finish(HttpResponse response);

  UpstreamPool& m_pool;
  HttpRequestSpec m_spec;
  Callback m_on_done;
  std::optional<util::Url> m_url;
  std::string m_origin_key;
  std::shared_ptr<const std::string> m_bytes;  // the request as sent: head and body
  std::unique_ptr<UpstreamConnection> m_connection;
  bool m_reused = false;
  bool m_retried = false;
  bool m_done = false;
  Timer m_step;
  Timer m_timeout;
};

// Keep-alive HTTP/1.1 connections to the platform, a few idle ones per origin (scheme, host, port) reused for
// the next request (docs/api.md). A connection goes back to the pool after a complete answer unless the
// server said Connection: close (or the body ran to the end of the connection); an idle one is closed after
// idle_timeout, when the server closes it, or when more than max_idle are idle.
class UpstreamPool {
 public:
  UpstreamPool(EventLoop& loop, UpstreamPoolSettings settings);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  std::unique_ptr<UpstreamRequest> start(HttpRequestSpec spec, UpstreamRequest::Callback on_done);

  const UpstreamCounters& counters() const { return m_counters; }
  std::size_t idle() const;

 private:
  friend class UpstreamRequest;
  friend class UpstreamConnection;
  // An idle connection for this origin, or a new one; `reused` says which.
  std::unique_ptr<UpstreamConnection> take(const util::Url& url, const std::string& origin_key, bool& reused);
  std::unique_ptr<UpstreamConnection> connect(const util::Url& url, const std::string& origin_key);
  void give_back(std::unique_ptr<UpstreamConnection> connection);
  // A connection that is done with; destroyed on the next loop pass (it may be inside its own callback).
  void retire(std::unique_ptr<UpstreamConnection> connection);
  void note_idle_lost() { m_sweep.schedule_in(util::Millis(0)); }
  void sweep();

  EventLoop& m_loop;
  UpstreamPoolSettings m_settings;
  std::vector<std::unique_ptr<UpstreamConnection>> m_idle;  // oldest first
  std::vector<std::unique_ptr<UpstreamConnection>> m_retired;
  Timer m_sweep;
  UpstreamCounters m_counters;
};

}  // namespace relay::ingress

#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ingress/event_loop.hpp"
#include "ingress/listener.hpp"

namespace relay::ingress {

struct StatusResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};

// A tiny read-only HTTP listener for operators: GET /metrics and GET /healthz, answered from the event loop
// by the given functions (which only read counters). Anything else gets 404, other methods 405. One request
// per connection; the request head must arrive within 5 s and be at most 8 KiB.
//
// It reads HTTP itself from raw connections rather than through a libwebsockets vhost: libwebsockets picks
// the vhost of a request by its Host header among the vhosts that share a listening port, and a vhost that
// does not listen has the same "port" as every other one that does not (the webhook's), so a request sent
// here could be served by the webhook's vhost, or the other way round.
class StatusServer : private RawSocketHandler {
 public:
  using Handler = std::function<StatusResponse()>;

  // Throws std::runtime_error naming the address when it cannot listen.
  StatusServer(EventLoop& loop, ListenerSettings listen, Handler metrics, Handler health);
  ~StatusServer() override;
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  int port() const { return m_listener.port(); }
  const Listener& listener() const { return m_listener; }

  StatusResponse answer(std::string_view method, std::string_view path) const;

 private:
  struct Exchange {
    std::string request;
    std::string response;  // empty until the request head is complete
    bool written = false;
  };
  int on_raw_socket(lws* wsi, int reason, void* in, std::size_t len) override;
  int on_bytes(lws* wsi, Exchange& exchange, std::string_view bytes);

  EventLoop& m_loop;
  Handler m_metrics;
  Handler m_health;
  std::unordered_map<lws*, Exchange> m_exchanges;
  Listener m_listener;
};

// What the status listener answers to one HTTP request head ("GET /metrics HTTP/1.1\r\n..."): the whole
// response, status line to body. Exposed for the unit tests.
std::string status_response_to(
    std::string_view head, const std::function<StatusResponse(std::string_view, std::string_view)>& answer);

}  // namespace relay::ingress

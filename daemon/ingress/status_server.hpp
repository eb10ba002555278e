#pragma once

#include <functional>
#include <string>

#include "ingress/event_loop.hpp"

struct lws_vhost;

namespace relay::ingress {

struct StatusResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};

// A tiny read-only HTTP listener for operators: GET /metrics and GET /healthz, answered from the event loop
// by the given functions (which only read counters). Anything else gets 404, other methods 405.
class StatusServer {
 public:
  using Handler = std::function<StatusResponse()>;

  // Throws std::runtime_error naming the address when it cannot listen.
  StatusServer(EventLoop& loop, const std::string& host, int port, Handler metrics, Handler health);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  int port() const { return m_port; }

  // For the libwebsockets callback only.
  StatusResponse answer(std::string_view method, std::string_view path) const;

 private:
  Handler m_metrics;
  Handler m_health;
  lws_vhost* m_vhost = nullptr;
  int m_port = 0;
};

}  // namespace relay::ingress

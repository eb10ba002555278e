#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ingress/event_loop.hpp"

namespace relay::ingress {

struct HttpResponse {
  int status = 0;  // 0 when the request failed before a response
  std::string body;
  std::string error;  // why it failed, when status is 0
};

struct HttpRequestSpec {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent with Content-Type: application/json when not empty
  util::Millis timeout{10'000};
  std::size_t max_response_bytes = 1 << 20;
};

// One HTTP(S) request on the event loop. `on_done` runs exactly once, on the loop, unless the request is
// destroyed first; destroying it cancels the request.
class HttpRequest {
 public:
  using Callback = std::function<void(HttpResponse&&)>;
  HttpRequest(EventLoop& loop, HttpRequestSpec spec, Callback on_done);
  ~HttpRequest();
  HttpRequest(const HttpRequest&) = delete;
  HttpRequest& operator=(const HttpRequest&) = delete;

  // For the protocol callback only.
  int handle(lws* wsi, int reason, void* in, std::size_t len);

 private:
  void finish(int status, std::string error);
  void deliver();

  HttpRequestSpec m_spec;
  Callback m_on_done;
  lws* m_wsi = nullptr;
  int m_status = 0;
  bool m_done = false;
  bool m_body_sent = false;
  std::string m_received;
  std::string m_error;
  std::string m_host;
  std::string m_path;
  std::string m_host_header;
  Timer m_timeout;
  Timer m_deliver;
};

}  // namespace relay::ingress

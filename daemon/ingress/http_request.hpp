#pragma once

#include <utility>

#include "http/client.hpp"
#include "ingress/event_loop.hpp"

namespace relay::ingress {

using HttpRequestSpec = http::RequestSpec;
using HttpResponse = http::Response;

// One HTTP(S) request on the relay's event loop (its default vhost lists http::protocol()). `on_done` runs
// exactly once, on the loop, unless the request is destroyed first; destroying it cancels the request.
class HttpRequest : public http::Request {
 public:
  HttpRequest(EventLoop& loop, HttpRequestSpec spec, Callback on_done)
      : http::Request(loop.context(), nullptr, std::move(spec), std::move(on_done)) {}
};

}  // namespace relay::ingress

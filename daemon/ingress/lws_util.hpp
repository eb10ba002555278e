#pragma once

#include <string>

#include <libwebsockets.h>

#include "util/url.hpp"

namespace relay::ingress {

// Ends a connection from outside its callbacks, after detaching it from its C++ owner.
inline void detach_and_kill(lws* wsi) {
  lws_set_wsi_user(wsi, nullptr);
  lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

// The Host header value: the port is omitted when it is the scheme's default.
inline std::string host_header(const util::Url& url) {
  const int default_port = url.tls ? 443 : 80;
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string host = v6 ? "[" + url.host + "]" : url.host;
  return url.port == default_port ? host : host + ":" + std::to_string(url.port);
}

}  // namespace relay::ingress

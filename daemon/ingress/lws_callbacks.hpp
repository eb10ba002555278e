#pragma once

#include <cstddef>

#include <libwebsockets.h>

namespace relay::ingress {

// The libwebsockets protocol callbacks, registered once by EventLoop. Each recovers its C++ object from the
// connection's user pointer and never lets an exception escape into C.
int gateway_socket_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len);
int upstream_connection_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                                 std::size_t len);

}  // namespace relay::ingress

#pragma once

#include <cstddef>

#include <libwebsockets.h>

namespace relay::ingress {

// A raw client connection's events go to the object in its user pointer (`Owner::handle`); the protocol-wide
// ones (init, destroy) carry whatever lws has there and are ignored. No exception escapes into C: one closes
// the connection.
template <class Owner>
int raw_client_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
    case LWS_CALLBACK_RAW_RX:
    case LWS_CALLBACK_RAW_WRITEABLE:
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      break;
    default:
      return 0;
  }
  auto* owner = static_cast<Owner*>(user);
  if (owner == nullptr) {
    return 0;
  }
  try {
    return owner->handle(wsi, static_cast<int>(reason), in, len);
  } catch (...) {
    return -1;
  }
}

// The libwebsockets protocol callbacks, registered once by EventLoop. Each recovers its C++ object from the
// connection's user pointer and never lets an exception escape into C.
int gateway_socket_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len);
int upstream_connection_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                                 std::size_t len);

}  // namespace relay::ingress

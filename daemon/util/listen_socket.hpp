#pragma once

#include <string>

namespace relay::util {

struct ListeningSocket {
  int fd = -1;  // non-blocking, close-on-exec; the caller owns it
  int port = 0;
};

// socket(), bind() and listen() for exactly the address given: AF_INET for an IPv4 address, AF_INET6 with
// IPV6_V6ONLY for an IPv6 one, so that "0.0.0.0" is IPv4 only and "::" IPv6 only (both at once take two
// listeners, never an accident). A host name binds its first address. Port 0 lets the kernel choose.
// Throws std::runtime_error saying which step failed and why.
ListeningSocket open_listening_socket(const std::string& host, int port);

// "host:port", with brackets around an IPv6 host.
std::string address_text(const std::string& host, int port);

}  // namespace relay::util

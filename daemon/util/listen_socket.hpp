#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace relay::util {

struct ListeningSocket {
  int fd = -1;  // non-blocking, close-on-exec; the caller owns it
  int port = 0;
};

// socket(), bind() and listen() for exactly the address given: AF_INET for an IPv4 address, AF_INET6 with
// IPV6_V6ONLY for an IPv6 one, so that "0.0.0.0" is IPv4 only and "::" IPv6 only (both at once take two
// listeners, never an accident). A host name binds its first address. Port 0 lets the kernel choose.
// Throws SocketError saying which step failed and why.
ListeningSocket open_listening_socket(const std::string& host, int port);

// A listening socket handed over at start (systemd socket activation, sd_listen_fds(3): LISTEN_PID is this
// process, LISTEN_FDS sockets from descriptor 3) that is bound to exactly what `host` and `port` resolve to,
// or nothing. Each inherited socket is taken once; the variables are read at the first call and then
// removed from the environment, so that no child process takes them for its own. A socket that outlives the
// process (held by systemd) keeps accepting connections into its backlog while the relay restarts.
std::optional<ListeningSocket> take_inherited_socket(const std::string& host, int port);

// A socket call that failed; code() is its errno (0: the address did not resolve).
class SocketError : public std::runtime_error {
 public:
  SocketError(const std::string& what, int code) : std::runtime_error(what), m_code(code) {}
  int code() const { return m_code; }

 private:
  int m_code;
};

// What the operator does next when binding `key`'s address failed with errno `code` ("another process
// listens there ...: stop it, or change api.listen"), for the end of a start-up error.
std::string bind_advice(int code, const std::string& key);

// "host:port", with brackets around an IPv6 host.
std::string address_text(const std::string& host, int port);

}  // namespace relay::util

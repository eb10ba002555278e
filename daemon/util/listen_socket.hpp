#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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
// Throws SocketError when the socket bound to that address is IPv6 and also accepts IPv4 (IPV6_V6ONLY off):
// "[::]" is IPv6 only, inherited or not.
std::optional<ListeningSocket> take_inherited_socket(const std::string& host, int port);

// Closes the sockets handed over at start that no listener took (bound to an address none is configured
// with) and returns their addresses, for a warning: the relay serves only the addresses it is given.
std::vector<std::string> close_unused_inherited_sockets();

// The address of a socket handed over at start, not taken, that holds `port` (it makes binding that port
// fail with EADDRINUSE), if there is one.
std::optional<std::string> inherited_socket_on_port(int port);

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

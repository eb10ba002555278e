#include "util/listen_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace relay::util {
namespace {

class Descriptor {
 public:
  explicit Descriptor(int fd) : m_fd(fd) {}
  ~Descriptor() {
    if (m_fd >= 0) {
      close(m_fd);
    }
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return m_fd; }
  int release() { return std::exchange(m_fd, -1); }

 private:
  int m_fd;
};

SocketError failure(std::string_view step) {
  const int code = errno;
  return SocketError(std::string(step) + ": " + std::strerror(code), code);
}

using AddressList = std::unique_ptr<addrinfo, void (*)(addrinfo*)>;

// The address a listener for `host` and `port` binds (the first getaddrinfo gives); null with `error` set
// when it cannot be resolved.
AddressList resolve(const std::string& host, int port, int& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  error = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  return AddressList(error == 0 ? found : nullptr, freeaddrinfo);
}

// Two socket addresses are the same: family, address and port (and nothing else of sockaddr_in6).
bool same_address(const sockaddr_storage& a, const sockaddr* b) {
  if (a.ss_family != b->sa_family) {
    return false;
  }
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(b);
    return x.sin_port == y->sin_port && x.sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(b);
    return x.sin6_port == y->sin6_port && std::memcmp(&x.sin6_addr, &y->sin6_addr, sizeof(in6_addr)) == 0;
  }
  return false;
}

int port_of(const sockaddr_storage& address) {
  return ntohs(address.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(address).sin6_port
                                             : reinterpret_cast<const sockaddr_in&>(address).sin_port);
}

std::string socket_address_text(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = {};
  const void* raw = address.ss_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(address).sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(address).sin_addr);
  if (inet_ntop(address.ss_family, raw, host, sizeof(host)) == nullptr) {
    return "an address of family " + std::to_string(address.ss_family);
  }
  return address_text(host, port_of(address));
}

std::vector<int>& inherited_sockets() {
  static std::vector<int> sockets = [] {
    std::vector<int> found;
    const char* pid = std::getenv("LISTEN_PID");
    const char* count = std::getenv("LISTEN_FDS");
    if (pid != nullptr && count != nullptr && std::strtol(pid, nullptr, 10) == getpid()) {
      const long n = std::strtol(count, nullptr, 10);
      for (long i = 0; i < n && i < 64; ++i) {
        const int fd = 3 + static_cast<int>(i);
        int listening = 0;
        socklen_t size = sizeof(listening);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0 && listening != 0) {
          fcntl(fd, F_SETFD, FD_CLOEXEC);
          found.push_back(fd);
        }
      }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return found;
  }();
  return sockets;
}

}  // namespace

std::optional<ListeningSocket> take_inherited_socket(const std::string& host, int port) {
  auto& sockets = inherited_sockets();
  if (sockets.empty() || port == 0) {
    return std::nullopt;
  }
  int error = 0;
  const auto resolved = resolve(host, port, error);
  if (!resolved) {
    return std::nullopt;
  }
  for (auto it = sockets.begin(); it != sockets.end(); ++it) {
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    if (getsockname(*it, reinterpret_cast<sockaddr*>(&bound), &length) == 0 &&
        same_address(bound, resolved->ai_addr)) {
      const int fd = *it;
      int v6only = 1;
      socklen_t size = sizeof(v6only);
      if (bound.ss_family == AF_INET6 &&
          (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &size) != 0 || v6only == 0)) {
        // "[::]" would take IPv4 connections too, which the address alone never does here; the option
        // cannot be set on a bound socket.
        throw SocketError(
            "the socket handed over at start (socket activation) for it also accepts IPv4 connections "
            "(IPV6_V6ONLY is off): set BindIPv6Only=ipv6-only in its socket unit",
            EINVAL);
      }
      sockets.erase(it);
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      return ListeningSocket{fd, port};
    }
  }
  return std::nullopt;
}

std::vector<std::string> close_unused_inherited_sockets() {
  std::vector<std::string> closed;
  for (const int fd : inherited_sockets()) {
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    closed.push_back(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0
                         ? socket_address_text(bound)
                         : "descriptor " + std::to_string(fd));
    close(fd);
  }
  inherited_sockets().clear();
  return closed;
}

std::optional<std::string> inherited_socket_on_port(int port) {
  for (const int fd : inherited_sockets()) {
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0 && port_of(bound) == port) {
      return socket_address_text(bound);
    }
  }
  return std::nullopt;
}

std::string bind_advice(int code, const std::string& key) {
  switch (code) {
    case 0:
      return "check the host name in " + key;
    case EADDRINUSE:
      return "another process listens there (ss -ltnp shows which; often a second relay): stop it, or "
             "change " +
             key;
    case EADDRNOTAVAIL:
      return "no network interface of this host has that address: change " + key;
    case EACCES:
    case EPERM:
      return "not allowed: a port below 1024 needs CAP_NET_BIND_SERVICE, an ipc:// path a directory the "
             "relay "
             "may write: change " +
             key;
    case ENOENT:
    case ENOTDIR:
      return "the directory of that ipc:// path does not exist: create it, or change " + key;
    default:
      return "check " + key;
  }
}

std::string address_text(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ListeningSocket open_listening_socket(const std::string& host, int port) {
  int error = 0;
  const auto found = resolve(host, port, error);
  if (!found) {
    throw SocketError(std::string("cannot resolve the address: ") + gai_strerror(error), 0);
  }
  Descriptor socket_fd(socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (socket_fd.get() < 0) {
    throw failure("socket");
  }
  const int on = 1;
  if (setsockopt(socket_fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
    throw failure("SO_REUSEADDR");
  }
  if (found->ai_family == AF_INET6 &&
      setsockopt(socket_fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
    throw failure("IPV6_V6ONLY");
  }
  if (bind(socket_fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    throw failure("bind");
  }
  if (listen(socket_fd.get(), SOMAXCONN) != 0) {
    throw failure("listen");
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    throw failure("getsockname");
  }
  const auto bound_port = bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                      : reinterpret_cast<sockaddr_in*>(&bound)->sin_port;
  return {socket_fd.release(), ntohs(bound_port)};
}

}  // namespace relay::util

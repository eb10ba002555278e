#include "publish/bind.hpp"

#include <unistd.h>

#include <charconv>
#include <stdexcept>
#include <string_view>

#include "util/listen_socket.hpp"

namespace relay::publish {

void bind_as_written(zmq::socket_t& socket, const std::string& endpoint) {
  constexpr std::string_view k_v6_prefix = "tcp://[";
  const std::string_view text = endpoint;
  const auto close = text.find("]:");
  if (!text.starts_with(k_v6_prefix) || close == std::string_view::npos) {
    socket.set(zmq::sockopt::ipv6, 0);  // an IPv4 address stays IPv4 (not IPv4-mapped)
    socket.bind(endpoint);
    return;
  }
  const std::string host(text.substr(k_v6_prefix.size(), close - k_v6_prefix.size()));
  const std::string_view port_text = text.substr(close + 2);
  int port = 0;
  if (port_text != "*") {
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
      throw std::runtime_error("not a port: " + std::string(port_text));
    }
  }
  const util::ListeningSocket listening = util::open_listening_socket(host, port);
  socket.set(zmq::sockopt::ipv6, 1);
  socket.set(zmq::sockopt::use_fd, listening.fd);
  try {
    socket.bind(endpoint);  // the address is not resolved again: libzmq takes the descriptor over
  } catch (...) {
    socket.set(zmq::sockopt::use_fd, -1);
    ::close(listening.fd);
    throw;
  }
  socket.set(zmq::sockopt::use_fd, -1);
}

std::string bind_advice(const std::exception& error, const std::string& key) {
  if (const auto* zmq_error = dynamic_cast<const zmq::error_t*>(&error)) {
    return util::bind_advice(zmq_error->num(), key);
  }
  if (const auto* socket_error = dynamic_cast<const util::SocketError*>(&error)) {
    return util::bind_advice(socket_error->code(), key);
  }
  return "check " + key;
}

}  // namespace relay::publish

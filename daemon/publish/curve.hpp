#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

namespace relay::publish {

// The ZAP domain the relay's CURVE sockets belong to.
inline constexpr std::string_view k_zap_domain = "qq-gateway-relay";

// Makes `socket` a CURVE server with this secret key, whose clients the ZAP handler must approve. Call before
// bind.
void make_curve_server(zmq::socket_t& socket, const std::string& secret_key_z85);

struct CurveCounters {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
};

// The ZAP handler (RFC 27) for the relay's context: a CURVE client is let in only if its public key is
// listed. It must be bound before any CURVE server socket binds, so no connection can slip past it.
class CurveAuthenticator {
 public:
  CurveAuthenticator(zmq::context_t& context, const std::vector<std::string>& authorized);

  void set_authorized(const std::vector<std::string>& authorized);
  std::size_t authorized() const { return m_authorized.size(); }

  // The REP socket's ZMQ_FD, to watch for readability; on_readable answers every pending request.
  int fd();
  void on_readable();
  const CurveCounters& counters() const { return m_counters; }

 private:
  zmq::socket_t m_socket;
  std::set<std::string> m_authorized;  // Z85
  CurveCounters m_counters;
};

// Writes a new key pair in Z85: the public key to `public_key`, the secret key to `secret_key`.
void generate_curve_keypair(std::string& public_key, std::string& secret_key);

}  // namespace relay::publish

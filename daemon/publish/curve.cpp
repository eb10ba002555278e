#include "publish/curve.hpp"

#include <zmq.h>
#include <zmq_addon.hpp>

#include <array>
#include <stdexcept>

#include <fmt/format.h>

namespace relay::publish {

void make_curve_server(zmq::socket_t& socket, const std::string& secret_key_z85) {
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, secret_key_z85);
  // libzmq 4.3 lets every client in when no ZAP handler is bound (enforcing it is a draft option), so the
  // CurveAuthenticator must exist before this socket binds.
  socket.set(zmq::sockopt::zap_domain, std::string(k_zap_domain));
}

CurveAuthenticator::CurveAuthenticator(zmq::context_t& context, const std::vector<std::string>& authorized)
    : m_socket(context, zmq::socket_type::rep) {
  m_socket.set(zmq::sockopt::linger, 0);
  m_socket.bind("inproc://zeromq.zap.01");
  set_authorized(authorized);
}

void CurveAuthenticator::set_authorized(const std::vector<std::string>& authorized) {
  m_authorized = std::set<std::string>(authorized.begin(), authorized.end());
}

int CurveAuthenticator::fd() {
  return m_socket.get(zmq::sockopt::fd);
}

void CurveAuthenticator::on_readable() {
  while (m_socket.get(zmq::sockopt::events) & ZMQ_POLLIN) {
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(m_socket, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      break;
    }
    // version, request id, domain, address, identity, mechanism, credentials...
    bool allowed = false;
    if (frames.size() >= 7 && frames[0].to_string_view() == "1.0" && frames[5].to_string_view() == "CURVE" &&
        frames[6].size() == 32) {
      std::array<char, 41> z85{};
      if (zmq_z85_encode(z85.data(), static_cast<const std::uint8_t*>(frames[6].data()), 32) != nullptr) {
        allowed = m_authorized.contains(std::string(z85.data(), 40));
      }
    }
    ++(allowed ? m_counters.accepted : m_counters.refused);
    const std::string request_id = frames.size() > 1 ? frames[1].to_string() : std::string();
    const auto more = zmq::send_flags::sndmore;
    m_socket.send(zmq::str_buffer("1.0"), more);
    m_socket.send(zmq::buffer(request_id), more);
    m_socket.send(allowed ? zmq::str_buffer("200") : zmq::str_buffer("400"), more);
    m_socket.send(allowed ? zmq::str_buffer("OK") : zmq::str_buffer("public key not authorized"), more);
    m_socket.send(zmq::str_buffer(""), more);
    m_socket.send(zmq::str_buffer(""), zmq::send_flags::none);
  }
}

void generate_curve_keypair(std::string& public_key, std::string& secret_key) {
  std::array<char, 41> pub{};
  std::array<char, 41> sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    throw std::runtime_error("libzmq cannot generate CURVE keys (built without CURVE?)");
  }
  public_key.assign(pub.data(), 40);
  secret_key.assign(sec.data(), 40);
}

}  // namespace relay::publish

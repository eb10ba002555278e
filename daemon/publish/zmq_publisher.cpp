#include "publish/zmq_publisher.hpp"

#include <stdexcept>

#include "publish/bind.hpp"

namespace relay::publish {

ZmqPublisher::ZmqPublisher(PublisherSettings settings)
    : m_settings(std::move(settings)),
      m_context(1),
      m_authenticator(m_settings.curve_secret_key.empty()
                          ? nullptr
                          : std::make_unique<CurveAuthenticator>(m_context, m_settings.curve_authorized)),
      m_socket(m_context, zmq::socket_type::pub) {
  m_socket.set(zmq::sockopt::sndhwm, m_settings.sndhwm);
  if (m_authenticator) {
    make_curve_server(m_socket, m_settings.curve_secret_key);
  }
  // Unsent messages are not worth delaying a shutdown for long; subscribers repair gaps from relay_seq.
  m_socket.set(zmq::sockopt::linger, 1000);
  for (const auto& endpoint : m_settings.endpoints) {
    try {
      bind_as_written(m_socket, endpoint);
    } catch (const std::exception& error) {
      throw std::runtime_error("cannot bind publish endpoint " + endpoint + ": " + error.what() + "; " +
                               bind_advice(error, "publish.endpoints"));
    }
    m_bound.push_back(m_socket.get(zmq::sockopt::last_endpoint));
  }
}

ZmqPublisher::~ZmqPublisher() {
  flush();
}

void ZmqPublisher::deliver(const OutgoingMessage& message) {
  m_queue.emplace_back(message.topic.data(), message.topic.size());
  m_queue.emplace_back(message.body.data(), message.body.size());
  m_queue.emplace_back(message.metadata.data(), message.metadata.size());
  m_queued_bytes += message.topic.size() + message.body.size() + message.metadata.size();
  if (queued_messages() >= k_max_queued_messages || m_queued_bytes >= k_max_queued_bytes) {
    flush();
  }
}

void ZmqPublisher::flush() {
  const auto flags = zmq::send_flags::dontwait;
  for (std::size_t frame = 0; frame + 2 < m_queue.size(); frame += 3) {
    try {
      m_socket.send(m_queue[frame], flags | zmq::send_flags::sndmore);
      m_socket.send(m_queue[frame + 1], flags | zmq::send_flags::sndmore);
      m_socket.send(m_queue[frame + 2], flags);
      ++m_counters.published;
    } catch (const zmq::error_t&) {
      ++m_counters.send_failures;
    }
  }
  m_queue.clear();
  m_queued_bytes = 0;
}

}  // namespace relay::publish

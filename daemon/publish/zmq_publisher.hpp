#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "publish/curve.hpp"
#include "publish/outlet.hpp"

namespace relay::publish {

struct PublisherSettings {
  std::vector<std::string> endpoints;
  int sndhwm = 100'000;
  // CURVE: when set, only clients whose public keys are listed get in (plain clients are refused).
  std::string curve_secret_key;  // Z85
  std::vector<std::string> curve_authorized;
};

struct PublisherCounters {
  std::uint64_t published = 0;  // handed to ZeroMQ by flush()
  std::uint64_t send_failures = 0;
};

// The ZeroMQ outlet: one PUB socket every published message leaves through, as three frames: topic, body,
// metadata. Sends never block: PUB drops for a subscriber past its high-water mark, which subscribers see as
// a relay_seq gap.
//
// Messages leave in batches: deliver() queues a message, flush() hands the queue to ZeroMQ. ZeroMQ wakes its
// I/O thread whenever a message arrives while that thread sleeps; called once per event-loop pass, flush()
// lets one wake-up (and one TCP write) carry many messages instead of one.
class ZmqPublisher final : public Outlet {
 public:
  // A full queue is flushed at once, so memory stays bounded within one long event-loop pass.
  static constexpr std::size_t k_max_queued_messages = 1024;
  static constexpr std::size_t k_max_queued_bytes = 4 * 1024 * 1024;

  // Binds every endpoint; throws std::runtime_error naming the endpoint that cannot be bound.
  explicit ZmqPublisher(PublisherSettings settings);
  ~ZmqPublisher() override;
  ZmqPublisher(const ZmqPublisher&) = delete;
  ZmqPublisher& operator=(const ZmqPublisher&) = delete;

  // Queues the message's three frames; the next flush() sends them.
  void deliver(const OutgoingMessage& message) override;
  // Sends every queued message, in order.
  void flush() override;
  std::size_t queued_messages() const { return m_queue.size() / 3; }

  const PublisherCounters& counters() const { return m_counters; }
  zmq::context_t& context() { return m_context; }
  // The ZAP handler when CURVE is on, else null.
  CurveAuthenticator* authenticator() { return m_authenticator.get(); }
  const std::string& curve_secret_key() const { return m_settings.curve_secret_key; }
  // The endpoints as bound (a tcp port of 0 or * resolved to the real one).
  const std::vector<std::string>& bound_endpoints() const { return m_bound; }

 private:
  PublisherSettings m_settings;
  zmq::context_t m_context;
  std::unique_ptr<CurveAuthenticator>
      m_authenticator;  // before the socket: it must exist when the socket binds
  zmq::socket_t m_socket;
  std::vector<std::string> m_bound;
  std::vector<zmq::message_t> m_queue;  // three frames per message
  std::size_t m_queued_bytes = 0;
  PublisherCounters m_counters;
};

}  // namespace relay::publish

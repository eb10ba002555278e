#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "publish/curve.hpp"
#include "publish/metadata.hpp"
#include "publish/retention.hpp"

namespace relay::publish {

struct PublisherSettings {
  std::vector<std::string> endpoints;
  std::string topic_prefix;
  std::string app_id;
  int sndhwm = 100'000;
  // CURVE: when set, only clients whose public keys are listed get in (plain clients are refused).
  std::string curve_secret_key;  // Z85
  std::vector<std::string> curve_authorized;
};

struct PublisherCounters {
  std::uint64_t published = 0;  // handed to ZeroMQ by flush()
  std::uint64_t send_failures = 0;
};

// The one ZeroMQ PUB socket every message leaves through, as three frames: topic, body, metadata.
// Sends never block: PUB drops for a subscriber past its high-water mark, which subscribers see as a
// relay_seq gap.
//
// Messages leave in batches: publish() numbers, retains and queues a message, flush() hands the queue to
// ZeroMQ. ZeroMQ wakes its I/O thread whenever a message arrives while that thread sleeps; called once per
// event-loop pass, flush() lets one wake-up (and one TCP write) carry many messages instead of one.
class ZmqPublisher {
 public:
  // A full queue is flushed at once, so memory stays bounded within one long event-loop pass.
  static constexpr std::size_t k_max_queued_messages = 1024;
  static constexpr std::size_t k_max_queued_bytes = 4 * 1024 * 1024;

  // Binds every endpoint; throws std::runtime_error naming the endpoint that cannot be bound.
  explicit ZmqPublisher(PublisherSettings settings);
  ~ZmqPublisher();
  ZmqPublisher(const ZmqPublisher&) = delete;
  ZmqPublisher& operator=(const ZmqPublisher&) = delete;

  // Queues a message on topic `topic_prefix + topic` and returns the relay_seq it assigned. It is retained
  // and journaled at once, and sent by the next flush().
  std::uint64_t publish(std::string_view topic, std::string_view body, const MessageInfo& info);
  // Sends every queued message, in order.
  void flush();
  std::size_t queued_messages() const { return m_queue.size() / 3; }

  void set_topic_prefix(std::string prefix) { m_settings.topic_prefix = std::move(prefix); }
  std::uint64_t last_relay_seq() const { return m_relay_seq; }
  // Continue numbering after a value kept from an earlier run.
  void resume_relay_seq_after(std::uint64_t value) { m_relay_seq = value; }
  const PublisherCounters& counters() const { return m_counters; }
  // Every message published from now on is also kept here for replay.
  void retain_in(Retention* retention) { m_retention = retention; }
  // ... and appended to this journal.
  void journal_in(class Journal* journal) { m_journal = journal; }
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
  std::uint64_t m_relay_seq = 0;
  std::string m_topic_buffer;
  std::string m_meta_buffer;
  std::vector<zmq::message_t> m_queue;  // three frames per message
  std::size_t m_queued_bytes = 0;
  PublisherCounters m_counters;
  Retention* m_retention = nullptr;
  class Journal* m_journal = nullptr;
};

}  // namespace relay::publish

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "publish/retention.hpp"

namespace relay::publish {

struct ReplayCounters {
  std::uint64_t requests = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t messages_replayed = 0;
};

// Answers catch-up requests from the retained messages on a ROUTER socket, so REQ and DEALER clients both
// work. Request: one frame, {"since":N,"max":M}. Reply: {"count":c,"next":K,"first_available":F,...} followed
// by c triples of the usual frames, oldest first, starting after `since`. Never blocks: a reply to a client
// that has gone or cannot take it is dropped.
class ReplayServer {
 public:
  static constexpr std::uint64_t k_default_max = 1000;
  static constexpr std::uint64_t k_max_per_request = 10000;
  static constexpr std::size_t k_max_reply_bytes = 16 << 20;

  // Binds `endpoint`; throws std::runtime_error naming it when it cannot.
  // With a CURVE secret key the socket is a CURVE server, whose clients the context's ZAP handler approves.
  ReplayServer(zmq::context_t& context, const std::string& endpoint, const Retention& retention,
               const std::string& curve_secret_key = {});

  // The socket's ZMQ_FD, to watch for readability. Edge-triggered: on_readable drains everything.
  int fd();
  // Answers up to k_requests_per_call requests; true if more are waiting (call again soon, from a timer: the
  // descriptor will not signal them again).
  bool on_readable();
  static constexpr int k_requests_per_call = 64;

  const std::string& bound_endpoint() const { return m_bound; }
  const ReplayCounters& counters() const { return m_counters; }

 private:
  void answer(std::vector<zmq::message_t>& envelope, const zmq::message_t& request);
  void send_error(std::vector<zmq::message_t>& envelope, std::string_view message);

  zmq::socket_t m_socket;
  const Retention& m_retention;
  std::string m_bound;
  ReplayCounters m_counters;
};

}  // namespace relay::publish

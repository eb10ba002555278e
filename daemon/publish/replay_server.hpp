#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "publish/reply_budget.hpp"
#include "publish/retention.hpp"

namespace relay::publish {

struct ReplayCounters {
  std::uint64_t requests = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t messages_replayed = 0;
  // Replies not sent as asked, by reason (see ReplayServer::Dropped).
  std::uint64_t client_busy = 0;
  std::uint64_t relay_busy = 0;
  std::uint64_t peer_full = 0;
  std::uint64_t peer_gone = 0;
};

// Memory the replay endpoint may hold for replies (publish.replay_max_* in the configuration).
struct ReplayLimits {
  std::size_t max_reply_bytes = 4 << 20;    // messages in one reply (one larger message goes alone)
  std::size_t max_client_bytes = 16 << 20;  // reply bytes held for one client (connection) at a time
  std::size_t max_bytes = 64 << 20;         // reply bytes held for all clients together
};

// Answers catch-up requests from the retained messages on a ROUTER socket, so REQ and DEALER clients both
// work. Request: one frame, {"since":N,"max":M}. Reply: {"count":c,"next":K,"first_available":F,...} followed
// by c triples of the usual frames, oldest first, starting after `since`. Never blocks: a reply to a client
// that has gone or cannot take it is dropped.
//
// Memory: a request frame over k_max_request_bytes makes libzmq drop the connection before it is read. Reply
// bytes held for one client and for all are bounded by ReplayLimits (see ReplyBudget): a reply that does not
// fit is shortened, and when not even one message fits the client gets {"error":"busy: ..."} instead. Small
// answers (errors, empty replies) are bounded by the high-water mark: at most k_queued_answers per client.
class ReplayServer {
 public:
  static constexpr std::uint64_t k_default_max = 1000;
  static constexpr std::uint64_t k_max_per_request = 10000;
  static constexpr std::int64_t k_max_request_bytes = 4096;
  static constexpr int k_queued_answers = 100;
  // One pass stops answering once it has copied this many reply bytes, so that replies never hold the loop
  // for long (the rest waits for the next pass).
  static constexpr std::size_t k_bytes_per_call = 4 << 20;

  // Binds `endpoint`; throws std::runtime_error naming it when it cannot.
  // With a CURVE secret key the socket is a CURVE server, whose clients the context's ZAP handler approves.
  ReplayServer(zmq::context_t& context, const std::string& endpoint, const Retention& retention,
               const std::string& curve_secret_key = {}, const ReplayLimits& limits = {});

  // The socket's ZMQ_FD, to watch for readability. Edge-triggered: on_readable drains everything.
  int fd();
  // Answers up to k_requests_per_call requests (fewer once k_bytes_per_call are copied); true if more are
  // waiting (call again soon, from a timer: the descriptor will not signal them again).
  bool on_readable();
  static constexpr int k_requests_per_call = 64;

  const std::string& bound_endpoint() const { return m_bound; }
  const ReplayCounters& counters() const { return m_counters; }
  // Reply bytes libzmq holds right now, for all clients.
  std::size_t queued_bytes() const { return m_budget.queued_bytes(); }
  const ReplayLimits& limits() const { return m_limits; }

 private:
  void answer(std::vector<zmq::message_t>& envelope, const zmq::message_t& request);
  void send_error(std::vector<zmq::message_t>& envelope, std::string_view message);
  void send_small(std::vector<zmq::message_t>& envelope, std::string_view error);
  // Retained messages [begin, end) after `header`, copied once and counted in m_budget.
  void send_reply(std::vector<zmq::message_t>& envelope, std::size_t begin, std::size_t end,
                  const std::string& header);
  // Sends the envelope then `frames` as one message, without waiting; false (and counted) if it was dropped.
  bool send(std::vector<zmq::message_t>& envelope, std::vector<zmq::message_t>& frames);

  zmq::socket_t m_socket;
  const Retention& m_retention;
  ReplayLimits m_limits;
  ReplyBudget m_budget;
  std::string m_bound;
  ReplayCounters m_counters;
  std::size_t m_bytes_this_call = 0;
};

}  // namespace relay::publish

#include "publish/replay_server.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <simdjson.h>
#include <zmq_addon.hpp>

#include "publish/curve.hpp"
#include "publish/replay_request.hpp"
#include "util/json_writer.hpp"

namespace relay::publish {
namespace {

constexpr auto k_more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;

void append_optional(std::string& out, const std::optional<std::uint64_t>& value) {
  if (value) {
    fmt::format_to(std::back_inserter(out), "{}", *value);
  } else {
    out += "null";
  }
}

}  // namespace

ReplayServer::ReplayServer(zmq::context_t& context, const std::string& endpoint, const Retention& retention,
                           const std::string& curve_secret_key)
    : m_socket(context, zmq::socket_type::router), m_retention(retention) {
  m_socket.set(zmq::sockopt::linger, 0);
  if (!curve_secret_key.empty()) {
    make_curve_server(m_socket, curve_secret_key);
  }
  // A client that asks and never reads must not pile up replies (each up to 16 MiB): beyond this many queued
  // frames for it, further replies to it are dropped.
  m_socket.set(zmq::sockopt::sndhwm, 1000);
  m_socket.set(zmq::sockopt::rcvhwm, 1000);
  try {
    m_socket.bind(endpoint);
  } catch (const zmq::error_t& error) {
    throw std::runtime_error("cannot bind publish.replay_endpoint " + endpoint + ": " + error.what());
  }
  m_bound = m_socket.get(zmq::sockopt::last_endpoint);
}

int ReplayServer::fd() {
  return m_socket.get(zmq::sockopt::fd);
}

bool ReplayServer::on_readable() {
  // ZMQ_FD only signals a change; keep going until the socket says nothing more is readable, but a bounded
  // number at a time, so that a flood of requests cannot hold the event loop.
  for (int answered = 0; m_socket.get(zmq::sockopt::events) & ZMQ_POLLIN; ++answered) {
    if (answered == k_requests_per_call) {
      return true;
    }
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(m_socket, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      break;
    }
    if (frames.size() < 2) {
      continue;  // nothing but an identity: not a request
    }
    ++m_counters.requests;
    // The envelope is the identity, plus the empty delimiter a REQ client adds; the request is one frame
    // after it.
    std::vector<zmq::message_t> envelope;
    std::size_t next = 0;
    envelope.push_back(std::move(frames[next++]));
    if (frames[next].size() == 0) {
      envelope.push_back(std::move(frames[next++]));
    }
    if (frames.size() - next != 1) {
      send_error(envelope, "a request is one frame: {\"since\":N,\"max\":M}");
      continue;
    }
    answer(envelope, frames[next]);
  }
  return false;
}

void ReplayServer::send_error(std::vector<zmq::message_t>& envelope, std::string_view message) {
  ++m_counters.bad_requests;
  std::string body = R"({"error":)";
  util::append_json_string(body, message);
  body += "}";
  try {
    for (auto& frame : envelope) {
      m_socket.send(frame, k_more);
    }
    m_socket.send(zmq::buffer(body), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // The client is gone or full: nothing to do.
  }
}

void ReplayServer::answer(std::vector<zmq::message_t>& envelope, const zmq::message_t& request) {
  const auto parsed = parse_replay_request(
      std::string_view(static_cast<const char*>(request.data()), request.size()), k_default_max);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    send_error(envelope, *error);
    return;
  }
  const std::uint64_t since = std::get<ReplayRequest>(parsed).since;
  const std::uint64_t max = std::min(std::get<ReplayRequest>(parsed).max, k_max_per_request);
  const std::size_t begin = m_retention.first_after(since);
  std::size_t end = begin;
  std::size_t bytes = 0;
  while (end < m_retention.size() && end - begin < max) {
    bytes += m_retention.at(end).frames.size();
    if (bytes > k_max_reply_bytes && end > begin) {
      break;
    }
    ++end;
  }
  const std::size_t count = end - begin;
  std::string header = fmt::format(R"({{"count":{},"next":{},"first_available":)", count,
                                   count ? m_retention.at(end - 1).relay_seq : since);
  append_optional(header, m_retention.first_available());
  header += R"(,"last_available":)";
  append_optional(header, m_retention.last_available());
  header += "}";
  try {
    for (auto& frame : envelope) {
      m_socket.send(frame, k_more);
    }
    m_socket.send(zmq::buffer(header), count ? k_more : zmq::send_flags::dontwait);
    for (std::size_t i = begin; i < end; ++i) {
      const RetainedMessage& message = m_retention.at(i);
      const bool last = i + 1 == end;
      m_socket.send(zmq::buffer(message.topic()), k_more);
      m_socket.send(zmq::buffer(message.body()), k_more);
      m_socket.send(zmq::buffer(message.metadata()), last ? zmq::send_flags::dontwait : k_more);
    }
    m_counters.messages_replayed += count;
  } catch (const zmq::error_t&) {
    // Dropped: the client asks again.
  }
}

}  // namespace relay::publish

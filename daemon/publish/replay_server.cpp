#include "publish/replay_server.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <simdjson.h>
#include <zmq_addon.hpp>

#include "publish/bind.hpp"
#include "publish/curve.hpp"
#include "publish/replay_request.hpp"
#include "util/json_writer.hpp"

namespace relay::publish {
namespace {

constexpr auto k_more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
// Room kept for a reply's header ({"count":N,"next":N,"first_available":N,"last_available":N} is at most
// about 140 bytes), so that header and messages together stay within the budgets.
constexpr std::size_t k_header_bytes = 160;

std::size_t without_header(std::size_t room) {
  return room > k_header_bytes ? room - k_header_bytes : 0;
}

void append_optional(std::string& out, const std::optional<std::uint64_t>& value) {
  if (value) {
    fmt::format_to(std::back_inserter(out), "{}", *value);
  } else {
    out += "null";
  }
}

}  // namespace

ReplayServer::ReplayServer(zmq::context_t& context, const std::string& endpoint, const Retention& retention,
                           const std::string& curve_secret_key, const ReplayLimits& limits)
    : m_socket(context, zmq::socket_type::router),
      m_retention(retention),
      m_limits(limits),
      m_budget(limits.max_client_bytes, limits.max_bytes) {
  m_socket.set(zmq::sockopt::linger, 0);
  if (!curve_secret_key.empty()) {
    make_curve_server(m_socket, curve_secret_key);
  }
  // A request is one small JSON frame: libzmq drops a connection that sends a bigger one before allocating
  // it.
  m_socket.set(zmq::sockopt::maxmsgsize, k_max_request_bytes);
  // The high-water marks count whole messages per client, whatever their size: the reply bytes are bounded by
  // ReplyBudget, these bound the small answers (and requests) queued for one client.
  m_socket.set(zmq::sockopt::sndhwm, k_queued_answers);
  m_socket.set(zmq::sockopt::rcvhwm, k_queued_answers);
  // A send to a client whose queue is full fails (EAGAIN) instead of vanishing, so that it can be counted.
  m_socket.set(zmq::sockopt::router_mandatory, true);
  try {
    bind_as_written(m_socket, endpoint);
  } catch (const std::exception& error) {
    throw std::runtime_error("cannot bind publish.replay_endpoint " + endpoint + ": " + error.what() + "; " +
                             bind_advice(error, "publish.replay_endpoint"));
  }
  m_bound = m_socket.get(zmq::sockopt::last_endpoint);
}

int ReplayServer::fd() {
  return m_socket.get(zmq::sockopt::fd);
}

bool ReplayServer::on_readable() {
  // ZMQ_FD only signals a change; keep going until the socket says nothing more is readable, but a bounded
  // number at a time, so that a flood of requests cannot hold the event loop.
  m_bytes_this_call = 0;
  for (int answered = 0; m_socket.get(zmq::sockopt::events) & ZMQ_POLLIN; ++answered) {
    if (answered == k_requests_per_call || m_bytes_this_call >= k_bytes_per_call) {
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
  send_small(envelope, message);
}

void ReplayServer::send_small(std::vector<zmq::message_t>& envelope, std::string_view error) {
  std::string body = R"({"error":)";
  util::append_json_string(body, error);
  body += "}";
  std::vector<zmq::message_t> frames;
  frames.emplace_back(body.data(), body.size());
  send(envelope, frames);
}

bool ReplayServer::send(std::vector<zmq::message_t>& envelope, std::vector<zmq::message_t>& frames) {
  try {
    // With ZMQ_ROUTER_MANDATORY only the first frame (the routing id) can fail: EAGAIN when the client's
    // queue is full, EHOSTUNREACH when it has gone. Nothing is queued then; the rest of a message always
    // follows.
    if (!m_socket.send(envelope.front(), k_more)) {
      ++m_counters.peer_full;
      return false;
    }
    for (std::size_t i = 1; i < envelope.size(); ++i) {
      m_socket.send(envelope[i], k_more);
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
      m_socket.send(frames[i], i + 1 == frames.size() ? zmq::send_flags::dontwait : k_more);
    }
    return true;
  } catch (const zmq::error_t&) {
    ++m_counters.peer_gone;
    return false;
  }
}

void ReplayServer::send_reply(std::vector<zmq::message_t>& envelope, std::size_t begin, std::size_t end,
                              const std::string& header) {
  if (begin == end) {
    std::vector<zmq::message_t> frames;
    frames.emplace_back(header.data(), header.size());
    send(envelope, frames);
    return;
  }
  std::vector<std::string_view> parts{header};
  parts.reserve(1 + 3 * (end - begin));
  for (std::size_t i = begin; i < end; ++i) {
    const RetainedMessage& message = m_retention.at(i);
    parts.insert(parts.end(), {message.topic(), message.body(), message.metadata()});
  }
  std::vector<zmq::message_t> frames = m_budget.make_reply(envelope.front().to_string_view(), parts);
  for (const zmq::message_t& frame : frames) {
    m_bytes_this_call += frame.size();
  }
  if (send(envelope, frames)) {
    m_counters.messages_replayed += end - begin;
  }
}

void ReplayServer::answer(std::vector<zmq::message_t>& envelope, const zmq::message_t& request) {
  const auto parsed = parse_replay_request(
      std::string_view(static_cast<const char*>(request.data()), request.size()), k_default_max);
  if (!parsed) {
    send_error(envelope, parsed.error());
    return;
  }
  const std::uint64_t since = parsed->since;
  const std::uint64_t max = std::min(parsed->max, k_max_per_request);
  // A page holds what fits in one reply and in what this client and all clients may still be sent.
  const ReplyBudget::Room room = m_budget.room_for(envelope.front().to_string_view());
  const std::size_t limit =
      std::min({m_limits.max_reply_bytes, without_header(room.client), without_header(room.total)});
  const std::size_t begin = m_retention.first_after(since);
  std::size_t end = begin;
  std::size_t bytes = 0;
  while (end < m_retention.size() && end - begin < max &&
         bytes + m_retention.at(end).frames.size() <= limit) {
    bytes += m_retention.at(end).frames.size();
    ++end;
  }
  if (end == begin && begin < m_retention.size()) {
    // The next message alone is over the limit. It goes alone when held bytes allow (a message larger than a
    // reply, to a client with nothing pending); otherwise the client is told to come back.
    const std::size_t size = m_retention.at(begin).frames.size();
    const bool client_allows = size <= without_header(room.client) || room.client_idle;
    if (!client_allows) {
      ++m_counters.client_busy;
      send_small(envelope, "busy: earlier replies to this client are still unread; read them and ask again");
      return;
    }
    if (size > without_header(room.total)) {
      ++m_counters.relay_busy;
      send_small(envelope, "busy: the relay holds too many unread replies; ask again later");
      return;
    }
    end = begin + 1;
  }
  const std::size_t count = end - begin;
  std::string header = fmt::format(R"({{"count":{},"next":{},"first_available":)", count,
                                   count ? m_retention.at(end - 1).relay_seq : since);
  append_optional(header, m_retention.first_available());
  header += R"(,"last_available":)";
  append_optional(header, m_retention.last_available());
  header += "}";
  send_reply(envelope, begin, end, header);
}

}  // namespace relay::publish

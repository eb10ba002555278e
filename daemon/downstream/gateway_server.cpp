#include "downstream/gateway_server.hpp"

#include <random>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "protocol/intents.hpp"
#include "util/json_writer.hpp"

namespace relay::downstream {
namespace {

// Close codes the platform uses for a client's faults (SPEC section 7).
constexpr int k_close_unknown_opcode = 4001;
constexpr int k_close_decode_error = 4002;
constexpr int k_close_auth_failed = 4004;
constexpr int k_close_invalid_session = 4006;
constexpr int k_close_invalid_seq = 4007;
constexpr int k_close_session_timed_out = 4009;
constexpr int k_close_invalid_shard = 4010;
constexpr int k_close_invalid_intent = 4013;
constexpr int k_close_disallowed_intent = 4014;

// Unacknowledged positions kept per session; past this the oldest count as acknowledged (a client that never
// sends its seq in heartbeats can then resume only from a recent position).
constexpr std::size_t k_max_unacked = 65536;
// The largest seq a Resume may name: what a JavaScript number holds exactly (the SDKs keep s in one), and
// far from wrapping the session's counter.
constexpr std::uint64_t k_max_seq = (std::uint64_t{1} << 53) - 1;
// A connection that never identifies is closed after this (or two heartbeat intervals, if longer).
constexpr util::Millis k_unidentified_grace{300'000};
// A connection told to close that has not closed after this is cut.
constexpr util::Millis k_close_grace{10'000};

std::uint32_t known_intents() {
  std::uint32_t bits = 0;
  for (const auto& intent : protocol::intent_table()) {
    bits |= intent.bit;
  }
  return bits;
}

std::string short_id(std::string_view session_id) {
  return std::string(session_id.substr(0, 8));
}

}  // namespace

struct GatewayServer::Session {
  std::string id;
  std::string client;
  SessionScope scope;
  ConnectionId connection = 0;  // 0 while detached
  util::TimePoint detached_at{};
  // The newest position the client acknowledged, and the newest it was sent (cursor: the relay_seq up to
  // which every message was considered for it).
  std::uint64_t acked_s = 1;
  std::uint64_t acked_relay_seq = 0;
  std::uint64_t sent_s = 1;
  std::uint64_t cursor = 0;
  // The highest s this numbering ever gave (a Resume from an older s sends again from there, under the
  // same numbers).
  std::uint64_t high_s = 1;
  // relay_seq of s = acked_s + 1 .. sent_s; unknown after a restart until the session resumes.
  std::deque<std::uint64_t> unacked;
  bool unacked_known = true;
  bool catching_up = false;  // sent from the retention, not live
  bool resumed = false;      // RESUMED is owed at the end of catching up
  // Read back after a restart: the newest position may be older than what the client was sent (a crash
  // before the last save), so a Resume past it is walked forward instead of refused.
  bool restored = false;
};

struct GatewayServer::Connection {
  ConnectionId id = 0;
  Session* session = nullptr;
  std::string client;  // once a token was accepted, for logs
  util::TimePoint last_heard{};
  bool closing = false;
  util::TimePoint closing_since{};
};

GatewayServer::GatewayServer(GatewayServerSettings settings, Transport& transport, Authenticator authenticate,
                             const publish::Retention& retention, std::uint64_t newest_relay_seq)
    : m_settings(settings),
      m_transport(transport),
      m_authenticate(std::move(authenticate)),
      m_retention(retention),
      m_newest_relay_seq(newest_relay_seq) {}

GatewayServer::~GatewayServer() = default;

void GatewayServer::on_open(ConnectionId id, util::TimePoint now) {
  m_now = now;
  auto connection = std::make_unique<Connection>();
  connection->id = id;
  connection->last_heard = now;
  m_connections[id] = std::move(connection);
  m_transport.send_text(id, fmt::format(R"({{"op":10,"d":{{"heartbeat_interval":{}}}}})",
                                        m_settings.heartbeat_interval.count()));
}

void GatewayServer::on_text(ConnectionId id, std::string_view text, util::TimePoint now) {
  const auto it = m_connections.find(id);
  if (it == m_connections.end() || it->second->closing) {
    return;
  }
  m_now = now;
  Connection& connection = *it->second;
  connection.last_heard = now;
  const protocol::DecodeResult decoded = m_decoder.decode(text);
  if (!decoded.frame || decoded.fault) {
    ++m_counters.bad_frames;
    const bool unknown = !decoded.fault && decoded.error == protocol::DecodeError::unknown_op;
    close(connection, unknown ? k_close_unknown_opcode : k_close_decode_error,
          unknown ? "invalid opcode" : "decode error");
    return;
  }
  const protocol::Frame& frame = *decoded.frame;
  switch (frame.op) {
    case protocol::k_op_heartbeat:
      on_heartbeat(connection, frame);
      return;
    case protocol::k_op_identify:
    case protocol::k_op_resume:
      if (connection.session != nullptr) {
        // A second Identify or Resume on a connection: the connection changes session, and the one it had
        // stays resumable. qq-official-bot sends one (two of its parts share a socket); closing with 4005
        // would leave it resuming a session with another session's seq, for ever.
        spdlog::info("downstream: client {} leaves session {} on its connection for another",
                     connection.client, short_id(connection.session->id));
        detach(connection);
      }
      if (frame.op == protocol::k_op_identify) {
        on_identify(connection, frame, now);
      } else {
        on_resume(connection, frame, now);
      }
      return;
    default:
      ++m_counters.bad_frames;
      close(connection, k_close_unknown_opcode, "invalid opcode");
      return;
  }
}

void GatewayServer::on_heartbeat(Connection& connection, const protocol::Frame& frame) {
  // `d` is the client's newest s (null before any); Koishi's adapter sends it as `s` instead.
  std::optional<std::uint64_t> seq = frame.s;
  std::uint64_t value = 0;
  if (!frame.d_raw.empty()) {
    simdjson::dom::element d;
    if (m_parser.parse(frame.d_raw.data(), frame.d_raw.size()).get(d) == simdjson::SUCCESS &&
        d.get_uint64().get(value) == simdjson::SUCCESS) {
      seq = value;
    }
  }
  Session* session = connection.session;
  if (seq && session != nullptr && session->unacked_known && *seq > session->acked_s &&
      *seq <= session->sent_s) {
    const std::uint64_t advance = *seq - session->acked_s;
    session->acked_relay_seq = session->unacked[advance - 1];
    session->unacked.erase(session->unacked.begin(), session->unacked.begin() + static_cast<long>(advance));
    session->acked_s = *seq;
  }
  m_transport.send_text(connection.id, R"({"op":11})");
}

void GatewayServer::on_identify(Connection& connection, const protocol::Frame& frame, util::TimePoint now) {
  simdjson::dom::element d;
  std::string_view token;
  std::uint64_t intents = 0;
  // Without d, d_raw may be a null view, which the parser must not be given.
  if (frame.d_raw.empty() ||
      m_parser.parse(frame.d_raw.data(), frame.d_raw.size()).get(d) != simdjson::SUCCESS ||
      d["token"].get(token) != simdjson::SUCCESS || d["intents"].get(intents) != simdjson::SUCCESS) {
    ++m_counters.bad_frames;
    close(connection, k_close_decode_error, "decode error: identify needs token and intents");
    return;
  }
  std::uint64_t index = 0;
  std::uint64_t count = 1;
  simdjson::dom::element shard;
  if (d["shard"].get(shard) == simdjson::SUCCESS && !shard.is_null()) {
    if (shard.at(0).get(index) != simdjson::SUCCESS || shard.at(1).get(count) != simdjson::SUCCESS) {
      close(connection, k_close_invalid_shard, "invalid shard");
      return;
    }
  }
  const auto client = m_authenticate(token, now);
  if (!client) {
    if (m_bad_token_log.allow(now)) {
      spdlog::warn("downstream: an Identify with a token that is no client's; closing with 4004{}",
                   m_bad_token_log.take_held_back_note());
    }
    close(connection, k_close_auth_failed, "authentication failed");
    return;
  }
  connection.client = *client;
  if (intents == 0 || (intents & ~static_cast<std::uint64_t>(known_intents())) != 0) {
    spdlog::warn("downstream: client {} asked for invalid intents {}; closing with 4013", *client, intents);
    close(connection, k_close_invalid_intent, "invalid intent");
    return;
  }
  if ((intents & ~static_cast<std::uint64_t>(m_settings.allowed_intents)) != 0) {
    spdlog::warn(
        "downstream: client {} asked for intents the relay does not receive ({}); closing with 4014", *client,
        protocol::describe_intents(static_cast<std::uint32_t>(intents) & ~m_settings.allowed_intents));
    close(connection, k_close_disallowed_intent, "disallowed intent");
    return;
  }
  if (count == 0 || count > m_settings.max_shard_count || index >= count) {
    spdlog::warn("downstream: client {} identified as shard [{}, {}]; closing with 4010", *client, index,
                 count);
    close(connection, k_close_invalid_shard, "invalid shard");
    return;
  }
  auto session = std::make_unique<Session>();
  session->id = new_session_id();
  session->client = *client;
  session->scope = SessionScope{static_cast<std::uint32_t>(intents), static_cast<unsigned>(index),
                                static_cast<unsigned>(count)};
  session->connection = connection.id;
  session->acked_relay_seq = m_newest_relay_seq;
  session->cursor = m_newest_relay_seq;
  connection.session = session.get();
  std::string ready = R"({"op":0,"s":1,"t":"READY","d":{"version":1,"session_id":)";
  util::append_json_string(ready, session->id);
  ready += R"(,"user":)";
  ready += m_bot_user.empty() ? R"({"id":"","username":"","bot":true})" : m_bot_user;
  fmt::format_to(std::back_inserter(ready), R"(,"shard":[{},{}]}}}})", index, count);
  m_transport.send_text(connection.id, ready);
  ++m_counters.sessions_started;
  spdlog::info("downstream: session {} started for client {} (intents {}, shard [{}, {}])",
               short_id(session->id), *client, protocol::describe_intents(session->scope.intents), index,
               count);
  m_sessions.emplace(session->id, std::move(session));
}

void GatewayServer::on_resume(Connection& connection, const protocol::Frame& frame, util::TimePoint now) {
  simdjson::dom::element d;
  std::string_view token;
  std::string_view session_id;
  std::uint64_t seq = 0;
  if (frame.d_raw.empty() ||
      m_parser.parse(frame.d_raw.data(), frame.d_raw.size()).get(d) != simdjson::SUCCESS ||
      d["token"].get(token) != simdjson::SUCCESS || d["session_id"].get(session_id) != simdjson::SUCCESS) {
    ++m_counters.bad_frames;
    close(connection, k_close_decode_error, "decode error: resume needs token, session_id and seq");
    return;
  }
  simdjson::dom::element seq_value;
  if (d["seq"].get(seq_value) == simdjson::SUCCESS && !seq_value.is_null() &&
      seq_value.get_uint64().get(seq) != simdjson::SUCCESS) {
    close(connection, k_close_invalid_seq, "invalid seq");
    return;
  }
  const auto client = m_authenticate(token, now);
  if (!client) {
    if (m_bad_token_log.allow(now)) {
      spdlog::warn("downstream: a Resume with a token that is no client's; closing with 4004{}",
                   m_bad_token_log.take_held_back_note());
    }
    close(connection, k_close_auth_failed, "authentication failed");
    return;
  }
  connection.client = *client;
  const auto it = m_sessions.find(std::string(session_id));
  if (it == m_sessions.end() || it->second->client != *client) {
    invalid_session(connection, fmt::format("client {} resumed session {}, which this relay does not have",
                                            *client, short_id(session_id)));
    return;
  }
  Session& session = *it->second;
  std::uint64_t relay_seq = 0;
  switch (locate(session, seq, relay_seq)) {
    case Locate::lost:
      spdlog::warn(
          "downstream: client {} resumed session {} at s={}, but events it missed are no longer retained; "
          "it must identify again (op 9)",
          *client, short_id(session.id), seq);
      invalid_session(connection, {});
      if (session.connection == 0) {
        m_sessions.erase(it);  // a live one stays with its connection
      }
      return;
    case Locate::bad_seq:
      spdlog::warn(
          "downstream: client {} resumed session {} at s={}, before what it acknowledged; closing with 4007",
          *client, short_id(session.id), seq);
      close(connection, k_close_invalid_seq, "invalid seq");
      return;
    case Locate::ahead:
      spdlog::info(
          "downstream: client {} resumed session {} at s={}, past the newest it was sent ({}); its "
          "numbering continues from there",
          *client, short_id(session.id), seq, session.sent_s);
      break;
    case Locate::found:
      break;
  }
  if (session.connection != 0) {
    // The client came back before its old connection was noticed dead: the new connection takes over. Only a
    // Resume that is honoured does, so that a stray one (an SDK racing two sockets) cannot end a live
    // session.
    const auto old = m_connections.find(session.connection);
    if (old != m_connections.end()) {
      close(*old->second, k_close_session_timed_out, "session resumed on another connection");
    }
  }
  session.acked_s = seq;
  session.acked_relay_seq = relay_seq;
  session.sent_s = seq;
  session.high_s = std::max(session.high_s, seq);
  session.cursor = relay_seq;
  session.unacked.clear();
  session.unacked_known = true;
  session.restored = false;
  session.catching_up = true;
  session.resumed = true;
  session.connection = connection.id;
  connection.session = &session;
  spdlog::info("downstream: client {} resumes session {} after s={}", *client, short_id(session.id), seq);
  pump(session);
}

GatewayServer::Locate GatewayServer::locate(const Session& session, std::uint64_t seq,
                                            std::uint64_t& relay_seq) const {
  if (seq < session.acked_s || seq > k_max_seq) {
    return Locate::bad_seq;
  }
  if (seq == session.acked_s) {
    relay_seq = session.acked_relay_seq;
    return m_retention.covers_after(relay_seq) ? Locate::found : Locate::lost;
  }
  if (session.unacked_known && seq <= session.sent_s) {
    relay_seq = session.unacked[seq - session.acked_s - 1];
    return m_retention.covers_after(relay_seq) ? Locate::found : Locate::lost;
  }
  if (seq == session.sent_s) {
    // The newest position is known exactly, whatever came before it.
    relay_seq = session.cursor;
    return m_retention.covers_after(relay_seq) ? Locate::found : Locate::lost;
  }
  // Walk forward from the newest position known to be at or before `seq`. A seq past the highest this
  // numbering gave means the client has everything it was sent (qq-official-bot resumes a new session with
  // the seq of its old one): the walk stops at that highest, and the client's own number goes on from there.
  // A session read back after a restart walks to `seq` itself: its saved newest point may lag (a crash).
  const std::uint64_t target = !session.restored && seq > session.high_s ? session.high_s : seq;
  std::uint64_t s = session.acked_s;
  std::uint64_t at = session.acked_relay_seq;
  if (session.unacked_known) {
    s = session.sent_s;
    at = session.cursor;
  }
  if (!m_retention.covers_after(at)) {
    return Locate::lost;
  }
  for (std::size_t i = m_retention.first_after(at); i < m_retention.size() && s < target; ++i) {
    const publish::RetainedMessage& message = m_retention.at(i);
    const FrameLayout layout = scan_frame(message.body());
    EventFacts facts(layout);
    if (facts.in(session.scope)) {
      ++s;
      at = message.relay_seq;
    }
  }
  relay_seq = at;
  // Past everything retained, too, the client has all of it and keeps its own number.
  return s == seq ? Locate::found : Locate::ahead;
}

void GatewayServer::pump(Session& session) {
  const ConnectionId id = session.connection;
  while (true) {
    if (!m_retention.covers_after(session.cursor)) {
      const auto it = m_connections.find(id);
      spdlog::warn("downstream: session {} of client {} fell behind the retention while catching up; op 9",
                   short_id(session.id), session.client);
      const std::string doomed = session.id;
      if (it != m_connections.end()) {
        it->second->session = nullptr;
        invalid_session(*it->second, {});
      }
      m_sessions.erase(doomed);
      return;
    }
    std::size_t i = m_retention.first_after(session.cursor);
    if (i >= m_retention.size()) {
      session.catching_up = false;
      session.cursor = std::max(session.cursor, m_newest_relay_seq);
      if (session.resumed) {
        session.resumed = false;
        m_transport.send_text(id, fmt::format(R"({{"op":0,"s":{},"t":"RESUMED","d":""}})", session.sent_s));
        ++m_counters.resumes;
      }
      return;
    }
    for (; i < m_retention.size(); ++i) {
      if (m_transport.buffered(id) >= m_settings.max_client_buffer / 2) {
        return;  // on_writable continues
      }
      const publish::RetainedMessage& message = m_retention.at(i);
      const FrameLayout layout = scan_frame(message.body());
      EventFacts facts(layout);
      if (facts.in(session.scope)) {
        send_event(session, message.body(), layout, message.relay_seq);
      }
      session.cursor = message.relay_seq;
    }
  }
}

void GatewayServer::send_event(Session& session, std::string_view body, const FrameLayout& layout,
                               std::uint64_t relay_seq) {
  m_scratch.clear();
  append_with_seq(m_scratch, body, layout, ++session.sent_s);
  session.high_s = std::max(session.high_s, session.sent_s);
  m_transport.send_text(session.connection, m_scratch);
  session.unacked.push_back(relay_seq);
  if (session.unacked.size() > k_max_unacked) {
    session.acked_relay_seq = session.unacked.front();
    session.unacked.pop_front();
    ++session.acked_s;
  }
  ++m_counters.events_sent;
}

void GatewayServer::deliver(const publish::OutgoingMessage& message) {
  const std::uint64_t previous = m_newest_relay_seq;
  m_newest_relay_seq = message.relay_seq;
  if (m_sessions.empty()) {
    return;  // nobody to send to: the hot path pays nothing for a gateway no bot uses
  }
  const FrameLayout layout = scan_frame(message.body);
  EventFacts facts(layout);
  // A detached session has missed nothing while nothing for it was published: its position follows, so that a
  // Resume needs no retention for what it would only skip (after a restart without the journal, the shard
  // state messages published at the stop).
  for (auto& [id, session] : m_sessions) {
    if (session->connection == 0 && session->cursor == previous && !facts.in(session->scope)) {
      session->cursor = message.relay_seq;
    }
  }
  std::vector<Connection*> overflowed;
  for (auto& [id, connection] : m_connections) {
    Session* session = connection->session;
    if (session == nullptr || session->catching_up || connection->closing) {
      continue;
    }
    if (facts.in(session->scope)) {
      send_event(*session, message.body, layout, message.relay_seq);
      if (m_transport.buffered(id) > m_settings.max_client_buffer) {
        overflowed.push_back(connection.get());
      }
    }
    session->cursor = message.relay_seq;
  }
  for (Connection* connection : overflowed) {
    ++m_counters.buffer_overflows;
    spdlog::warn(
        "downstream: client {} reads too slowly (more than {} bytes queued); closing session {} with "
        "4009 so that it resumes",
        connection->client, m_settings.max_client_buffer, short_id(connection->session->id));
    close(*connection, k_close_session_timed_out, "client too slow");
  }
}

void GatewayServer::on_writable(ConnectionId id) {
  const auto it = m_connections.find(id);
  if (it == m_connections.end() || it->second->closing || it->second->session == nullptr) {
    return;
  }
  if (it->second->session->catching_up) {
    pump(*it->second->session);
  }
}

void GatewayServer::invalid_session(Connection& connection, std::string_view why) {
  if (!why.empty()) {
    spdlog::warn("downstream: {}; op 9", why);
  }
  ++m_counters.resumes_refused;
  m_transport.send_text(connection.id, R"({"op":9,"d":false})");
  // Then a close every SDK takes as "identify anew": some ignore op 9 alone and would sit on the connection
  // with no session (tests/sdk/README.md).
  close(connection, k_close_invalid_session, "session no longer valid");
}

void GatewayServer::close(Connection& connection, int code, std::string_view reason) {
  if (connection.closing) {
    return;
  }
  if (!connection.client.empty()) {
    spdlog::info("downstream: closing the connection of client {}{} with {} ({})", connection.client,
                 connection.session ? " (session " + short_id(connection.session->id) + ")" : std::string(),
                 code, reason);
  } else if (m_unidentified_close_log.allow(m_now)) {
    spdlog::info("downstream: closing the connection of an unidentified client with {} ({}){}", code, reason,
                 m_unidentified_close_log.take_held_back_note());
  }
  m_transport.close(connection.id, code, reason);
  connection.closing = true;
  connection.closing_since = m_now;
  ++m_counters.closes[code];
  detach(connection);
}

void GatewayServer::detach(Connection& connection) {
  Session* session = connection.session;
  if (session == nullptr) {
    return;
  }
  session->connection = 0;
  session->catching_up = false;
  session->resumed = false;
  session->detached_at = m_now;
  connection.session = nullptr;
  // The session just detached is the newest: it is spared, since a caller may go on using it (a Resume
  // taking it over from this connection).
  while (detached_sessions() > m_settings.max_detached && forget_oldest_detached(session)) {
  }
}

void GatewayServer::on_closed(ConnectionId id, util::TimePoint now) {
  const auto it = m_connections.find(id);
  if (it == m_connections.end()) {
    return;
  }
  m_now = now;
  Connection& connection = *it->second;
  if (const Session* session = connection.session) {
    spdlog::info("downstream: the connection of client {} (session {}) closed; the session can be resumed",
                 session->client, short_id(session->id));
  }
  detach(connection);
  m_connections.erase(it);
}

bool GatewayServer::forget_oldest_detached(const Session* spare) {
  auto oldest = m_sessions.end();
  for (auto it = m_sessions.begin(); it != m_sessions.end(); ++it) {
    if (it->second->connection == 0 && it->second.get() != spare &&
        (oldest == m_sessions.end() || it->second->detached_at < oldest->second->detached_at)) {
      oldest = it;
    }
  }
  if (oldest == m_sessions.end()) {
    return false;
  }
  m_sessions.erase(oldest);
  return true;
}

void GatewayServer::on_tick(util::TimePoint now) {
  m_now = now;
  const auto deadline = m_settings.heartbeat_interval * 2;
  // A connection that never identified gets longer: qq-official-bot opens a second socket after every close
  // and leaves it silent, and closing that one makes it reconnect both again. Still bounded, and capped by
  // api.max_connections.
  const auto idle_deadline = std::max<util::Millis>(deadline, k_unidentified_grace);
  std::vector<Connection*> silent;
  for (auto& [id, connection] : m_connections) {
    if (connection->closing) {
      if (now - connection->closing_since > k_close_grace) {
        m_transport.abort(id);  // a client that does not read its close frame
      }
      continue;
    }
    const bool identified = !connection->client.empty();
    if (now - connection->last_heard > (identified ? deadline : idle_deadline)) {
      silent.push_back(connection.get());
    }
  }
  for (Connection* connection : silent) {
    close(*connection, k_close_session_timed_out, "session timed out");
  }
  for (auto it = m_sessions.begin(); it != m_sessions.end();) {
    Session& session = *it->second;
    const bool expired = session.connection == 0 && session.detached_at != util::TimePoint{} &&
                         (now - session.detached_at > m_settings.detached_lifetime ||
                          !m_retention.covers_after(session.cursor));
    it = expired ? m_sessions.erase(it) : std::next(it);
  }
}

void GatewayServer::end_all_sessions(std::string_view reason) {
  for (auto& [id, connection] : m_connections) {
    if (!connection->closing) {
      m_transport.send_text(id, R"({"op":7,"d":false})");
      close(*connection, k_close_session_timed_out, reason);
    }
  }
}

void GatewayServer::end_sessions_unless(const std::function<bool(std::string_view client)>& allowed) {
  std::vector<Connection*> revoked;
  for (auto& [id, connection] : m_connections) {
    if (!connection->closing && !connection->client.empty() && !allowed(connection->client)) {
      revoked.push_back(connection.get());
    }
  }
  for (Connection* connection : revoked) {
    spdlog::info("downstream: client {} is no longer in the clients file", connection->client);
    const std::string session_id = connection->session ? connection->session->id : std::string();
    close(*connection, k_close_auth_failed, "authentication failed");
    m_sessions.erase(session_id);
  }
  for (auto it = m_sessions.begin(); it != m_sessions.end();) {
    it = allowed(it->second->client) ? std::next(it) : m_sessions.erase(it);
  }
}

std::vector<SavedSession> GatewayServer::saved_sessions() const {
  std::vector<SavedSession> saved;
  saved.reserve(m_sessions.size());
  for (const auto& [id, session] : m_sessions) {
    saved.push_back(SavedSession{session->id, session->client, session->scope, session->acked_s,
                                 session->acked_relay_seq, session->sent_s, session->cursor});
  }
  return saved;
}

void GatewayServer::restore(const std::vector<SavedSession>& sessions, util::TimePoint now) {
  for (const auto& saved : sessions) {
    auto session = std::make_unique<Session>();
    session->id = saved.session_id;
    session->client = saved.client;
    session->scope = saved.scope;
    session->acked_s = saved.acked_s;
    session->acked_relay_seq = saved.acked_relay_seq;
    session->sent_s = saved.sent_s;
    session->high_s = saved.sent_s;
    session->cursor = saved.sent_relay_seq;
    session->unacked_known = saved.acked_s == saved.sent_s;
    session->restored = true;
    session->detached_at = now;
    m_sessions.emplace(session->id, std::move(session));
  }
}

std::size_t GatewayServer::live_sessions() const {
  std::size_t live = 0;
  for (const auto& [id, connection] : m_connections) {
    live += connection->session != nullptr ? 1 : 0;
  }
  return live;
}

std::size_t GatewayServer::detached_sessions() const {
  return m_sessions.size() - live_sessions();
}

std::string GatewayServer::new_session_id() {
  static thread_local std::random_device device;
  std::uniform_int_distribution<std::uint32_t> word;
  const std::uint32_t a = word(device);
  const std::uint32_t b = word(device);
  const std::uint32_t c = word(device);
  const std::uint32_t e = word(device);
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:04x}{:08x}", a, b >> 16, (b & 0x0fff) | 0x4000,
                     (c >> 16 & 0x3fff) | 0x8000, c & 0xffff, e);
}

}  // namespace relay::downstream

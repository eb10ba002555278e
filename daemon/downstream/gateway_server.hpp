#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "downstream/event_scope.hpp"
#include "downstream/saved_session.hpp"
#include "protocol/frame.hpp"
#include "publish/outlet.hpp"
#include "publish/retention.hpp"
#include "util/log_throttle.hpp"
#include "util/time.hpp"

namespace relay::downstream {

// One WebSocket connection of an SDK bot, as the transport numbers it.
using ConnectionId = std::uint64_t;

// How the gateway reaches its clients: text messages and close frames, over whatever carries them.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send_text(ConnectionId connection, std::string_view payload) = 0;
  // Bytes queued for the connection and not yet written to its socket.
  virtual std::size_t buffered(ConnectionId connection) const = 0;
  // Sends a close frame after what is queued, then closes. on_closed() follows later.
  virtual void close(ConnectionId connection, int code, std::string_view reason) = 0;
  // Cuts the connection without waiting for its queue (a client that stopped reading). on_closed() follows.
  virtual void abort(ConnectionId connection) = 0;
};

// The client an Identify or Resume token belongs to (its name, for logs and for matching a Resume to the
// session it resumes), or nothing when the token is nobody's.
using Authenticator = std::function<std::optional<std::string>(std::string_view token, util::TimePoint now)>;

struct GatewayServerSettings {
  util::Millis heartbeat_interval{41'250};
  // A live session's queue past this is closed with 4009, so that the client resumes from retention.
  std::size_t max_client_buffer = 8 << 20;
  // Intents a client may ask for (what reaches the relay's bus); others close with 4014.
  std::uint32_t allowed_intents = 0xffffffffu;
  unsigned max_shard_count = 1024;
  // Sessions whose connection is gone are kept for a Resume, at most this many (the oldest go first) and
  // this long, and only while the retention still holds what they missed.
  std::size_t max_detached = 1000;
  util::Millis detached_lifetime{24 * 3'600'000};
};

struct GatewayServerCounters {
  std::uint64_t sessions_started = 0;   // READY sent
  std::uint64_t resumes = 0;            // RESUMED sent
  std::uint64_t resumes_refused = 0;    // op 9 on a Resume
  std::uint64_t events_sent = 0;        // dispatches, replays included
  std::uint64_t buffer_overflows = 0;   // closed with 4009 because the client read too slowly
  std::uint64_t bad_frames = 0;         // closed with 4001/4002 for what the client sent
  std::map<int, std::uint64_t> closes;  // by the close code the relay sent
};

// The QQ gateway protocol served to SDK bots (SPEC sections 4-7 from the server's side), as a state machine:
// connections, their text messages and the current time go in; Hello, READY, dispatches, heartbeat ACKs and
// closes go out through the Transport. Every published message comes in as an Outlet; a session is sent the
// Dispatches of its scope, each with the session's own `s` and otherwise byte for byte.
//
// A session's `s` values map to relay_seq values: READY is s = 1 at the relay_seq that was newest when the
// session started, and each event sent takes the next s. Which events a session is sent depends only on
// the event and the session's scope, so from any known (s, relay_seq) pair the mapping can be walked forward
// through the retention: that is how a Resume finds where the client stopped, even after a relay restart,
// where only a session's acknowledged position and newest position were saved.
class GatewayServer final : public publish::Outlet {
 public:
  GatewayServer(GatewayServerSettings settings, Transport& transport, Authenticator authenticate,
                const publish::Retention& retention, std::uint64_t newest_relay_seq);
  ~GatewayServer() override;
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  // The bot's own user object (raw JSON), for READY: the platform's READY or /users/@me gives it.
  void set_bot_user(std::string user_json) { m_bot_user = std::move(user_json); }
  const std::string& bot_user() const { return m_bot_user; }

  // Connections.
  void on_open(ConnectionId connection, util::TimePoint now);
  void on_text(ConnectionId connection, std::string_view text, util::TimePoint now);
  // The transport's queue for the connection emptied: a session catching up sends more.
  void on_writable(ConnectionId connection);
  void on_closed(ConnectionId connection, util::TimePoint now);
  // Heartbeat deadlines and the expiry of detached sessions; call about once a second.
  void on_tick(util::TimePoint now);

  void deliver(const publish::OutgoingMessage& message) override;

  // Before the relay stops: op 7 and a 4009 close to every connection, so that each client resumes, from
  // this process's saved sessions, on the next one.
  void end_all_sessions(std::string_view reason);

  // After the clients list changed: sessions of clients no longer allowed end (4004 on a live connection; a
  // detached one is forgotten).
  void end_sessions_unless(const std::function<bool(std::string_view client)>& allowed);

  // Every session that can be resumed (live or detached), to save; and back after a restart.
  std::vector<SavedSession> saved_sessions() const;
  void restore(const std::vector<SavedSession>& sessions, util::TimePoint now);

  std::size_t connections() const { return m_connections.size(); }
  std::size_t live_sessions() const;
  std::size_t detached_sessions() const;
  const GatewayServerCounters& counters() const { return m_counters; }
  const GatewayServerSettings& settings() const { return m_settings; }
  void set_max_client_buffer(std::size_t bytes) { m_settings.max_client_buffer = bytes; }

 private:
  struct Session;
  struct Connection;

  void on_heartbeat(Connection& connection, const protocol::Frame& frame);
  void on_identify(Connection& connection, const protocol::Frame& frame, util::TimePoint now);
  void on_resume(Connection& connection, const protocol::Frame& frame, util::TimePoint now);
  void invalid_session(Connection& connection, std::string_view why);
  void close(Connection& connection, int code, std::string_view reason);
  // The session (if any) outlives the connection, for a Resume.
  void detach(Connection& connection);
  // Sends what a catching-up session has not been sent yet, while its queue has room; RESUMED at the end.
  void pump(Session& session);
  void send_event(Session& session, std::string_view body, const FrameLayout& layout,
                  std::uint64_t relay_seq);
  // The relay_seq at which the session sent `seq`, walking the retention where needed.
  // found: `relay_seq` is where the client's seq is; ahead: the client claims more than the session was sent,
  // and `relay_seq` is the newest position; bad_seq: below what it acknowledged; lost: no longer retained.
  enum class Locate { found, ahead, bad_seq, lost };
  Locate locate(const Session& session, std::uint64_t seq, std::uint64_t& relay_seq) const;
  std::string new_session_id();
  // Whether a detached session other than `spare` was there to forget.
  bool forget_oldest_detached(const Session* spare);

  GatewayServerSettings m_settings;
  Transport& m_transport;
  Authenticator m_authenticate;
  const publish::Retention& m_retention;
  std::uint64_t m_newest_relay_seq;
  std::string m_bot_user;
  protocol::FrameDecoder m_decoder;
  simdjson::dom::parser m_parser;  // the d of client frames; kept, so that a frame costs no allocation
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> m_connections;
  std::unordered_map<std::string, std::unique_ptr<Session>> m_sessions;  // by session id
  std::string m_scratch;
  util::TimePoint m_now{};  // of the newest input
  GatewayServerCounters m_counters;
  // Lines about connections that no client's token vouches for: anyone can open them, so at most one line
  // per 10 s each (the counters count them all).
  util::LogThrottle m_unidentified_close_log;
  util::LogThrottle m_bad_token_log;
};

}  // namespace relay::downstream

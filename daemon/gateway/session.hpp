#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "gateway/actions.hpp"
#include "protocol/frame.hpp"
#include "util/backoff.hpp"
#include "util/time.hpp"

namespace relay::gateway {

struct ShardId {
  unsigned index = 0;
  unsigned count = 1;
};

struct SessionSettings {
  ShardId shard;
  std::uint32_t intents = 1;
  util::Millis hello_timeout{10'000};
  util::Millis ready_timeout{20'000};
  util::Millis backoff_base{1'000};
  util::Millis backoff_cap{60'000};
  util::Millis stable_after{60'000};          // a connection up this long resets the backoff
  util::Millis invalid_session_pause{3'000};  // op 9
  util::Millis rate_limited_pause{10'000};    // close 4008
  unsigned max_resume_failures = 2;           // then identify instead
  unsigned max_bounded_retries = 5;           // 4001/4002 identifies, 4004 token refreshes
  std::uint64_t random_seed = 0;
};

// Close codes the relay itself sends. Never 1000/1001: those end the session on the platform side.
inline constexpr int k_close_keep_session = 4000;

enum class Phase {
  idle,                  // not started
  waiting_to_reconnect,  // backing off before the next connect
  connecting,            // Connect issued, waiting for on_connected
  waiting_hello,
  waiting_identify_slot,  // Hello received, no session to resume, waiting for the pacer
  identifying,            // Identify sent, waiting for READY
  resuming,               // Resume sent, waiting for RESUMED
  ready,
  stopped,
};
std::string_view to_string(Phase phase);

struct SessionCounters {
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t heartbeat_acks = 0;
  std::uint64_t zombies = 0;
  std::uint64_t identifies = 0;
  std::uint64_t resumes = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t dispatches = 0;
  std::uint64_t malformed_dispatches = 0;  // passed over unpublished: not one JSON document in UTF-8
};

// One shard's gateway session as a pure state machine (SPEC section 6): the driver feeds it connection
// events, decoded frames and the current monotonic time; it answers with Actions. It owns every protocol
// decision (heartbeats, zombies, resume or identify, backoff, close codes) and does no I/O of its own.
//
// After every call the driver re-arms one timer for next_deadline() and calls on_tick when it fires.
class Session {
 public:
  explicit Session(SessionSettings settings);

  // The full token string for Identify and Resume ("QQBot <access_token>" or "Bot <app_id>.<token>").
  void set_token(std::string token) {
    m_token = std::move(token);
    m_token_refused = false;
  }
  // A token fetched after a RefreshToken action: a connection held for it starts now.
  void on_token(std::string token, util::TimePoint now, Actions& out);

  // A session saved by an earlier run: the first connection resumes it.
  void restore(std::string session_id, std::uint64_t last_seq);

  void start(util::TimePoint now, Actions& out);
  void on_connected(util::TimePoint now, Actions& out);
  // `raw` is the frame exactly as received; Publish actions point into it.
  void on_frame(const protocol::Frame& frame, std::string_view raw, util::TimePoint now, Actions& out);
  // The socket closed: `code` is the peer's close code, or 1006 when there was no close frame.
  void on_closed(int code, std::string_view reason, util::TimePoint now, Actions& out);
  void on_identify_permitted(util::TimePoint now, Actions& out);
  void on_tick(util::TimePoint now, Actions& out);
  // Graceful stop: close the socket without ending the session, so that the next run can resume it.
  // `will_resume` is what subscribers are told: false when the caller is about to discard the session.
  void shutdown(Actions& out, std::string_view reason = "relay shutting down", bool will_resume = true);

  std::optional<util::TimePoint> next_deadline() const { return m_deadline; }
  Phase phase() const { return m_phase; }
  const ShardId& shard() const { return m_settings.shard; }
  const std::string& session_id() const { return m_session_id; }
  // The `s` of the last Dispatch published; what a restart resumes from.
  std::optional<std::uint64_t> last_published_seq() const { return m_last_published_seq; }
  std::optional<util::Millis> last_heartbeat_rtt() const { return m_last_rtt; }
  const SessionCounters& counters() const { return m_counters; }

 private:
  void handle_dispatch(const protocol::Frame& frame, std::string_view raw, util::TimePoint now, Actions& out);
  void handle_hello(const protocol::Frame& frame, util::TimePoint now, Actions& out);
  void send_heartbeat(util::TimePoint now, Actions& out);
  void connect(util::TimePoint now, Actions& out);
  // The connection is gone (closed by either side): schedule the next one.
  void reconnect_after_close(bool resume, util::Millis delay, int code, std::string_view reason,
                             util::TimePoint now, Actions& out);
  void clear_connection();
  void count_resume_failure();
  void drop_session();
  void stop(StopCategory category, int code, Actions& out);
  void recompute_deadline();
  util::Millis backoff_delay();

  SessionSettings m_settings;
  std::string m_token;
  Phase m_phase = Phase::idle;

  std::string m_session_id;
  std::optional<std::uint64_t> m_last_seq;            // last `s` received, carried by heartbeats
  std::optional<std::uint64_t> m_last_published_seq;  // last `s` published in this session

  util::Millis m_heartbeat_interval{0};
  std::optional<util::TimePoint> m_heartbeat_due;
  std::optional<util::TimePoint> m_heartbeat_sent_at;
  bool m_awaiting_ack = false;
  std::optional<util::Millis> m_last_rtt;

  std::optional<util::TimePoint> m_phase_deadline;  // hello, ready, or reconnect deadline
  std::optional<util::TimePoint> m_deadline;
  std::optional<util::TimePoint> m_ready_at;

  bool m_resume_next = false;  // the next connection resumes instead of identifying
  // The gateway refused m_token (4004): the next connection waits for a new one, or its Identify or Resume
  // would carry the refused token again.
  bool m_token_refused = false;
  unsigned m_resume_failures = 0;
  unsigned m_bounded_failures = 0;
  util::Backoff m_backoff;
  std::mt19937_64 m_random;

  SessionCounters m_counters;
};

}  // namespace relay::gateway

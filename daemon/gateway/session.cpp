#include "gateway/session.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "protocol/intents.hpp"
#include "protocol/messages.hpp"

namespace relay::gateway {

using protocol::Frame;
using util::Millis;
using util::TimePoint;

std::string_view to_string(ShardState state) {
  switch (state) {
    case ShardState::connecting:
      return "connecting";
    case ShardState::ready:
      return "ready";
    case ShardState::resumed:
      return "resumed";
    case ShardState::disconnected:
      return "disconnected";
    case ShardState::stopped:
      return "stopped";
  }
  return "unknown";
}

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::idle:
      return "idle";
    case Phase::waiting_to_reconnect:
      return "waiting_to_reconnect";
    case Phase::connecting:
      return "connecting";
    case Phase::waiting_hello:
      return "waiting_hello";
    case Phase::waiting_identify_slot:
      return "waiting_identify_slot";
    case Phase::identifying:
      return "identifying";
    case Phase::resuming:
      return "resuming";
    case Phase::ready:
      return "ready";
    case Phase::stopped:
      return "stopped";
  }
  return "unknown";
}

Session::Session(SessionSettings settings)
    : m_settings(settings),
      m_backoff(settings.backoff_base, settings.backoff_cap),
      m_random(settings.random_seed) {}

void Session::restore(std::string session_id, std::uint64_t last_seq) {
  m_session_id = std::move(session_id);
  m_last_seq = last_seq;
  m_last_published_seq = last_seq;
}

void Session::start(TimePoint now, Actions& out) {
  if (m_phase != Phase::idle) {
    return;
  }
  m_resume_next = !m_session_id.empty();
  connect(now, out);
  recompute_deadline();
}

void Session::on_connected(TimePoint now, Actions& /*out*/) {
  if (m_phase != Phase::connecting) {
    return;
  }
  m_phase = Phase::waiting_hello;
  m_phase_deadline = now + m_settings.hello_timeout;
  recompute_deadline();
}

void Session::on_token(std::string token, TimePoint now, Actions& out) {
  set_token(std::move(token));
  // Waiting to reconnect with no deadline: the reconnect delay ran out while the token was awaited.
  if (m_phase == Phase::waiting_to_reconnect && !m_phase_deadline) {
    connect(now, out);
  }
  recompute_deadline();
}

void Session::connect(TimePoint now, Actions& out) {
  m_phase = Phase::connecting;
  m_phase_deadline = now + m_settings.hello_timeout;
  out.push_back(StateChanged{ShardState::connecting, 0, {}, false});
  out.push_back(Connect{});
}

void Session::on_frame(const Frame& frame, std::string_view raw, TimePoint now, Actions& out) {
  if (m_phase < Phase::waiting_hello || m_phase == Phase::stopped) {
    return;
  }
  switch (frame.op) {
    case protocol::k_op_hello:
      handle_hello(frame, now, out);
      break;
    case protocol::k_op_heartbeat_ack:
      m_awaiting_ack = false;
      ++m_counters.heartbeat_acks;
      if (m_heartbeat_sent_at) {
        m_last_rtt = std::chrono::duration_cast<Millis>(now - *m_heartbeat_sent_at);
      }
      break;
    case protocol::k_op_heartbeat:
      // The server asks for a heartbeat now (Discord semantics); the regular schedule is unchanged.
      out.push_back(Send{protocol::heartbeat_frame(m_last_seq)});
      ++m_counters.heartbeats_sent;
      break;
    case protocol::k_op_reconnect:
      out.push_back(Close{k_close_keep_session, "reconnect requested (op 7)"});
      reconnect_after_close(true, Millis(0), 0, "reconnect requested (op 7)", now, out);
      break;
    case protocol::k_op_invalid_session:
      out.push_back(Close{k_close_keep_session, "invalid session (op 9)"});
      if (frame.d_bool.value_or(false) && !m_session_id.empty() && m_phase != Phase::resuming) {
        reconnect_after_close(true, m_settings.invalid_session_pause, 0, "invalid session (op 9, resumable)",
                              now, out);
      } else {
        drop_session();
        reconnect_after_close(false, std::max(m_settings.invalid_session_pause, backoff_delay()), 0,
                              "invalid session (op 9)", now, out);
      }
      break;
    case protocol::k_op_dispatch:
      handle_dispatch(frame, raw, now, out);
      break;
    default:
      break;  // client-to-server opcodes and webhook opcodes mean nothing here
  }
  recompute_deadline();
}

void Session::handle_hello(const Frame& frame, TimePoint now, Actions& out) {
  if (m_phase != Phase::waiting_hello) {
    return;
  }
  m_heartbeat_interval = Millis(std::max<std::uint64_t>(frame.heartbeat_interval_ms.value_or(45'000), 1));
  m_heartbeat_due = now + m_heartbeat_interval;
  m_awaiting_ack = false;
  if (m_resume_next && !m_session_id.empty()) {
    const std::uint64_t seq = m_last_published_seq.value_or(m_last_seq.value_or(0));
    out.push_back(Send{protocol::resume_frame(m_token, m_session_id, seq)});
    ++m_counters.resumes;
    m_phase = Phase::resuming;
    m_phase_deadline = now + m_settings.ready_timeout;
  } else {
    m_phase = Phase::waiting_identify_slot;
    m_phase_deadline.reset();  // the pacer may hold us for a while; heartbeats keep the socket alive
    out.push_back(RequestIdentify{});
  }
}

void Session::on_identify_permitted(TimePoint now, Actions& out) {
  if (m_phase != Phase::waiting_identify_slot) {
    return;
  }
  const auto& shard = m_settings.shard;
  out.push_back(Send{protocol::identify_frame(m_token, m_settings.intents, shard.index, shard.count)});
  ++m_counters.identifies;
  m_phase = Phase::identifying;
  m_phase_deadline = now + m_settings.ready_timeout;
  recompute_deadline();
}

void Session::handle_dispatch(const Frame& frame, std::string_view raw, TimePoint now, Actions& out) {
  ++m_counters.dispatches;
  if (frame.s) {
    m_last_seq = frame.s;
  }
  if (frame.t == "READY") {
    m_session_id = std::string(frame.session_id);
    m_last_published_seq.reset();
    m_phase = Phase::ready;
    m_ready_at = now;
    m_phase_deadline.reset();
    m_resume_failures = 0;
    m_bounded_failures = 0;
    out.push_back(StateChanged{ShardState::ready, 0, {}, false});
  } else if (frame.t == "RESUMED") {
    m_phase = Phase::ready;
    m_ready_at = now;
    m_phase_deadline.reset();
    m_resume_failures = 0;
    out.push_back(StateChanged{ShardState::resumed, 0, {}, false});
  }
  // A resumed session replays from our position; anything at or below what we already published is a repeat.
  if (frame.s && m_last_published_seq && *frame.s <= *m_last_published_seq) {
    ++m_counters.duplicates_dropped;
    return;
  }
  if (frame.s) {
    // A malformed Dispatch counts as handled too: resuming before it would only have it replayed, for ever.
    m_last_published_seq = frame.s;
  }
  if (frame.fault) {
    ++m_counters.malformed_dispatches;
    return;
  }
  out.push_back(Publish{raw, frame.t, frame.id, frame.s});
}

void Session::send_heartbeat(TimePoint now, Actions& out) {
  out.push_back(Send{protocol::heartbeat_frame(m_last_seq)});
  ++m_counters.heartbeats_sent;
  m_heartbeat_sent_at = now;
  m_awaiting_ack = true;
}

void Session::on_tick(TimePoint now, Actions& out) {
  if (m_phase_deadline && now >= *m_phase_deadline) {
    switch (m_phase) {
      case Phase::waiting_to_reconnect:
        if (m_token_refused) {
          m_phase_deadline.reset();  // on_token connects
          break;
        }
        connect(now, out);
        break;
      case Phase::connecting:
      case Phase::waiting_hello:
        out.push_back(Close{k_close_keep_session, "no Hello from the gateway"});
        reconnect_after_close(true, backoff_delay(), 0, "timed out waiting for Hello", now, out);
        break;
      case Phase::identifying:
        out.push_back(Close{k_close_keep_session, "no READY from the gateway"});
        reconnect_after_close(false, backoff_delay(), 0, "timed out waiting for READY", now, out);
        break;
      case Phase::resuming:
        out.push_back(Close{k_close_keep_session, "no RESUMED from the gateway"});
        count_resume_failure();
        reconnect_after_close(true, backoff_delay(), 0, "timed out waiting for RESUMED", now, out);
        break;
      default:
        m_phase_deadline.reset();
        break;
    }
  }
  if (m_heartbeat_due && now >= *m_heartbeat_due) {
    if (m_awaiting_ack) {
      // The previous heartbeat was never acknowledged: the connection is a zombie.
      ++m_counters.zombies;
      out.push_back(Close{k_close_keep_session, "heartbeat not acknowledged"});
      reconnect_after_close(true, Millis(0), 0, "zombie connection: heartbeat not acknowledged", now, out);
    } else {
      send_heartbeat(now, out);
      *m_heartbeat_due += m_heartbeat_interval;
      if (*m_heartbeat_due <= now) {
        m_heartbeat_due = now + m_heartbeat_interval;  // the loop stalled; do not burst to catch up
      }
    }
  }
  recompute_deadline();
}

void Session::on_closed(int code, std::string_view reason, TimePoint now, Actions& out) {
  if (m_phase < Phase::connecting || m_phase == Phase::stopped) {
    return;
  }
  const bool was_resuming = m_phase == Phase::resuming;
  if (m_ready_at && now - *m_ready_at >= m_settings.stable_after) {
    m_backoff.reset();
    m_bounded_failures = 0;
  }
  const CloseRule& rule = close_rule(code);
  const std::string what =
      reason.empty() ? std::string(rule.meaning) : fmt::format("{} ({})", rule.meaning, reason);
  switch (rule.action) {
    case CloseAction::resume: {
      if (was_resuming) {
        count_resume_failure();
      }
      // A routine server-side close of a healthy session resumes at once; network failures back off.
      const bool at_once = (code == 4009 || code == 1000 || code == 1001) && m_backoff.attempt() == 0;
      const Millis delay = backoff_delay();
      reconnect_after_close(true, at_once ? Millis(0) : delay, code, what, now, out);
      break;
    }
    case CloseAction::resume_after_pause:
      if (was_resuming) {
        count_resume_failure();
      }
      reconnect_after_close(true, std::max(m_settings.rate_limited_pause, backoff_delay()), code, what, now,
                            out);
      break;
    case CloseAction::identify:
      drop_session();
      reconnect_after_close(false, backoff_delay(), code, what, now, out);
      break;
    case CloseAction::identify_bounded:
      if (++m_bounded_failures > m_settings.max_bounded_retries) {
        stop(rule.category, code, out);
        break;
      }
      drop_session();
      reconnect_after_close(false, backoff_delay(), code, what, now, out);
      break;
    case CloseAction::refresh_token:
      if (++m_bounded_failures > m_settings.max_bounded_retries) {
        stop(rule.category, code, out);
        break;
      }
      m_token_refused = true;
      out.push_back(RefreshToken{});
      reconnect_after_close(true, backoff_delay(), code, what, now, out);
      break;
    case CloseAction::reshard:
      clear_connection();
      m_phase = Phase::idle;
      m_phase_deadline.reset();
      out.push_back(StateChanged{ShardState::disconnected, code, what, false});
      out.push_back(Reshard{});
      break;
    case CloseAction::stop:
      stop(rule.category, code, out);
      break;
  }
  recompute_deadline();
}

void Session::shutdown(Actions& out, std::string_view reason, bool will_resume) {
  if (m_phase >= Phase::connecting && m_phase != Phase::stopped) {
    out.push_back(Close{k_close_keep_session, "relay shutting down"});
  }
  if (m_phase > Phase::idle && m_phase != Phase::stopped) {
    // Close code 0, as for every close the relay makes itself (4000 is only what the gateway is sent).
    out.push_back(
        StateChanged{ShardState::disconnected, 0, std::string(reason), will_resume && !m_session_id.empty()});
  }
  clear_connection();
  if (m_phase != Phase::stopped) {
    m_phase = Phase::idle;
  }
  m_phase_deadline.reset();
  recompute_deadline();
}

void Session::count_resume_failure() {
  // Never loop on a dead session: after a few failed resumes, start a new one.
  if (++m_resume_failures > m_settings.max_resume_failures) {
    drop_session();
  }
}

void Session::reconnect_after_close(bool resume, Millis delay, int code, std::string_view reason,
                                    TimePoint now, Actions& out) {
  clear_connection();
  m_resume_next = resume && !m_session_id.empty();
  m_phase = Phase::waiting_to_reconnect;
  m_phase_deadline = now + delay;
  out.push_back(StateChanged{ShardState::disconnected, code, std::string(reason), m_resume_next});
  recompute_deadline();
}

void Session::clear_connection() {
  m_heartbeat_due.reset();
  m_heartbeat_sent_at.reset();
  m_awaiting_ack = false;
  m_ready_at.reset();
}

void Session::drop_session() {
  m_session_id.clear();
  m_last_seq.reset();
  m_last_published_seq.reset();
  m_resume_failures = 0;
}

void Session::stop(StopCategory category, int code, Actions& out) {
  const CloseRule& rule = close_rule(code);
  std::string message =
      fmt::format("shard {}/{} stopped: gateway closed with {} ({}): {}", m_settings.shard.index,
                  m_settings.shard.count, code, rule.meaning, rule.remedy);
  if (code == 4013 || code == 4014) {
    message += fmt::format(" (configured intents: {} = {})", protocol::describe_intents(m_settings.intents),
                           m_settings.intents);
  }
  clear_connection();
  m_phase = Phase::stopped;
  m_phase_deadline.reset();
  out.push_back(StateChanged{ShardState::stopped, code, std::string(rule.meaning), false});
  out.push_back(Stopped{category, code, std::move(message)});
}

void Session::recompute_deadline() {
  m_deadline = m_phase_deadline;
  if (m_heartbeat_due && (!m_deadline || *m_heartbeat_due < *m_deadline)) {
    m_deadline = m_heartbeat_due;
  }
}

Millis Session::backoff_delay() {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  return m_backoff.next(unit(m_random));
}

}  // namespace relay::gateway

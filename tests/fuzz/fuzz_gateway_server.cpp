// GatewayServer (downstream/gateway_server), the gateway served to SDK bots, driven by what its clients send,
// what is published, the clock and connections coming and going. Input: split_input.hpp's cuts; each piece
// is one step, its first byte the kind of step, the rest its argument:
//   0 text:      the rest, as is, from the current connection ("$s" is replaced by the newest session id)
//   1 identify:  [token, intents, shard index, shard count]
//   2 resume:    [token, session (index into those seen), seq offset (signed) from the newest s it was sent]
//   3 heartbeat: [form, seq offset (signed)]
//   4 publish:   [template, key, count] fixed frames keyed by the input; or the rest, when it is a valid
//                JSON text not published before (the stage publishes nothing else)
//   5 tick:      [seconds]
//   6 reconnect: [how] the transport reports the current connection closed and/or opens a new one
//   7 other:     [what] drain the buffers (on_writable), make a connection slow, or restart the server
// Checks, besides no crash and no sanitizer report: every text sent is valid JSON; a connection gets no
// dispatch before READY or an accepted Resume; READY has s 1, then s grows by one per event, and RESUMED
// repeats the newest; within a session one s is always the same published event, events come in publishing
// order and none of the session's scope is skipped between two it was sent, nor left out when RESUMED says
// it caught up; a live session is sent each event of its scope as it is published; close codes are
// 4000-4999 or valid on the wire; nothing is sent to a connection after its close, or after it closed.
#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "downstream/event_scope.hpp"
#include "downstream/frame_layout.hpp"
#include "downstream/gateway_server.hpp"
#include "downstream/saved_session.hpp"
#include "fuzz_check.hpp"
#include "protocol/frame.hpp"
#include "protocol/intents.hpp"
#include "split_input.hpp"
#include "util/json_validate.hpp"
#include "websocket/frame_reader.hpp"

namespace {

using namespace relay;
using downstream::ConnectionId;
using util::Millis;

constexpr std::uint64_t k_first_relay_seq = 100;

struct Published {
  std::uint64_t relay_seq;
  std::string body;
};

// What the harness knows of a session across connections and restarts.
struct SessionRecord {
  std::optional<downstream::SessionScope> scope;
  std::map<std::uint64_t, std::uint64_t> relay_seq_of_s;  // s -> relay_seq, READY's s 1 included
};

struct Peer {
  bool open = true;     // the server was told on_open and not yet on_closed
  bool closed = false;  // the server asked for a close (or an abort)
  bool slow = false;    // texts stay queued
  std::size_t buffered = 0;
  std::string session;  // the session its dispatches belong to, once READY or a Resume was accepted
  std::optional<std::uint64_t> last_s;
  std::uint64_t last_relay_seq = 0;
  // The client's Resume not yet answered: the session and seq it named.
  std::optional<std::pair<std::string, std::uint64_t>> resuming;
  // READY or RESUMED was sent: every event of the session's scope published from now on reaches it at once.
  bool live = false;
};

class Harness final : public downstream::Transport {
 public:
  Harness() : m_retention(12, 6000) {
    m_retention.set_complete_after(k_first_relay_seq);
    make_server();
  }

  // Transport.
  void send_text(ConnectionId id, std::string_view payload) override {
    const auto it = m_peers.find(id);
    FUZZ_CHECK(it != m_peers.end());
    Peer& peer = it->second;
    FUZZ_CHECK(peer.open && !peer.closed);
    FUZZ_CHECK(util::is_valid_json(payload));
    if (peer.slow) {
      peer.buffered += payload.size();
    }
    check_text(peer, payload);
  }
  std::size_t buffered(ConnectionId id) const override {
    const auto it = m_peers.find(id);
    return it == m_peers.end() ? 0 : it->second.buffered;
  }
  void close(ConnectionId id, int code, std::string_view) override {
    FUZZ_CHECK((code >= 4000 && code <= 4999) || websocket::is_valid_close_code(code));
    Peer& peer = m_peers.at(id);
    FUZZ_CHECK(peer.open && !peer.closed);
    peer.closed = true;
  }
  void abort(ConnectionId id) override {
    Peer& peer = m_peers.at(id);
    FUZZ_CHECK(peer.open);
    peer.closed = true;
    m_aborted.push_back(id);
  }

  void step(std::uint8_t kind, std::string_view arg);

 private:
  std::uint8_t byte(std::string_view arg, std::size_t i) const {
    return i < arg.size() ? static_cast<std::uint8_t>(arg[i]) : 0;
  }
  void make_server() {
    downstream::GatewayServerSettings settings;
    settings.heartbeat_interval = Millis(1000);
    settings.max_client_buffer = 3000;
    settings.allowed_intents = ~*protocol::intent_bit("AUDIO_ACTION");
    settings.max_shard_count = 8;
    settings.max_detached = 2;
    settings.detached_lifetime = Millis(30'000);
    m_server = std::make_unique<downstream::GatewayServer>(
        settings, *this,
        [](std::string_view token, util::TimePoint) -> std::optional<std::string> {
          if (token == "QQBot good") {
            return std::string("alpha");
          }
          if (token == "QQBot other") {
            return std::string("beta");
          }
          return std::nullopt;
        },
        m_retention, m_relay_seq);
    m_server->set_bot_user(R"({"id":"42","username":"bot","bot":true})");
  }
  void open() {
    m_current = ++m_next_id;
    m_peers[m_current] = Peer{};
    m_server->on_open(m_current, m_now);
  }
  void client_text(std::string_view text) {
    const auto it = m_peers.find(m_current);
    if (it == m_peers.end() || !it->second.open) {
      return;
    }
    note_resume(it->second, text);
    m_server->on_text(m_current, text, m_now);
  }
  void transport_closed(ConnectionId id) {
    const auto it = m_peers.find(id);
    if (it == m_peers.end() || !it->second.open) {
      return;
    }
    it->second.open = false;
    m_server->on_closed(id, m_now);
  }
  void publish(std::string body);
  void restart();
  void note_resume(Peer& peer, std::string_view text);
  void check_text(Peer& peer, std::string_view text);
  void check_dispatch(Peer& peer, std::uint64_t s, std::string_view text);
  std::string newest_session() const { return m_session_order.empty() ? "" : m_session_order.back(); }

  publish::Retention m_retention;
  std::unique_ptr<downstream::GatewayServer> m_server;
  std::uint64_t m_relay_seq = k_first_relay_seq;
  util::TimePoint m_now{std::chrono::seconds(1000)};
  std::map<ConnectionId, Peer> m_peers;
  ConnectionId m_next_id = 0;
  ConnectionId m_current = 0;
  std::vector<ConnectionId> m_aborted;
  std::vector<Published> m_published;
  std::set<std::string> m_published_forms;  // each body with s rewritten to 0: no two alike
  std::map<std::string, SessionRecord> m_sessions;
  std::vector<std::string> m_session_order;
  protocol::FrameDecoder m_decoder;
};

// The client's Identify or Resume, read as the server reads it, so that its answer can be checked.
void Harness::note_resume(Peer& peer, std::string_view text) {
  const protocol::DecodeResult decoded = m_decoder.decode(text);
  if (!decoded.frame || decoded.fault) {
    return;
  }
  const int op = decoded.frame->op;
  if ((op == 2 || op == 6) && !peer.session.empty()) {
    // A second Identify or Resume moves the connection off its session, which stays resumable.
    peer.session.clear();
    peer.live = false;
    peer.last_s.reset();
    peer.resuming.reset();
  }
  if (op != 6 || decoded.frame->d_raw.empty()) {
    return;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element d;
  std::string_view session_id;
  const std::string_view d_raw = decoded.frame->d_raw;
  if (parser.parse(d_raw.data(), d_raw.size()).get(d) != simdjson::SUCCESS ||
      d["session_id"].get(session_id) != simdjson::SUCCESS) {
    return;
  }
  std::uint64_t seq = 0;
  simdjson::dom::element value;
  if (d["seq"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    if (value.get_uint64().get(seq) != simdjson::SUCCESS) {
      return;  // closed with 4007
    }
  }
  if (peer.session.empty()) {
    peer.resuming = std::pair(std::string(session_id), seq);
  }
}

// Texts are read as the server reads published frames (scan_frame: keys as written, the first one counts),
// since dispatches are published frames with only their s rewritten.
void Harness::check_text(Peer& peer, std::string_view text) {
  const downstream::FrameLayout layout = downstream::scan_frame(text);
  FUZZ_CHECK(layout.object);
  if (layout.op != "0") {
    if (layout.op == "9") {  // the session is gone, or the Resume refused
      peer.resuming.reset();
      peer.live = false;
      peer.session.clear();
      peer.last_s.reset();
    }
    return;
  }
  std::uint64_t s = 0;
  const auto [end, ec] = std::from_chars(layout.s.data(), layout.s.data() + layout.s.size(), s);
  FUZZ_CHECK(!layout.s.empty() && ec == std::errc() && end == layout.s.data() + layout.s.size());
  const std::string_view type = layout.t;
  if (type == "READY") {
    FUZZ_CHECK(s == 1 && peer.session.empty() && !peer.resuming);
    simdjson::dom::parser parser;
    simdjson::dom::element d;
    std::string_view id;
    FUZZ_CHECK(parser.parse(layout.d.data(), layout.d.size()).get(d) == simdjson::SUCCESS);
    FUZZ_CHECK(d["session_id"].get(id) == simdjson::SUCCESS);
    FUZZ_CHECK(!m_sessions.contains(std::string(id)));
    peer.session = std::string(id);
    peer.live = true;
    peer.last_s = 1;
    peer.last_relay_seq = m_relay_seq;
    SessionRecord& record = m_sessions[peer.session];
    record.relay_seq_of_s[1] = m_relay_seq;
    m_session_order.push_back(peer.session);
    return;  // its scope is known once on_text returns
  }
  if (type == "RESUMED") {
    if (peer.session.empty()) {
      FUZZ_CHECK(peer.resuming);
      FUZZ_CHECK(s == peer.resuming->second);
      peer.session = peer.resuming->first;
      peer.last_s = s;
      peer.resuming.reset();
    }
    FUZZ_CHECK(peer.last_s == s);
    // Caught up: nothing of its scope published after the newest event it was sent is left out.
    const SessionRecord& record = m_sessions[peer.session];
    const auto newest = record.relay_seq_of_s.find(s);
    if (newest != record.relay_seq_of_s.end() && record.scope) {
      peer.last_relay_seq = newest->second;
      for (const Published& event : m_published) {
        if (event.relay_seq > newest->second) {
          const downstream::FrameLayout missed = downstream::scan_frame(event.body);
          downstream::EventFacts facts(missed);
          FUZZ_CHECK(!facts.in(*record.scope));
        }
      }
    }
    peer.live = true;
    return;
  }
  check_dispatch(peer, s, text);
}

void Harness::check_dispatch(Peer& peer, std::uint64_t s, std::string_view text) {
  if (peer.session.empty()) {
    FUZZ_CHECK(peer.resuming);  // no dispatch before READY or an accepted Resume
    peer.session = peer.resuming->first;
    peer.last_s = peer.resuming->second;
    peer.resuming.reset();
    const auto& known = m_sessions[peer.session].relay_seq_of_s;
    const auto at = known.find(*peer.last_s);
    peer.last_relay_seq = at == known.end() ? 0 : at->second;
  }
  FUZZ_CHECK(peer.last_s && s == *peer.last_s + 1);
  // Which published event this is: the only one that gives these bytes with this s.
  const Published* event = nullptr;
  for (const Published& candidate : m_published) {
    std::string rewritten;
    downstream::append_with_seq(rewritten, candidate.body, downstream::scan_frame(candidate.body), s);
    if (rewritten == text) {
      FUZZ_CHECK(event == nullptr);
      event = &candidate;
    }
  }
  FUZZ_CHECK(event != nullptr);
  FUZZ_CHECK(event->relay_seq > peer.last_relay_seq);
  SessionRecord& record = m_sessions[peer.session];
  const auto [it, first_time] = record.relay_seq_of_s.emplace(s, event->relay_seq);
  FUZZ_CHECK(it->second == event->relay_seq);
  // Nothing of the session's scope was skipped since the event with the previous s.
  const auto previous = record.relay_seq_of_s.find(s - 1);
  if (previous != record.relay_seq_of_s.end() && record.scope) {
    FUZZ_CHECK(previous->second < event->relay_seq);
    for (const Published& other : m_published) {
      if (other.relay_seq > previous->second && other.relay_seq < event->relay_seq) {
        const downstream::FrameLayout layout = downstream::scan_frame(other.body);
        downstream::EventFacts facts(layout);
        FUZZ_CHECK(!facts.in(*record.scope));
      }
    }
  }
  peer.last_s = s;
  peer.last_relay_seq = event->relay_seq;
}

void Harness::publish(std::string body) {
  std::string form;
  downstream::append_with_seq(form, body, downstream::scan_frame(body), 0);
  if (!util::is_valid_json(body) || !m_published_forms.insert(form).second) {
    return;
  }
  m_relay_seq += 1 + (m_published.size() % 5 == 4 ? 1 : 0);  // relay_seq does not always grow by one
  m_retention.add(m_relay_seq, "qq.X", body, "{}");
  m_published.push_back(Published{m_relay_seq, body});
  publish::OutgoingMessage message;
  message.relay_seq = m_relay_seq;
  message.body = m_published.back().body;
  m_server->deliver(message);
  // Every live session of the event's scope was sent it.
  const downstream::FrameLayout layout = downstream::scan_frame(m_published.back().body);
  downstream::EventFacts facts(layout);
  for (const auto& [id, peer] : m_peers) {
    if (peer.open && !peer.closed && peer.live) {
      const auto& scope = m_sessions[peer.session].scope;
      FUZZ_CHECK(!scope || !facts.in(*scope) || peer.last_relay_seq == m_relay_seq);
    }
  }
}

// As the relay stops and starts: op 7 and 4009 to every connection, the sessions saved, the transport's
// connections gone, a new server restoring what was saved.
void Harness::restart() {
  m_server->end_all_sessions("restart");
  std::size_t skipped = 0;
  const auto saved = downstream::decode_saved_sessions(
      downstream::encode_saved_sessions(m_server->saved_sessions()), skipped);
  FUZZ_CHECK(skipped == 0);
  m_server.reset();
  for (auto& [id, peer] : m_peers) {
    peer.open = false;
  }
  make_server();
  m_server->restore(saved, m_now);
}

void Harness::step(std::uint8_t kind, std::string_view arg) {
  const std::string token = byte(arg, 0) % 4 == 1   ? "QQBot other"
                            : byte(arg, 0) % 4 == 2 ? "Bot bad"
                                                    : "QQBot good";
  switch (kind % 8) {
    case 0: {
      std::string text(arg);
      for (std::size_t at = text.find("$s"); at != std::string::npos; at = text.find("$s", at + 2)) {
        text.replace(at, 2, newest_session());
      }
      client_text(text);
      break;
    }
    case 1: {
      // Intents from the table's bits the input picks, or a raw value now and then.
      std::uint32_t intents = 0;
      const auto& table = protocol::intent_table();
      for (std::size_t i = 0; i < 8 && i < table.size(); ++i) {
        if (byte(arg, 1) & (1u << i)) {
          intents |= table[(i * 3 + byte(arg, 0) / 4) % table.size()].bit;
        }
      }
      if (byte(arg, 1) == 0xff) {
        intents = 0x80000000u;
      }
      client_text(
          fmt::format(R"({{"op":2,"d":{{"token":"{}","intents":{},"shard":[{},{}],"properties":{{}}}}}})",
                      token, intents, byte(arg, 2) % 5, byte(arg, 3) % 5));
      break;
    }
    case 2: {
      std::string id = "no-such-session";
      std::uint64_t base = 1;
      if (!m_session_order.empty()) {
        id = m_session_order[byte(arg, 1) % m_session_order.size()];
        const auto& known = m_sessions[id].relay_seq_of_s;
        base = known.empty() ? 1 : known.rbegin()->first;
      }
      const auto offset = static_cast<std::int8_t>(byte(arg, 2));
      const std::uint64_t seq = base + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset));
      client_text(
          fmt::format(R"({{"op":6,"d":{{"token":"{}","session_id":"{}","seq":{}}}}})", token, id, seq));
      break;
    }
    case 3: {
      const auto it = m_peers.find(m_current);
      const std::uint64_t last = it != m_peers.end() && it->second.last_s ? *it->second.last_s : 0;
      const auto offset = static_cast<std::int8_t>(byte(arg, 1));
      const std::uint64_t seq = last + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset));
      switch (byte(arg, 0) % 4) {
        case 0:
          client_text(fmt::format(R"({{"op":1,"d":{}}})", seq));
          break;
        case 1:
          client_text(R"({"op":1,"d":null})");
          break;
        case 2:
          client_text(fmt::format(R"({{"op":1,"s":{},"d":{{}}}})", seq));
          break;
        default:
          client_text(fmt::format(R"({{"op":1,"d":"{}"}})", seq));
          break;
      }
      break;
    }
    case 4: {
      if (arg.size() > 3 && util::is_valid_json(arg)) {
        publish(std::string(arg));
        break;
      }
      const unsigned count = 1 + byte(arg, 2) % 8;
      for (unsigned i = 0; i < count; ++i) {
        const unsigned key = byte(arg, 1) + i * (byte(arg, 2) / 8);
        const std::uint64_t n = m_relay_seq + 1;
        switch ((byte(arg, 0) + i) % 7) {
          case 0:
            publish(
                fmt::format(R"({{"op":0,"s":{},"t":"AT_MESSAGE_CREATE","id":"AT:{}","d":{{"guild_id":"{}",)"
                            R"("content":"hi"}}}})",
                            n * 3, n, (std::uint64_t{key} << 22) + 7));
            break;
          case 1:
            publish(fmt::format(R"({{"op":0,"id":"G:{}","d":{{"group_openid":"GROUP{}","content":"x"}},)"
                                R"("t":"GROUP_AT_MESSAGE_CREATE"}})",
                                n, key));
            break;
          case 2:
            publish(fmt::format(R"({{"op":0,"id":"C:{}","t":"C2C_MESSAGE_CREATE","d":{{"author":)"
                                R"({{"user_openid":"U{}"}},"content":"{}"}}}})",
                                n, key % 5, n));
            break;
          case 3:
            publish(fmt::format(R"({{"op":0,"s":{},"t":"GUILD_CREATE","d":{{"id":"{}","name":"g{}"}}}})", n,
                                key, n));
            break;
          case 4:
            publish(fmt::format(R"({{"op":0,"s":{},"t":"SOME_NEW_EVENT","d":{{"n":{}}}}})", n, n));
            break;
          case 5:
            publish(fmt::format(R"({{"op":0,"s":{},"t":"READY","d":{{"session_id":"upstream-{}"}}}})", n, n));
            break;
          default:
            publish(fmt::format(R"({{"op":0,"t":"DIRECT_MESSAGE_CREATE","d":{{"guild_id":"{}","n":{}}}}})",
                                key, n));
            break;
        }
      }
      break;
    }
    case 5:
      m_now += Millis(250 * std::uint64_t{byte(arg, 0)});
      m_server->on_tick(m_now);
      break;
    case 6:
      if (byte(arg, 0) % 3 != 2) {
        transport_closed(m_current);
      }
      if (byte(arg, 0) % 3 != 1) {
        open();
      }
      break;
    default:
      switch (byte(arg, 0) % 4) {
        case 0:
          for (auto& [id, peer] : m_peers) {
            peer.buffered = 0;
            if (peer.open) {
              m_server->on_writable(id);
            }
          }
          break;
        case 1:
          m_peers[m_current].slow = true;
          break;
        case 2:
          restart();
          open();
          break;
        default: {
          // A closed connection's close arrives from the transport.
          std::vector<ConnectionId> closing;
          for (const auto& [id, peer] : m_peers) {
            if (peer.open && peer.closed) {
              closing.push_back(id);
            }
          }
          for (const ConnectionId id : closing) {
            transport_closed(id);
          }
          break;
        }
      }
      break;
  }
  // A READY just sent: the session's scope as the server holds it.
  for (const auto& saved : m_server->saved_sessions()) {
    const auto it = m_sessions.find(saved.session_id);
    FUZZ_CHECK(it != m_sessions.end());
    if (!it->second.scope) {
      it->second.scope = saved.scope;
    }
  }
  // An aborted connection is gone at once.
  for (const ConnectionId id : std::exchange(m_aborted, {})) {
    transport_closed(id);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Log lines are still formatted (their arguments come from the input) but written nowhere: a logger
  // without sinks.
  static const bool quiet = [] {
    auto logger = std::make_shared<spdlog::logger>("fuzz");
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
    return true;
  }();
  static_cast<void>(quiet);
  const fuzz::SplitInput input = fuzz::split_input(data, size);
  Harness harness;
  harness.step(6, "\x02");  // a first connection
  for (const std::string_view piece : input.pieces) {
    if (!piece.empty()) {
      harness.step(static_cast<std::uint8_t>(piece[0]), piece.substr(1));
    }
  }
  return 0;
}

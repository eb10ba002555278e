#include "simulator.hpp"

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>

#include <fmt/format.h>
#include <openssl/ssl.h>

#include "log.hpp"
#include "util/json_writer.hpp"
#include "util/time.hpp"

namespace qqsim {

namespace {

constexpr int k_batches_per_callback = 1;         // batches written per SERVER_WRITEABLE callback at most
constexpr std::size_t k_batch_bytes = 64 * 1024;  // bytes of frames coalesced into one write
constexpr std::size_t k_batch_frames = 1024;
constexpr std::size_t k_refill_low = 256;    // refill a rate-0 generator below this queue length
constexpr std::size_t k_refill_batch = 512;  // events generated per refill
constexpr std::size_t k_queue_high = 20000;  // rate-limited generators hold off above this queue length
// Timer period while nothing generates at a rate (while something does, it is --rate-tick-us).
constexpr std::int64_t k_slow_tick_us = 100000;

// CLOCK_MONOTONIC in nanoseconds, for the --stamp field (what a benchmark's receiver compares it with).
std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

void on_timer_cb(lws_sorted_usec_list_t* sul) {
  // SimTimer is standard-layout with the sul first, so the pointers are interconvertible.
  reinterpret_cast<SimTimer*>(sul)->sim->on_timer();
}

}  // namespace

std::int64_t monotonic_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now().time_since_epoch()).count();
}

Simulator::Simulator(Options options)
    : opt_(std::move(options)),
      openapi_(opt_, tokens_, random_),
      store_(opt_.history, opt_.history_bytes),
      log_(opt_.log_limit),
      webhook_(opt_.log_limit) {
  timer_.sim = this;
}

Simulator::~Simulator() = default;

relay::util::Expected<void, std::string> Simulator::load_fixtures() {
  if (opt_.fixtures_dir.empty()) {
    return {};
  }
  auto loaded = qqsim::load_fixtures(opt_.fixtures_dir);
  if (!loaded) {
    return relay::util::Unexpected(std::move(loaded).error());
  }
  fixtures_ = std::move(*loaded);
  log(LogLevel::info, "loaded {} fixtures from {}", fixtures_.size(), opt_.fixtures_dir);
  return {};
}

void Simulator::attach_context(struct lws_context* context, int port) {
  context_ = context;
  port_ = port;
  rate_started_us_ = monotonic_us();
  webhook_.attach(context);
  schedule_timer();
}

void Simulator::detach_context() {
  lws_sul_cancel(&timer_.sul);
  webhook_.shutdown();
  context_ = nullptr;
}

void Simulator::schedule_timer() {
  if (context_ == nullptr) {
    return;
  }
  timer_fast_ = opt_.rate > 0 || !rate_gens_.empty();
  lws_sul_schedule(context_, 0, &timer_.sul, on_timer_cb, timer_fast_ ? opt_.rate_tick_us : k_slow_tick_us);
}

// ---- connections ---------------------------------------------------------------------------------

Connection* Simulator::on_ws_open(struct lws* wsi) {
  auto conn = std::make_unique<Connection>();
  conn->id = next_conn_id_++;
  conn->wsi = wsi;
  conn->connected_at_us = relay::util::unix_micros_now();
  Connection* c = conn.get();
  connections_.emplace(c->id, std::move(conn));
  log_.add(ConnectEntry{c->id, c->connected_at_us});
  log(LogLevel::info, "conn {} connected", c->id);
  enqueue_text(*c, fmt::format(R"({{"op":10,"d":{{"heartbeat_interval":{}}}}})", opt_.heartbeat_interval));
  return c;
}

void Simulator::on_ws_peer_close(Connection& conn, std::optional<int> code) {
  if (!conn.peer_close_code) {
    conn.peer_close_code = code;
  }
}

void Simulator::on_ws_closed(Connection* conn) {
  if (conn == nullptr) {
    return;
  }
  log_.add(
      CloseEntry{conn->id, relay::util::unix_micros_now(), conn->peer_close_code, conn->server_close_code});
  log(LogLevel::info, "conn {} closed (client code {}, server code {})", conn->id,
      conn->peer_close_code.value_or(0), conn->server_close_code.value_or(0));
  detach(*conn);
  connections_.erase(conn->id);
}

void Simulator::attach(Session& session, Connection& conn) {
  detach(conn);
  if (session.conn != nullptr && session.conn != &conn) {
    session.conn->session = nullptr;  // the older connection keeps running, but gets nothing more
  }
  session.conn = &conn;
  conn.session = &session;
  conn.shard = session.shard;
  conn.shard_count = session.shard_count;
  conn.session_id = session.id;
  store_.shard(session.shard).session = &session;
  if (session.gen.remaining > 0) {
    request_write(conn);
  }
}

void Simulator::detach(Connection& conn) {
  if (conn.session != nullptr && conn.session->conn == &conn) {
    conn.session->conn = nullptr;
  }
  conn.session = nullptr;
}

// ---- receiving -----------------------------------------------------------------------------------

void Simulator::on_ws_message(Connection& conn, std::string_view text) {
  log_.add(ReceivedEntry{conn.id, conn.shard, relay::util::unix_micros_now(), std::string(text)});
  const auto parsed = parse_json_object(text);
  if (!parsed) {
    log(LogLevel::info, "conn {} sent a frame that is not a JSON object ({}); recorded", conn.id,
        parsed.error());
    return;
  }
  const JsonObject& frame = *parsed;
  const auto op = frame.get_int("op");
  if (!op) {
    log(LogLevel::info, "conn {} sent a frame without op; recorded", conn.id);
    return;
  }
  switch (*op) {
    case 1: {
      ++conn.heartbeats;
      const JsonMember* d = frame.find("d");
      conn.last_heartbeat = d != nullptr ? d->raw : "null";
      if (conn.acks) {
        enqueue_text(conn, R"({"op":11})");
      }
      return;
    }
    case 2:
    case 6: {
      const JsonMember* raw_d = frame.find("d");
      const JsonObject d = raw_d != nullptr && raw_d->kind == JsonKind::object
                               ? parse_json_object(raw_d->raw).value_or(JsonObject{})
                               : JsonObject{};
      if (*op == 2) {
        handle_identify(conn, d);
      } else {
        handle_resume(conn, d);
      }
      return;
    }
    default:
      log(LogLevel::info, "conn {} sent op {}; recorded", conn.id, *op);
      return;
  }
}

bool Simulator::valid_ws_token(std::string_view token) const {
  constexpr std::string_view k_qqbot = "QQBot ";
  if (token.starts_with(k_qqbot)) {
    return tokens_.valid(token.substr(k_qqbot.size()), SteadyClock::now());
  }
  if (!opt_.bot_token.empty()) {
    return token == fmt::format("Bot {}.{}", opt_.app_id, opt_.bot_token);
  }
  return false;
}

void Simulator::handle_identify(Connection& conn, const JsonObject& d) {
  const auto token = d.get_string("token");
  if (!token || !valid_ws_token(*token)) {
    enqueue_close(conn, 4004, "authentication failed");
    return;
  }
  const auto intents = d.get_int("intents");
  if (!intents || *intents == 0) {
    enqueue_close(conn, 4013, "invalid intent");
    return;
  }
  std::vector<std::int64_t> shard;
  const JsonMember* raw_shard = d.find("shard");
  if (raw_shard == nullptr || raw_shard->kind != JsonKind::array || !parse_int_array(raw_shard->raw, shard) ||
      shard.size() != 2 || shard[1] <= 0 || shard[0] < 0 || shard[0] >= shard[1]) {
    enqueue_close(conn, 4010, "invalid shard");
    return;
  }
  ++identifies_;
  if (opt_.remaining > 0) {
    --opt_.remaining;
  }
  Session& session = store_.create(random_, shard[0], shard[1]);
  attach(session, conn);
  const std::uint64_t s = session.next_s++;
  std::string d_json = R"({"version":1,"session_id":)";
  relay::util::append_json_string(d_json, session.id);
  fmt::format_to(std::back_inserter(d_json),
                 R"(,"user":{{"id":"{}","username":"sim-bot","bot":true}},"shard":[{},{}]}})", opt_.app_id,
                 shard[0], shard[1]);
  enqueue_frame(conn, build_dispatch(random_, s, "READY", d_json), true);
  log(LogLevel::info, "conn {} identified shard [{},{}] as session {}", conn.id, shard[0], shard[1],
      session.id);
}

void Simulator::handle_resume(Connection& conn, const JsonObject& d) {
  const auto token = d.get_string("token");
  if (!token || !valid_ws_token(*token)) {
    enqueue_close(conn, 4004, "authentication failed");
    return;
  }
  const auto session_id = d.get_string("session_id");
  Session* session = session_id ? store_.find(*session_id) : nullptr;
  if (session == nullptr || session->invalid) {
    enqueue_text(conn, R"({"op":9,"d":false})");
    return;
  }
  std::uint64_t seq = 0;
  if (const auto client_seq = d.get_int("seq"); client_seq && *client_seq > 0) {
    seq = static_cast<std::uint64_t>(*client_seq);
  }
  if (session->replay_from) {
    seq = *session->replay_from;
    session->replay_from.reset();
  } else if (seq >= session->next_s) {
    enqueue_close(conn, 4007, "invalid seq");
    return;
  }
  ++resumes_;
  attach(*session, conn);
  auto it = std::upper_bound(session->history.begin(), session->history.end(), seq,
                             [](std::uint64_t v, const HistoryEntry& e) { return v < e.s; });
  std::size_t replayed = 0;
  for (; it != session->history.end(); ++it, ++replayed) {
    enqueue_frame(conn, it->frame, true);
  }
  const std::uint64_t s = session->next_s++;
  enqueue_frame(conn, make_frame(fmt::format(R"({{"op":0,"s":{},"t":"RESUMED","d":""}})", s)), true);
  log(LogLevel::info, "conn {} resumed session {} after seq {}: {} replayed", conn.id, session->id, seq,
      replayed);
}

// ---- sending -------------------------------------------------------------------------------------

void Simulator::request_write(Connection& conn) {
  if (!conn.want_write) {
    conn.want_write = true;
    lws_callback_on_writable(conn.wsi);
  }
}

void Simulator::enqueue_frame(Connection& conn, FramePtr frame, bool dispatch) {
  if (conn.closing) {
    return;
  }
  conn.queue.push_back(OutItem{OutItem::Kind::frame, dispatch, 0, std::move(frame), {}});
  request_write(conn);
}

void Simulator::enqueue_close(Connection& conn, int code, std::string reason, bool abrupt) {
  if (conn.closing) {
    return;
  }
  conn.closing = true;
  if (reason.size() > 120) {
    reason.resize(120);
  }
  conn.queue.push_back(OutItem{OutItem::Kind::close, false, code, nullptr, std::move(reason), abrupt});
  request_write(conn);
}

void Simulator::enqueue_ping(Connection& conn, std::string payload) {
  if (conn.closing) {
    return;
  }
  payload.resize(std::min<std::size_t>(payload.size(), 125));
  conn.queue.push_back(OutItem{OutItem::Kind::ping, false, 0, nullptr, std::move(payload)});
  request_write(conn);
}

void Simulator::enqueue_drop(Connection& conn, bool immediate) {
  if (immediate) {
    conn.queue.clear();
  } else if (conn.closing) {
    return;
  }
  conn.closing = true;
  conn.queue.push_back(OutItem{OutItem::Kind::drop, false, 0, nullptr, {}});
  request_write(conn);
}

FramePtr Simulator::dispatch_frame(Session& session, FramePtr frame, std::uint64_t s, bool retain) {
  if (retain) {
    store_.retain(session, s, frame);
  }
  if (session.conn != nullptr) {
    enqueue_frame(*session.conn, frame, true);
  }
  return frame;
}

std::pair<std::uint64_t, FramePtr> Simulator::dispatch(Session& session, std::string_view t,
                                                       std::string_view d, bool retain) {
  const std::uint64_t s = session.next_s++;
  return {s, dispatch_frame(session, build_dispatch(random_, s, t, d), s, retain)};
}

void Simulator::generate_one(Session& session, std::size_t size) {
  const std::uint64_t n = ++store_.shard(session.shard).generated;
  const std::uint64_t s = session.next_s++;
  dispatch_frame(session, build_generated(random_, s, session.shard, n, size, opt_.stamp, session.gen.users),
                 s, true);
}

bool Simulator::queue_full(const Session& session) const {
  return session.conn != nullptr && session.conn->queue.size() >= k_queue_high;
}

void Simulator::refill(Connection& conn) {
  Session* session = conn.session;
  if (session == nullptr || conn.closing || session->gen.remaining == 0 || session->gen.rate > 0) {
    return;
  }
  std::size_t n = 0;
  while (session->gen.remaining > 0 && n < k_refill_batch) {
    --session->gen.remaining;
    generate_one(*session, session->gen.size);
    ++n;
  }
}

namespace {

// Appends the header of an unmasked, final text frame (RFC 6455 section 5.2) of `len` payload bytes.
unsigned char* put_text_frame_header(unsigned char* p, std::size_t len) {
  *p++ = 0x81;
  if (len < 126) {
    *p++ = static_cast<unsigned char>(len);
  } else if (len <= 0xffff) {
    *p++ = 126;
    *p++ = static_cast<unsigned char>(len >> 8);
    *p++ = static_cast<unsigned char>(len);
  } else {
    *p++ = 127;
    for (int shift = 56; shift >= 0; shift -= 8) {
      *p++ = static_cast<unsigned char>(static_cast<std::uint64_t>(len) >> shift);
    }
  }
  return p;
}

}  // namespace

int Simulator::write_batch(Connection& conn) {
  // Coalesces consecutive frames into one buffer with our own WebSocket framing and hands it to lws as
  // LWS_WRITE_RAW: one send() for many small frames instead of one (plus a poll) per frame.
  if (batch_.size() < LWS_PRE + k_batch_bytes) {
    batch_.resize(LWS_PRE + k_batch_bytes);
  }
  unsigned char* const start = batch_.data() + LWS_PRE;
  unsigned char* p = start;
  std::size_t frames = 0;
  std::uint64_t dispatches = 0;
  // --stamp: every stamped frame of this write gets the same time, taken just before it is copied out.
  const std::uint64_t now_ns = opt_.stamp ? monotonic_ns() : 0;
  for (const OutItem& item : conn.queue) {
    if (item.kind != OutItem::Kind::frame || frames == k_batch_frames) {
      break;
    }
    const std::size_t len = item.frame->size();
    if (static_cast<std::size_t>(p - start) + len + 10 > k_batch_bytes) {
      break;
    }
    stamp_frame(*item.frame, now_ns);
    p = put_text_frame_header(p, len);
    std::memcpy(p, item.frame->text().data(), len);
    p += len;
    ++frames;
    dispatches += item.dispatch ? 1 : 0;
  }
  if (frames == 0) {
    // A frame too big for the batch buffer: lws frames it, in place (Frame keeps LWS_PRE headroom).
    Frame& frame = *conn.queue.front().frame;
    stamp_frame(frame, now_ns);
    auto* payload = reinterpret_cast<unsigned char*>(frame.buf.data()) + kFramePre;
    const int written = lws_write(conn.wsi, payload, frame.size(), LWS_WRITE_TEXT);
    if (written < 0 || static_cast<std::size_t>(written) < frame.size()) {
      return -1;
    }
    frames = 1;
    dispatches = conn.queue.front().dispatch ? 1 : 0;
  } else {
    const auto len = static_cast<std::size_t>(p - start);
    const int written = lws_write(conn.wsi, start, len, LWS_WRITE_RAW);
    if (written < 0 || static_cast<std::size_t>(written) < len) {
      return -1;
    }
  }
  conn.sent += dispatches;
  conn.frames_sent += frames;
  conn.queue.erase(conn.queue.begin(), conn.queue.begin() + static_cast<std::ptrdiff_t>(frames));
  return 0;
}

int Simulator::on_ws_writeable(Connection& conn) {
  conn.want_write = false;
  if (stopping_ != nullptr && *stopping_ != 0) {
    return 0;  // shutting down: leave the rest of this service pass cheap
  }
  for (int n = 0; n < k_batches_per_callback; ++n) {
    if (conn.queue.size() < k_refill_low) {
      refill(conn);
    }
    if (conn.queue.empty()) {
      break;
    }
    OutItem& item = conn.queue.front();
    switch (item.kind) {
      case OutItem::Kind::frame:
        if (write_batch(conn) != 0) {
          log(LogLevel::info, "conn {}: write failed", conn.id);
          return -1;
        }
        break;
      case OutItem::Kind::close: {
        conn.server_close_code = item.close_code;
        if (item.abrupt) {
          // The close frame, then close_notify and FIN at once, without waiting for the client's answer.
          std::string frame(LWS_PRE, '\0');
          frame += static_cast<char>(0x88);
          frame += static_cast<char>(2 + item.reason.size());
          frame += static_cast<char>(item.close_code >> 8);
          frame += static_cast<char>(item.close_code & 0xFF);
          frame += item.reason;
          auto* bytes = reinterpret_cast<unsigned char*>(frame.data() + LWS_PRE);
          lws_write(conn.wsi, bytes, frame.size() - LWS_PRE, LWS_WRITE_RAW);
          if (SSL* ssl = lws_get_ssl(conn.wsi)) {
            SSL_shutdown(ssl);
          }
          ::shutdown(lws_get_socket_fd(conn.wsi), SHUT_RDWR);
          conn.queue.clear();
          log(LogLevel::info, "conn {}: closed abruptly with {}", conn.id, item.close_code);
          return -1;
        }
        lws_close_reason(conn.wsi, static_cast<enum lws_close_status>(item.close_code),
                         reinterpret_cast<unsigned char*>(item.reason.data()), item.reason.size());
        conn.queue.clear();
        log(LogLevel::info, "conn {}: closing with {}", conn.id, conn.server_close_code.value_or(0));
        return -1;
      }
      case OutItem::Kind::ping: {
        std::string buffer(LWS_PRE + item.reason.size(), '\0');
        std::memcpy(buffer.data() + LWS_PRE, item.reason.data(), item.reason.size());
        auto* payload = reinterpret_cast<unsigned char*>(buffer.data() + LWS_PRE);
        if (lws_write(conn.wsi, payload, item.reason.size(), LWS_WRITE_PING) < 0) {
          return -1;
        }
        conn.queue.pop_front();
        break;
      }
      case OutItem::Kind::drop: {
        conn.queue.clear();
        ::shutdown(lws_get_socket_fd(conn.wsi), SHUT_RDWR);
        log(LogLevel::info, "conn {}: dropped without a close frame", conn.id);
        return -1;
      }
    }
    if (lws_send_pipe_choked(conn.wsi)) {
      break;
    }
  }
  if (!conn.queue.empty() || (conn.session != nullptr && conn.session->gen.remaining > 0 &&
                              conn.session->gen.rate == 0 && !conn.closing)) {
    request_write(conn);
  }
  return 0;
}

// ---- timer: rate-driven generation ---------------------------------------------------------------

void Simulator::rate_tick_gateway(std::int64_t now) {
  std::vector<Session*> ready;
  for (auto& [index, info] : store_.shards()) {
    if (info.session != nullptr && info.session->conn != nullptr && !info.session->conn->closing) {
      ready.push_back(info.session);
    }
  }
  if (ready.empty()) {
    rate_started_us_ = now;
    rate_produced_ = 0;
  } else {
    const auto expected =
        static_cast<std::uint64_t>(static_cast<double>(now - rate_started_us_) * opt_.rate / 1e6);
    std::uint64_t due = expected > rate_produced_ ? expected - rate_produced_ : 0;
    const auto max_burst = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(opt_.rate / 10));
    if (due > max_burst) {  // fell behind (a busy loop): do not try to catch up more than 100 ms
      rate_produced_ += due - max_burst;
      due = max_burst;
    }
    std::size_t skipped = 0;
    while (due > 0 && skipped < ready.size()) {
      Session* session = ready[rate_rr_++ % ready.size()];
      if (queue_full(*session)) {
        ++skipped;
        continue;
      }
      skipped = 0;
      generate_one(*session, opt_.event_size);
      --due;
      ++rate_produced_;
    }
    rate_produced_ += due;  // every ready connection is backed up: drop the rest of this tick
  }
}

void Simulator::on_timer() {
  const std::int64_t now = monotonic_us();

  if (opt_.rate > 0) {
    if (opt_.webhook_url.empty()) {
      rate_tick_gateway(now);
    } else {
      rate_tick_webhook(now);
    }
  }

  for (auto it = rate_gens_.begin(); it != rate_gens_.end();) {
    Session& session = **it;
    Generator& gen = session.gen;
    if (gen.remaining == 0 || gen.rate <= 0) {
      it = rate_gens_.erase(it);
      continue;
    }
    const auto expected =
        static_cast<std::uint64_t>(static_cast<double>(now - gen.started_us) * gen.rate / 1e6);
    std::uint64_t due = expected > gen.produced ? expected - gen.produced : 0;
    const auto max_burst = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(gen.rate / 10));
    if (due > max_burst) {
      gen.produced += due - max_burst;
      due = max_burst;
    }
    while (due > 0 && gen.remaining > 0 && !queue_full(session)) {
      generate_one(session, gen.size);
      --due;
      --gen.remaining;
      ++gen.produced;
    }
    ++it;
  }
  schedule_timer();
}

}  // namespace qqsim

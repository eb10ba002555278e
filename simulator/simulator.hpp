#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libwebsockets.h>

#include "event_source.hpp"
#include "http_types.hpp"
#include "json_in.hpp"
#include "openapi.hpp"
#include "session_store.hpp"
#include "sim_options.hpp"
#include "webhook_client.hpp"

namespace qqsim {

// One queued item of a connection's send queue.
struct OutItem {
  enum class Kind : std::uint8_t { frame, close, drop, ping };
  Kind kind = Kind::frame;
  bool dispatch = false;  // counts in Connection::sent
  int close_code = 0;
  FramePtr frame;
  std::string reason;   // a close's reason, a ping's payload
  bool abrupt = false;  // close: end the TLS session and the TCP connection right after the close frame
};

// One WebSocket client connection.
struct Connection {
  std::uint64_t id = 0;
  struct lws* wsi = nullptr;
  std::deque<OutItem> queue;
  Session* session = nullptr;         // set only while session->conn == this
  std::optional<std::int64_t> shard;  // from the last successful Identify/Resume
  std::int64_t shard_count = 0;
  std::string session_id;
  bool acks = true;
  bool closing = false;  // a close/drop is queued: nothing else is queued after it
  bool want_write = false;
  std::string rx;                 // fragments of the message being received
  std::uint64_t sent = 0;         // dispatch frames written
  std::uint64_t frames_sent = 0;  // all frames written
  std::uint64_t heartbeats = 0;
  std::string last_heartbeat;  // raw `d` of the last op 1
  std::uint64_t pongs = 0;
  std::string last_pong;  // payload of the last pong
  std::optional<int> peer_close_code;
  std::optional<int> server_close_code;
  std::int64_t connected_at_us = 0;
};

class Simulator;

// lws timer with a way back to the simulator (the sul must be the first member).
struct SimTimer {
  lws_sorted_usec_list_t sul;
  Simulator* sim;
};

class Simulator {
 public:
  explicit Simulator(Options options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  relay::util::Expected<void, std::string> load_fixtures();
  std::size_t fixture_count() const { return fixtures_.size(); }
  const Options& options() const { return opt_; }

  // Called once the context is up (starts the timer) and right before it is destroyed.
  void attach_context(struct lws_context* context, int port);
  void detach_context();
  // Once *flag is non-zero the simulator stops writing, so that the loop notices a signal quickly.
  void set_stop_flag(const volatile std::sig_atomic_t* flag) { stopping_ = flag; }

  // --- WebSocket side (gateway_server.cpp calls these) ---
  Connection* on_ws_open(struct lws* wsi);
  void on_ws_message(Connection& conn, std::string_view text);
  void on_ws_peer_close(Connection& conn, std::optional<int> code);
  void on_ws_closed(Connection* conn);
  // Returns -1 when the connection must close.
  int on_ws_writeable(Connection& conn);

  // --- HTTP side (http_api.cpp) ---
  HttpResponse handle_http(const HttpRequest& request);

  void on_timer();

 private:
  // gateway behaviour
  void handle_identify(Connection& conn, const JsonObject& d);
  void handle_resume(Connection& conn, const JsonObject& d);
  bool valid_ws_token(std::string_view token) const;
  void attach(Session& session, Connection& conn);
  void detach(Connection& conn);

  // sending
  void enqueue_frame(Connection& conn, FramePtr frame, bool dispatch);
  void enqueue_text(Connection& conn, std::string_view text) { enqueue_frame(conn, make_frame(text), false); }
  void enqueue_close(Connection& conn, int code, std::string reason, bool abrupt = false);
  void enqueue_drop(Connection& conn, bool immediate);
  void enqueue_ping(Connection& conn, std::string payload);
  void request_write(Connection& conn);
  // Sends a dispatch on `session` (history + its live connection, if any). Returns its s and frame.
  std::pair<std::uint64_t, FramePtr> dispatch(Session& session, std::string_view t, std::string_view d,
                                              bool retain = true);
  FramePtr dispatch_frame(Session& session, FramePtr frame, std::uint64_t s, bool retain);
  void generate_one(Session& session, std::size_t size);
  void refill(Connection& conn);
  int write_batch(Connection& conn);
  bool queue_full(const Session& session) const;
  void schedule_timer();

  // HTTP handlers (http_api.cpp)
  HttpResponse handle_token(const HttpRequest& request);
  HttpResponse handle_gateway(const HttpRequest& request, bool bot);
  HttpResponse handle_control(const HttpRequest& request);
  HttpResponse control_state();
  HttpResponse control_send(const JsonObject& req);
  HttpResponse control_fixtures(const JsonObject& req);
  HttpResponse control_generate(const JsonObject& req);
  HttpResponse control_fault(const JsonObject& req);
  HttpResponse control_config(const JsonObject& req);
  bool valid_http_auth(const HttpRequest& request) const;
  std::string gateway_url(const HttpRequest& request) const;
  // Target resolution for control commands; on failure fills `error` and returns false.
  bool target_sessions(const JsonObject& req, std::vector<Session*>& out, HttpResponse& error);
  bool target_connections(const JsonObject& req, std::vector<Connection*>& out, HttpResponse& error);

  // Webhook delivery (webhook_api.cpp)
  HttpResponse control_webhook(const JsonObject& req);
  HttpResponse control_webhook_results(const HttpRequest& request, bool clear);
  void rate_tick_gateway(std::int64_t now);
  void rate_tick_webhook(std::int64_t now);

  Options opt_;
  Random random_;
  TokenStore tokens_;
  OpenApi openapi_;  // after opt_, random_ and tokens_, which it refers to
  SessionStore store_;
  SimLog log_;
  WebhookClient webhook_;
  std::uint64_t webhook_generated_ = 0;   // seq_no of the last generated webhook event
  std::uint64_t webhook_deliveries_ = 0;  // id of the last POST /_sim/webhook; the --rate generator is 0
  std::shared_ptr<const WebhookDelivery> rate_delivery_;
  std::vector<Fixture> fixtures_;
  std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::uint64_t next_conn_id_ = 1;

  std::uint64_t identifies_ = 0;
  std::uint64_t resumes_ = 0;
  std::uint64_t token_requests_ = 0;
  // fault token_outage: the next N token requests fail with this HTTP status.
  std::uint64_t token_failures_left_ = 0;
  int token_failure_status_ = 503;
  std::optional<std::string> token_failure_body_;  // instead of the JSON error
  bool token_failure_echo_ = false;                // append the request's body

  struct lws_context* context_ = nullptr;
  int port_ = 0;
  SimTimer timer_{};
  bool timer_fast_ = false;

  // --rate: continuous generation, round-robin over the ready sessions
  std::int64_t rate_started_us_ = 0;
  std::uint64_t rate_produced_ = 0;
  std::size_t rate_rr_ = 0;
  std::vector<Session*> rate_gens_;  // sessions with a /_sim/generate at rate > 0
  const volatile std::sig_atomic_t* stopping_ = nullptr;
  std::vector<unsigned char> batch_;  // LWS_PRE + coalesced frames, reused by every write
};

std::int64_t monotonic_us();

}  // namespace qqsim

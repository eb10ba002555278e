#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "downstream/gateway_server.hpp"
#include "ingress/api_forwarder.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/http_request.hpp"
#include "ingress/token_source.hpp"
#include "publish/retention.hpp"
#include "state/state_writer.hpp"
#include "util/log_throttle.hpp"
#include "websocket/frame_reader.hpp"

namespace relay::app {

struct DownstreamSettings {
  downstream::GatewayServerSettings server;
  std::string public_url;
  std::string listen;  // the [api] listen address, for a request without a usable Host
  bool tls = false;
  unsigned gateway_shards = 1;
  std::string sessions_path;  // where sessions are kept across restarts
  std::size_t max_message_bytes = 1 << 20;
};

struct DownstreamCounters {
  std::uint64_t upgrades_refused = 0;       // GET /websocket answered 400/426
  std::uint64_t websocket_errors = 0;       // closed for a WebSocket protocol violation (1002, 1007, 1009)
  std::uint64_t sessions_file_skipped = 0;  // lines of the sessions file that were not a session
};

// The gateway served to SDK bots on the [api] listener (docs/downstream.md): answers GET /gateway and
// /gateway/bot, upgrades GET /websocket, and carries the WebSocket frames between the ApiServer's byte
// streams and the downstream::GatewayServer state machine, which it drives with the loop's clock. Sessions
// are kept in a file, written by a thread, so that a restarted relay resumes them.
class DownstreamService final : public ingress::LocalRoutes,
                                private ingress::StreamHandler,
                                private downstream::Transport {
 public:
  DownstreamService(ingress::EventLoop& loop, DownstreamSettings settings, ingress::ApiForwarder& api,
                    const publish::Retention& retention, std::uint64_t newest_relay_seq);
  ~DownstreamService() override;

  downstream::GatewayServer& gateway() { return *m_gateway; }
  const downstream::GatewayServer& gateway() const { return *m_gateway; }
  const DownstreamCounters& counters() const { return m_counters; }

  // Without a gateway connection (webhook only) no READY tells the bot's own user: ask GET /users/@me with
  // the relay's token, again every 30 s until it answers.
  void fetch_bot_user(ingress::TokenSource& tokens, std::string api_base, std::string app_id);

  // The relay is stopping: op 7 and 4009 to every client, and the sessions written to disk (waits for it).
  void stop();

  std::string gateway_info(const http::ServerRequest& request, bool bot) override;
  void open_websocket(ingress::ExchangeId id, http::ServerRequest& request) override;

 private:
  struct Peer;
  class FrameSink;

  void on_stream_bytes(ingress::StreamId id, std::string_view bytes) override;
  void on_stream_writable(ingress::StreamId id) override;
  void on_stream_closed(ingress::StreamId id) override;

  void send_text(downstream::ConnectionId connection, std::string_view payload) override;
  std::size_t buffered(downstream::ConnectionId connection) const override;
  void close(downstream::ConnectionId connection, int code, std::string_view reason) override;
  void abort(downstream::ConnectionId connection) override;

  // Sends one close frame and ends the stream once what is queued is written.
  void end_stream(ingress::StreamId id, int code, std::string_view reason);
  void tick();
  void save_sessions();
  void ask_for_bot_user();
  void on_bot_user(ingress::HttpResponse&& response);

  ingress::EventLoop& m_loop;
  DownstreamSettings m_settings;
  ingress::ApiForwarder& m_api;
  std::unique_ptr<downstream::GatewayServer> m_gateway;
  std::unordered_map<ingress::StreamId, std::unique_ptr<Peer>> m_peers;
  state::StateWriter m_writer;
  std::string m_last_saved;
  ingress::Timer m_tick;
  std::string m_frame;  // scratch for one outgoing frame
  // GET /users/@me, for a relay without a gateway connection.
  ingress::TokenSource* m_tokens = nullptr;
  std::string m_users_me_url;
  std::string m_app_id;
  std::unique_ptr<ingress::HttpRequest> m_user_request;
  ingress::Timer m_user_retry;
  DownstreamCounters m_counters;
  // Anyone can connect: refused upgrades and broken frames are logged at most once per 10 s each.
  util::LogThrottle m_refusal_log;
  util::LogThrottle m_protocol_error_log;
};

}  // namespace relay::app

#include "app/downstream_service.hpp"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "config/read_file.hpp"
#include "downstream/gateway_info.hpp"
#include "downstream/saved_session.hpp"
#include "util/json_writer.hpp"
#include "websocket/frame_writer.hpp"
#include "websocket/server_handshake.hpp"

namespace relay::app {
namespace {

// Heartbeat deadlines are checked, and changed sessions written, this often.
constexpr util::Millis k_tick{1000};
// A client's message buffer is given back above this between messages.
constexpr std::size_t k_retained_bytes = 64 * 1024;

}  // namespace

// The frames a client sends, handed to the gateway as text; pings answered; a close ends the stream.
class DownstreamService::FrameSink final : public websocket::FrameHandler {
 public:
  FrameSink(DownstreamService& service, ingress::StreamId id) : m_service(service), m_id(id) {}
  void on_message(std::string_view text, std::size_t) override {
    m_service.m_gateway->on_text(m_id, text, m_service.m_loop.now());
  }
  void on_ping(std::string_view payload) override {
    std::string frame;
    websocket::append_server_frame(frame, websocket::Opcode::pong, payload);
    m_service.m_api.server().send(m_id, frame);
  }
  void on_close(int code, std::string_view) override { close_code = code; }
  std::optional<int> close_code;

 private:
  DownstreamService& m_service;
  ingress::StreamId m_id;
};

struct DownstreamService::Peer {
  Peer(DownstreamService& service, ingress::StreamId id, std::size_t max_message_bytes)
      : reader(max_message_bytes, simdjson::SIMDJSON_PADDING, k_retained_bytes, websocket::Peer::client),
        sink(service, id) {}
  websocket::FrameReader reader;
  FrameSink sink;
  bool closing = false;
  bool paused = false;  // not read while its queue is over max_client_buffer
};

DownstreamService::DownstreamService(ingress::EventLoop& loop, DownstreamSettings settings,
                                     ingress::ApiForwarder& api, const publish::Retention& retention,
                                     std::uint64_t newest_relay_seq)
    : m_loop(loop),
      m_settings(std::move(settings)),
      m_api(api),
      m_writer(m_settings.sessions_path,
               [](const std::string& error) {
                 if (!error.empty()) {
                   spdlog::error(
                       "downstream: cannot save the sessions: {}; make state.directory writable for "
                       "the relay, or SDK bots cannot resume after a restart",
                       error);
                 }
               }),
      m_tick(loop, [this] { tick(); }),
      m_user_retry(loop, [this] { ask_for_bot_user(); }) {
  const api::ClientAuth& auth = m_api.auth();
  downstream::Transport& transport = *this;
  m_gateway = std::make_unique<downstream::GatewayServer>(
      m_settings.server, transport,
      [&auth](std::string_view token, util::TimePoint now) -> std::optional<std::string> {
        if (const auto client = auth.authenticate_gateway_token(token, now)) {
          return std::string(*client);
        }
        return std::nullopt;
      },
      retention, newest_relay_seq);
  if (auto text = config::detail::read_whole_file(m_settings.sessions_path)) {
    std::size_t skipped = 0;
    const auto sessions = downstream::decode_saved_sessions(*text, skipped);
    m_gateway->restore(sessions, m_loop.now());
    m_counters.sessions_file_skipped = skipped;
    m_last_saved = *text;
    spdlog::info("downstream: {} session(s) from {} can be resumed{}", sessions.size(),
                 m_settings.sessions_path,
                 skipped ? fmt::format(" ({} damaged line(s) skipped)", skipped) : std::string());
  }
  m_api.serve_locally(*this);
  m_tick.schedule_in(k_tick);
}

DownstreamService::~DownstreamService() {
  m_writer.flush();
}

std::string DownstreamService::gateway_info(const http::ServerRequest& request, bool bot) {
  const std::string* host = request.header("host");
  const std::string url = downstream::gateway_url(m_settings.public_url, host ? *host : std::string_view(),
                                                  m_settings.tls, m_settings.listen);
  return bot ? downstream::gateway_bot_body(url, m_settings.gateway_shards) : downstream::gateway_body(url);
}

void DownstreamService::open_websocket(ingress::ExchangeId id, http::ServerRequest& request) {
  const websocket::UpgradeAnswer answer =
      websocket::answer_upgrade({request.method, request.http_1_0, request.headers});
  if (!answer.accepted) {
    ++m_counters.upgrades_refused;
    if (m_refusal_log.allow(m_loop.now())) {
      spdlog::info("downstream: a WebSocket upgrade refused with {}: {}{}", answer.status, answer.reason,
                   m_refusal_log.take_held_back_note());
    }
    std::string body = fmt::format(R"({{"code":{},"message":)", answer.status);
    util::append_json_string(body, answer.reason);
    body += '}';
    ingress::ApiResponse response{answer.status, answer.headers, std::move(body)};
    response.headers.emplace_back("Content-Type", "application/json");
    m_api.server().respond(id, std::move(response));
    return;
  }
  const ingress::StreamId stream = m_api.server().upgrade(id, answer.response, *this);
  if (stream == 0) {
    return;
  }
  m_peers.emplace(stream, std::make_unique<Peer>(*this, stream, m_settings.max_message_bytes));
  m_gateway->on_open(stream, m_loop.now());
}

void DownstreamService::on_stream_bytes(ingress::StreamId id, std::string_view bytes) {
  const auto it = m_peers.find(id);
  if (it == m_peers.end() || it->second->closing) {
    return;
  }
  Peer& peer = *it->second;
  if (peer.reader.feed(bytes.data(), bytes.size(), peer.sink)) {
    // Every heartbeat and ping is answered: a client that sends them and never reads would make the relay
    // queue answers without end. Past the bound a slow reader gets, its bytes wait in the kernel (and its
    // heartbeat deadline runs) until its queue is written.
    if (m_api.server().buffered(id) > m_gateway->settings().max_client_buffer) {
      peer.paused = true;
      m_api.server().pause_stream(id, true);
    }
    return;
  }
  if (peer.sink.close_code) {
    // The client's close: answer it (RFC 6455 5.5.1) and end the stream; the session stays resumable.
    end_stream(id, *peer.sink.close_code, {});
    return;
  }
  ++m_counters.websocket_errors;
  if (m_protocol_error_log.allow(m_loop.now())) {
    spdlog::info("downstream: closing a client's WebSocket with {}: {}{}", peer.reader.error_code(),
                 peer.reader.error(), m_protocol_error_log.take_held_back_note());
  }
  end_stream(id, peer.reader.error_code(), peer.reader.error());
}

void DownstreamService::end_stream(ingress::StreamId id, int code, std::string_view reason) {
  const auto it = m_peers.find(id);
  if (it != m_peers.end()) {
    if (it->second->closing) {
      return;  // one close frame per connection, whoever asked first
    }
    it->second->closing = true;
  }
  std::string frame;
  websocket::append_server_frame(frame, websocket::Opcode::close, websocket::close_payload(code, reason));
  m_api.server().send(id, frame);
  m_api.server().close_stream(id, true);
}

void DownstreamService::on_stream_writable(ingress::StreamId id) {
  const auto it = m_peers.find(id);
  if (it != m_peers.end() && it->second->paused) {
    it->second->paused = false;
    m_api.server().pause_stream(id, false);
  }
  m_gateway->on_writable(id);
}

void DownstreamService::on_stream_closed(ingress::StreamId id) {
  m_gateway->on_closed(id, m_loop.now());
  m_peers.erase(id);
}

void DownstreamService::send_text(downstream::ConnectionId connection, std::string_view payload) {
  m_frame.clear();
  websocket::append_server_frame_header(m_frame, websocket::Opcode::text, payload.size());
  // Header and payload in one send: the payload is copied once, into the stream's buffer.
  m_frame.append(payload);
  m_api.server().send(connection, m_frame);
}

std::size_t DownstreamService::buffered(downstream::ConnectionId connection) const {
  return m_api.server().buffered(connection);
}

void DownstreamService::close(downstream::ConnectionId connection, int code, std::string_view reason) {
  end_stream(connection, code, reason);
}

void DownstreamService::abort(downstream::ConnectionId connection) {
  m_api.server().close_stream(connection, false);
}

void DownstreamService::tick() {
  m_gateway->on_tick(m_loop.now());
  save_sessions();
  m_tick.schedule_in(k_tick);
}

void DownstreamService::save_sessions() {
  std::string text = downstream::encode_saved_sessions(m_gateway->saved_sessions());
  if (text != m_last_saved) {
    m_last_saved = text;
    m_writer.submit(std::move(text));
  }
}

void DownstreamService::fetch_bot_user(ingress::TokenSource& tokens, std::string api_base,
                                       std::string app_id) {
  m_tokens = &tokens;
  m_users_me_url = std::move(api_base) + "/users/@me";
  m_app_id = std::move(app_id);
  tokens.also_notify([this](const std::string&) {
    if (m_gateway->bot_user().empty() && !m_user_request) {
      ask_for_bot_user();
    }
  });
  ask_for_bot_user();
}

void DownstreamService::ask_for_bot_user() {
  if (!m_tokens->has_token()) {
    return;  // the token's arrival asks
  }
  ingress::HttpRequestSpec spec;
  spec.url = m_users_me_url;
  spec.headers = {{"Authorization", m_tokens->authorization()}, {"X-Union-Appid", m_app_id}};
  m_user_request = std::make_unique<ingress::HttpRequest>(
      m_loop, std::move(spec),
      [this](ingress::HttpResponse&& response) { on_bot_user(std::move(response)); });
}

void DownstreamService::on_bot_user(ingress::HttpResponse&& response) {
  m_user_request.reset();
  simdjson::dom::parser parser;
  simdjson::dom::element me;
  std::string_view id;
  std::string_view username;
  if (response.status == 200 && parser.parse(response.body).get(me) == simdjson::SUCCESS &&
      me["id"].get(id) == simdjson::SUCCESS) {
    if (me["username"].get(username) != simdjson::SUCCESS) {
      username = {};
    }
    std::string user = R"({"id":)";
    util::append_json_string(user, id);
    user += R"(,"username":)";
    util::append_json_string(user, username);
    user += R"(,"bot":true})";
    m_gateway->set_bot_user(std::move(user));
    spdlog::info("downstream: READY names the bot as {} ({}), from /users/@me", username, id);
    return;
  }
  spdlog::warn("downstream: GET /users/@me failed ({}); READY names the bot without its id until it answers",
               response.status ? std::to_string(response.status) : response.error);
  m_user_retry.schedule_in(util::Millis(30'000));
}

void DownstreamService::stop() {
  m_gateway->end_all_sessions("the relay is stopping");
  save_sessions();
  m_writer.flush();
  m_tick.cancel();
  m_user_retry.cancel();
  m_user_request.reset();
}

}  // namespace relay::app

#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/client_auth.hpp"
#include "api/msg_seq.hpp"
#include "api/routes.hpp"
#include "ingress/api_server.hpp"
#include "ingress/http_request.hpp"
#include "ingress/token_source.hpp"
#include "ingress/upstream_pool.hpp"

namespace relay::ingress {

struct ApiForwarderSettings {
  std::string app_id;
  std::string api_base;  // gateway.api_base
  util::Millis upstream_timeout{30'000};
  unsigned max_in_flight = 64;
  unsigned max_queued = 1024;
  std::size_t max_response_bytes = 16 << 20;
};

struct ApiCounters {
  // Answers by route template and status (0: never answered, the client left).
  std::map<std::pair<std::string, int>, std::uint64_t> requests;
  // Seconds from the whole request to the answer, cumulative buckets as Prometheus wants them.
  static constexpr std::array<double, 10> k_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  std::array<std::uint64_t, k_buckets.size()> latency_buckets{};
  std::uint64_t latency_count = 0;
  double latency_sum = 0;
  std::uint64_t upstream_errors = 0;  // no answer from the platform (connection, timeout, TLS)
  std::uint64_t token_retries = 0;    // 11244: new token, same request once more
  std::uint64_t retries = 0;          // a GET or HEAD sent again after a connection error
  std::uint64_t refused_busy = 0;     // 503: in flight and queue full
  std::uint64_t unauthorized = 0;     // 401 from the relay itself (no or a wrong client key or token)
  // 400/405 from the relay itself: a method, path or Authorization it does not forward (api/forward_rules)
  std::uint64_t refused_malformed = 0;
  std::uint64_t msg_seq_added = 0;  // passive replies given a msg_seq
};

// Requests the relay answers itself instead of forwarding them: the gateway it serves to SDK bots
// (docs/downstream.md).
class LocalRoutes {
 public:
  virtual ~LocalRoutes() = default;
  // GET /gateway (bot false) or /gateway/bot (true) from an authenticated client: the JSON to answer with.
  virtual std::string gateway_info(const http::ServerRequest& request, bool bot) = 0;
  // GET /websocket, before any authentication (that comes in Identify): upgrade it with
  // ApiServer::upgrade, or answer it with ApiServer::respond.
  virtual void open_websocket(ExchangeId id, http::ServerRequest& request) = 0;
};

// The OpenAPI forwarder (docs/api.md). Local clients authenticate with their own keys (or tokens the relay
// issued for them at POST /app/getAppAccessToken); every other request is sent to gateway.api_base with the
// relay's own access token and the bot's X-Union-Appid, and answered as the platform answered. At most
// max_in_flight requests go to the platform at once; up to max_queued more wait, in order; past that 503 with
// Retry-After. A passive reply without msg_seq gets the next unused one for its message.
class ApiForwarder final : private ApiHandler {
 public:
  ApiForwarder(EventLoop& loop, ApiForwarderSettings settings, const std::vector<api::ClientKey>& clients,
               ApiServerSettings server);
  ~ApiForwarder() override;

  // Answers /gateway, /gateway/bot and /websocket with `routes` (which outlives the forwarder) from now on.
  void serve_locally(LocalRoutes& routes) { m_local = &routes; }
  ApiServer& server() { return m_server; }
  const api::ClientAuth& auth() const { return m_auth; }

  // The relay's token source (shared with the gateway). Requests wait for it, bounded like the others.
  void use_tokens(TokenSource& tokens);
  // SIGHUP: the clients file again; tokens of removed or changed clients stop working.
  void replace_clients(const std::vector<api::ClientKey>& clients) { m_auth.replace_keys(clients); }

  const ApiCounters& counters() const { return m_counters; }
  std::size_t in_flight() const { return m_in_flight.size(); }
  std::size_t queued() const { return m_queue.size(); }
  const ApiServer& server() const { return m_server; }
  // The kept-alive connections to the platform.
  const UpstreamCounters& upstream_counters() const { return m_pool.counters(); }
  std::size_t upstream_idle() const { return m_pool.idle(); }

 private:
  struct Call;
  void on_request(ExchangeId id, http::ServerRequest& request) override;
  std::optional<ApiResponse> refuse_before_body(const http::ServerRequest& head) override;
  void exchange_token(ExchangeId id, const http::ServerRequest& request, util::TimePoint started);
  void admit(std::unique_ptr<Call> call);
  void send(Call& call);
  void on_upstream(Call& call, HttpResponse&& response);
  void finish(Call& call, ApiResponse response);
  void answer(ExchangeId id, const std::string& route, util::TimePoint started, ApiResponse response);
  void start_queued();
  void on_new_token();
  void give_up_waiting_for_token();

  EventLoop& m_loop;
  ApiForwarderSettings m_settings;
  api::ClientAuth m_auth;
  api::MsgSeqAssigner m_msg_seqs;
  TokenSource* m_tokens = nullptr;
  LocalRoutes* m_local = nullptr;
  // Before the calls: their requests give their connections back to it when destroyed.
  UpstreamPool m_pool;
  std::unordered_map<Call*, std::unique_ptr<Call>> m_in_flight;
  std::deque<std::unique_ptr<Call>> m_queue;
  // Calls (still in flight) waiting for a new token after the platform refused the one they were sent with.
  std::vector<Call*> m_awaiting_token;
  Timer m_token_wait;
  // Finished calls, destroyed on the next pass (one may finish inside its own request's callback).
  std::vector<std::unique_ptr<Call>> m_finished;
  Timer m_reaper;
  ApiCounters m_counters;
  ApiServer m_server;
};

// The platform's error shape: {"code":N,"message":"..."}.
ApiResponse platform_error(int status, int code, std::string_view message);
// 401 with code 11244, as the platform answers an unknown token (SDKs then fetch a new one).
ApiResponse not_authenticated();
// True when a platform answer says the token is unknown or expired (code or err_code 11244).
bool says_token_expired(std::string_view body);

}  // namespace relay::ingress

#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/identify_pacer.hpp"
#include "gateway/session.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/gateway_socket.hpp"
#include "ingress/http_request.hpp"
#include "ingress/token_source.hpp"
#include "protocol/frame.hpp"
#include "protocol/responses.hpp"
#include "util/url.hpp"

namespace relay::ingress {

// A shard's session and the `s` of its last published Dispatch: what a restart resumes from.
struct SessionPosition {
  gateway::ShardId shard;
  std::string session_id;
  std::uint64_t seq = 0;
};

struct GatewaySettings {
  std::string app_id;
  std::string client_secret;  // access-token auth
  std::string static_token;   // legacy auth when not empty
  std::uint32_t intents = 1;
  std::string api_base;
  std::string token_url;
  std::optional<unsigned> shards;  // nullopt: as /gateway/bot suggests
  std::size_t max_frame_bytes = 1 << 20;
  gateway::SessionSettings session;  // timings; shard and intents are filled in per shard
  // Sessions saved by an earlier run; resumed when the shard count is unchanged.
  std::vector<SessionPosition> saved_sessions;
};

// Where the gateway's output goes. Called on the event loop; views die when the call returns.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_dispatch(const gateway::ShardId& shard, std::string_view session_id,
                           const gateway::Publish& event, std::int64_t received_at_us) = 0;
  virtual void on_shard_state(const gateway::ShardId& shard, std::string_view session_id,
                              const gateway::StateChanged& change) = 0;
  // A frame that is not one valid JSON document: never published. `seq` is its s when it could be read.
  virtual void on_invalid_frame(const gateway::ShardId& shard, std::optional<std::uint64_t> seq,
                                std::string_view problem, std::size_t offset, std::string_view bytes) = 0;
  // Nothing more will come: every shard stopped for good, or the credentials were refused for good.
  virtual void on_gateway_stopped(gateway::StopCategory category, const std::string& message) = 0;
};

struct GatewayCounters {
  std::uint64_t frames = 0;
  std::uint64_t bad_frames = 0;
  std::uint64_t oversized_frames = 0;
  std::uint64_t discoveries = 0;
};

// Holds every shard of the bot on one event loop: token, discovery, one Session and socket per shard, and the
// process-wide identify pacer. It carries out the Sessions' actions and hands events to the sink.
class GatewayClient {
 public:
  GatewayClient(EventLoop& loop, GatewaySettings settings, EventSink& sink);
  ~GatewayClient();

  void start();
  // Closes every socket without ending its session (SIGTERM).
  void shutdown();

  std::size_t shard_count() const { return m_shards.size(); }
  std::size_t ready_shards() const;
  const GatewayCounters& counters() const { return m_counters; }
  std::uint64_t token_refreshes() const { return m_tokens ? m_tokens->refreshes() : 0; }
  const gateway::Session* session(unsigned index) const;
  // Every shard that has a session, with its last published `s`.
  std::vector<SessionPosition> positions() const;

 private:
  class Shard;
  friend class Shard;

  void on_token(const std::string& authorization);
  void discover();
  void on_discovered(HttpResponse&& response);
  void discover_later(util::Millis delay);
  // Full jitter from `backoff`, at least half a second: for retries of /gateway/bot.
  util::Millis retry_delay(util::Backoff& backoff);
  void apply_limits(const protocol::GatewayInfo& info);
  void start_shards(const protocol::GatewayInfo& info);
  void restore_sessions(unsigned count);
  void stop_shards(std::string_view reason = "relay shutting down", bool will_resume = true);
  void reshard();
  unsigned shard_count_for(const protocol::GatewayInfo& info) const;
  std::size_t resumable_sessions(unsigned count) const;
  void execute(Shard& shard, gateway::Actions& actions);
  void poll_pacer();
  // The daily quota was spent and has reset: ask /gateway/bot for the new figures before identifying again.
  void refresh_limits();
  void on_limits(HttpResponse&& response);
  std::unique_ptr<HttpRequest> gateway_bot_request(void (GatewayClient::*on_response)(HttpResponse&&));
  void retire(std::unique_ptr<GatewaySocket> socket);
  void on_shard_stopped(gateway::StopCategory category, const std::string& message);

  EventLoop& m_loop;
  GatewaySettings m_settings;
  EventSink& m_sink;
  std::unique_ptr<TokenSource> m_tokens;
  std::string m_authorization;
  std::unique_ptr<HttpRequest> m_discovery;
  Timer m_discovery_timer;
  util::Backoff m_discovery_backoff{util::Millis(1'000), util::Millis(60'000)};
  std::optional<util::Url> m_gateway_url;
  std::vector<std::unique_ptr<Shard>> m_shards;
  gateway::IdentifyPacer m_pacer;
  Timer m_pacer_timer;
  std::unique_ptr<HttpRequest> m_limits_request;
  Timer m_limits_timer;
  bool m_limits_retry_pending = false;
  util::Backoff m_limits_backoff{util::Millis(1'000), util::Millis(60'000)};
  std::mt19937_64 m_random{std::random_device{}()};
  Timer m_reshard_timer;
  unsigned m_min_shards = 1;
  std::vector<unsigned> m_granted;
  std::vector<std::unique_ptr<GatewaySocket>> m_retired;
  Timer m_reaper;
  protocol::FrameDecoder m_decoder;
  gateway::Actions m_actions;
  GatewayCounters m_counters;
  bool m_stopping = false;
  bool m_gave_up = false;
};

}  // namespace relay::ingress

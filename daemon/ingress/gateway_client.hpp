#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/session.hpp"
#include "gateway/shard_orchestrator.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/gateway_socket.hpp"
#include "ingress/http_request.hpp"
#include "ingress/token_source.hpp"
#include "protocol/frame.hpp"
#include "protocol/responses.hpp"
#include "util/url.hpp"

namespace relay::ingress {

// A shard's session and the `s` of its last published Dispatch: what a restart resumes from.
using SessionPosition = gateway::SavedSession;

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
  util::Millis identify_window = gateway::IdentifyPacer::k_default_window;
  // Sessions saved by an earlier run; resumed when the shard count is unchanged.
  std::vector<SessionPosition> saved_sessions;
  // Cluster mode: run only the shards given to own_shard (see gateway::OrchestratorSettings::leased).
  bool leased = false;
  // When set, every Identify the local pacer permits passes through it too: the shard identifies only when
  // `proceed` runs, and only if it still waits on the same connection by then (it may have been disowned or
  // have reconnected meanwhile). `max_concurrency` is the layout's, `window` is identify_window.
  std::function<void(unsigned index, unsigned max_concurrency, util::Millis window,
                     std::function<void()> proceed)>
      identify_gate;
  // When set, called with session_start_limit from every /gateway/bot answer.
  std::function<void(std::uint64_t remaining, util::Millis reset_after)> on_quota;
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
  std::uint64_t disconnects = 0;  // connections that ended (disconnected or stopped)
  // By close code (0: closed by the relay); a handful of codes, so a small ordered map.
  std::map<int, std::uint64_t> close_codes;
};

// Holds every shard of the bot on one event loop: the token, the /gateway/bot requests, one Session and
// socket per shard. The decisions above a single shard (discovery, quota, layout, identify pacing,
// resharding) are the ShardOrchestrator's; this class feeds it responses, shard events and the time, carries
// out its actions and the Sessions', and hands events to the sink.
class GatewayClient {
 public:
  GatewayClient(EventLoop& loop, GatewaySettings settings, EventSink& sink);
  ~GatewayClient();

  void start();
  // Closes every socket without ending its session (SIGTERM).
  void shutdown();

  // Leased mode: this relay now holds shard `index`: it starts (at once, or when the layout does), resuming
  // `resume` when given (its shard field is ignored). A shard already owned is left as it is.
  void own_shard(unsigned index, std::optional<SessionPosition> resume);
  // Leased mode: stop shard `index` at once keeping its session: its socket closes with 4000 (never
  // 1000/1001), nothing more is published from it, it does not reconnect. Its state change (disconnected,
  // will resume) still reaches the sink.
  void disown_shard(unsigned index);

  std::size_t shard_count() const { return m_shards.size(); }
  std::size_t ready_shards() const;
  const GatewayCounters& counters() const { return m_counters; }
  std::uint64_t token_refreshes() const { return m_tokens ? m_tokens->refreshes() : 0; }
  // The access token source once start() made one (null with a static bot.token).
  TokenSource* tokens() { return m_tokens.get(); }
  // The session of shard `index` (the shard number, not a position), null when this process does not run it.
  const gateway::Session* session(unsigned index) const;
  // The shard numbers this process runs, ascending.
  std::vector<unsigned> shard_indexes() const;
  // Every shard that has a session, with its last published `s`.
  std::vector<SessionPosition> positions() const;

 private:
  class Shard;
  friend class Shard;

  void on_token(const std::string& authorization);
  void on_gateway_info(gateway::InfoPurpose purpose, HttpResponse&& response);
  std::unique_ptr<HttpRequest> gateway_bot_request(gateway::InfoPurpose purpose);
  // Hands the orchestrator's actions to carry_out, then re-arms its timer.
  void orchestrate(gateway::OrchestratorActions& actions);
  void carry_out(gateway::OrchestratorAction& action);
  void rearm_orchestrator();
  void start_shard(const gateway::StartShard& start);
  void stop_shards(std::string_view reason, bool will_resume, bool discard);
  void stop_shard(unsigned index);
  void permit_identify(unsigned index);
  Shard* shard_at(unsigned index);
  const Shard* shard_at(unsigned index) const;
  void execute(Shard& shard, gateway::Actions& actions);
  void retire(std::unique_ptr<GatewaySocket> socket);
  void on_shard_stopped(gateway::StopCategory category, const std::string& message);

  EventLoop& m_loop;
  GatewaySettings m_settings;
  EventSink& m_sink;
  std::unique_ptr<TokenSource> m_tokens;
  std::string m_authorization;
  std::unique_ptr<HttpRequest> m_discovery;
  std::unique_ptr<HttpRequest> m_limits_request;
  std::string
      m_info_problem;  // what the last failed /gateway/bot request said, for the orchestrator's log lines
  gateway::ShardOrchestrator m_orchestrator;
  Timer m_orchestrator_timer;
  gateway::OrchestratorActions m_orchestrator_actions;
  std::optional<util::Url> m_gateway_url;
  std::vector<std::unique_ptr<Shard>> m_shards;
  std::vector<std::unique_ptr<GatewaySocket>> m_retired;
  // Shards stopped one at a time, freed by the reaper: never inside one of their own calls.
  std::vector<std::unique_ptr<Shard>> m_stopped_shards;
  std::uint64_t m_next_shard_serial = 0;
  unsigned m_max_concurrency = 1;
  // Expires with this object, so that an identify gate's late `proceed` does nothing.
  std::shared_ptr<int> m_alive = std::make_shared<int>(0);
  Timer m_reaper;
  protocol::FrameDecoder m_decoder;
  gateway::Actions m_actions;
  GatewayCounters m_counters;
  bool m_stopping = false;
  bool m_gave_up = false;
};

}  // namespace relay::ingress

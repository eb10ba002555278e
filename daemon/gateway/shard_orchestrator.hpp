#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "gateway/identify_pacer.hpp"
#include "gateway/session.hpp"
#include "protocol/responses.hpp"
#include "util/backoff.hpp"
#include "util/time.hpp"
#include "util/url.hpp"

namespace relay::gateway {

// A shard's session and the `s` of its last published Dispatch: what a restart resumes from.
struct SavedSession {
  ShardId shard;
  std::string session_id;
  std::uint64_t seq = 0;
};

struct OrchestratorSettings {
  std::optional<unsigned> shards;  // nullopt: as /gateway/bot suggests
  bool api_tls = true;             // the API is reached over https, so the gateway must be wss://
  util::Millis identify_window = IdentifyPacer::k_default_window;
  // Sessions saved by an earlier run; resumed when the shard count is unchanged.
  std::vector<SavedSession> saved_sessions;
  std::uint64_t random_seed = 0;
  // Cluster mode: the shards this relay holds a lease for are given one at a time (own_shard, disown_shard)
  // while a layout runs. A layout owns no shard when it starts, saved_sessions are ignored (the stored
  // positions come with own_shard), and 4011 never reshards (see ReshardRefused).
  bool leased = false;
};

// --- What the orchestrator asks its driver to do ---

// GET /gateway/bot: to start a layout, or only for the new session quota once the old one has reset.
enum class InfoPurpose { discovery, limits };
struct FetchGatewayInfo {
  InfoPurpose purpose;
};

// The cached access token was refused by /gateway/bot: fetch a new one (on_token follows).
struct InvalidateToken {};

// Why the next discovery waits; the driver logs it.
enum class DelayReason { request_failed, unusable_response, unusable_url, quota_short };
struct DiscoveryDelayed {
  DelayReason reason;
  util::Millis delay;
  std::string detail;             // unusable_url: what is wrong with the URL
  std::string url;                // unusable_url: the URL itself
  std::uint64_t remaining = 0;    // quota_short: session starts the platform allows
  std::size_t starts_needed = 0;  // quota_short: shards that need one
};

struct LimitsDelayed {
  util::Millis delay;
};

// A new layout: `count` shards on `url`. `requested` is what configuration or /gateway/bot asked for, when
// a 4011 made the orchestrator use more.
struct StartLayout {
  util::Url url;
  std::string raw_url;
  unsigned count;
  unsigned requested;
  unsigned max_concurrency;
  std::uint64_t remaining;
  // Saved sessions that could not be used (another shard count), if any.
  std::size_t discarded_sessions = 0;
  unsigned discarded_count = 0;
};

// Start one shard of the current layout: resume `resume` when given, otherwise identify a new session.
struct StartShard {
  ShardId shard;
  std::optional<SavedSession> resume;
};

// Stop every shard. `discard`: forget them too (resharding), so a new layout can start.
struct StopShards {
  std::string_view reason;
  bool will_resume;
  bool discard;
};

// Leased mode: stop this one shard at once keeping its session (its socket ends with 4000, never 1000/1001)
// and forget it; it does not reconnect. Another relay resumes it.
struct StopShard {
  unsigned index;
};

// Leased mode: the gateway closed shard `index` with 4011, but every relay of a cluster must use the same
// layout, so no reshard: the operator must raise gateway.shards on every relay. The shard is restarted (a
// StopShard, then a StartShard with a new session) after `retry_in`.
struct ReshardRefused {
  unsigned index;
  unsigned count;
  util::Millis retry_in;
};

// Shard `index` may send its Identify now.
struct PermitIdentify {
  unsigned index;
};

// Queued shards wait for the daily quota to reset at `until`.
struct WaitingForQuota {
  std::size_t queued;
  util::TimePoint until;
};

struct QuotaRefreshed {
  std::uint64_t remaining;
  std::uint64_t reset_after_ms;
};

using OrchestratorAction =
    std::variant<FetchGatewayInfo, InvalidateToken, DiscoveryDelayed, LimitsDelayed, StartLayout, StartShard,
                 StopShards, PermitIdentify, WaitingForQuota, QuotaRefreshed, StopShard, ReshardRefused>;
using OrchestratorActions = std::vector<OrchestratorAction>;

enum class InfoFailure {
  request_failed,     // no answer, or an HTTP error
  unusable_response,  // HTTP 200 with a body that is not the documented shape
  token_refused,      // HTTP 401 with an access token that a refresh can replace
};

// Which shards exist and which this process runs, when to ask /gateway/bot, when to wait for the daily
// session quota, identify pacing across every shard, resuming an earlier run's sessions, and what to do on
// 4011: a pure state machine like Session. The driver feeds it /gateway/bot answers, shard events and the
// current monotonic time, carries out its actions, and after every call re-arms one timer for
// next_deadline(), calling on_tick when it fires.
class ShardOrchestrator {
 public:
  explicit ShardOrchestrator(OrchestratorSettings settings);

  // The shards this process runs (nullopt: all of them). Read when a layout starts; a future lease holder
  // sets it, so that relays sharing one bot split its shards.
  void set_owned_shards(std::optional<std::vector<unsigned>> owned) { m_owned = std::move(owned); }

  // Leased mode: this relay now holds shard `index`. A StartShard follows at once when a layout runs,
  // otherwise when the layout starts; it resumes `resume` when given (its shard field is ignored). Owning a
  // shard already owned changes nothing. An index outside the layout is ignored.
  void own_shard(unsigned index, std::optional<SavedSession> resume, util::TimePoint now,
                 OrchestratorActions& out);
  // Leased mode: this relay no longer holds shard `index`: StopShard when it was started, and it leaves the
  // identify queue. Disowning a shard not owned changes nothing.
  void disown_shard(unsigned index, OrchestratorActions& out);
  bool owns_shard(unsigned index) const { return owns(index); }

  // Credentials are available (again): discover, unless a layout runs or a discovery is already due.
  void on_token(util::TimePoint now, OrchestratorActions& out);
  void on_discovered(const protocol::GatewayInfo& info, util::TimePoint now, OrchestratorActions& out);
  void on_discovery_failed(InfoFailure failure, util::TimePoint now, OrchestratorActions& out);
  void on_limits(const protocol::GatewayInfo& info, util::TimePoint now, OrchestratorActions& out);
  void on_limits_failed(InfoFailure failure, util::TimePoint now, OrchestratorActions& out);

  // A shard's Session asked for an identify slot (RequestIdentify).
  void on_identify_requested(unsigned index, util::TimePoint now);
  // A shard's connection is gone: it no longer waits for a slot.
  void on_shard_disconnected(unsigned index);
  // Shard `index` was closed with 4011: the layout is too small. Outside leased mode every shard stops and a
  // new layout with more shards starts. In leased mode the layout stays (all relays must agree on it): a
  // ReshardRefused is emitted and, after a growing delay (5 s up to 5 min), the shard is restarted with a new
  // session as StopShard + StartShard, because its Session stays idle after a 4011.
  void on_reshard_requested(unsigned index, util::TimePoint now, OrchestratorActions& out);

  void on_tick(util::TimePoint now, OrchestratorActions& out);
  // No more discovery or starts; every shard closes keeping its session.
  void shutdown(OrchestratorActions& out);

  std::optional<util::TimePoint> next_deadline() const;
  // The current layout's shard count; 0 while none runs.
  unsigned layout_count() const { return m_layout_count; }
  // An earlier run's sessions while no layout has used (or dropped) them yet.
  const std::vector<SavedSession>& saved_sessions() const { return m_settings.saved_sessions; }
  const IdentifyPacer& pacer() const { return m_pacer; }

 private:
  void discover(OrchestratorActions& out);
  void discover_in(util::Millis delay, util::TimePoint now, DiscoveryDelayed delayed,
                   OrchestratorActions& out);
  void refresh_limits(OrchestratorActions& out);
  void apply_limits(const protocol::GatewayInfo& info, util::TimePoint now);
  void poll_pacer(util::TimePoint now, OrchestratorActions& out);
  void reshard(util::TimePoint now, OrchestratorActions& out);
  void start_layout(const protocol::GatewayInfo& info, util::Url url, OrchestratorActions& out);
  void restart_refused_shards(util::TimePoint now, OrchestratorActions& out);
  unsigned shard_count_for(const protocol::GatewayInfo& info) const;
  bool owns(unsigned index) const;
  std::size_t owned_in(unsigned count) const;
  std::size_t resumable_sessions(unsigned count) const;
  util::Millis retry_delay(util::Backoff& backoff);

  OrchestratorSettings m_settings;
  std::optional<std::vector<unsigned>> m_owned;
  bool m_stopping = false;
  bool m_discovery_in_flight = false;
  std::optional<util::TimePoint> m_discovery_at;
  util::Backoff m_discovery_backoff{util::Millis(1'000), util::Millis(60'000)};
  unsigned m_layout_count = 0;
  unsigned m_min_shards = 1;
  std::optional<util::TimePoint> m_reshard_at;
  IdentifyPacer m_pacer;
  std::optional<util::TimePoint> m_pacer_at;
  bool m_limits_in_flight = false;
  std::optional<util::TimePoint> m_limits_at;
  util::Backoff m_limits_backoff{util::Millis(1'000), util::Millis(60'000)};
  std::mt19937_64 m_random;
  // Leased mode: owned shards waiting for a layout to start them, with the position to resume.
  std::map<unsigned, std::optional<SavedSession>> m_waiting_for_layout;
  // Leased mode: shards closed with 4011, and when each is restarted.
  std::map<unsigned, util::TimePoint> m_restart_at;
  util::Backoff m_refused_backoff{util::Millis(5'000), util::Millis(300'000)};
};

}  // namespace relay::gateway

// ClusterCoordinator's innards, shared by its two source files (leases and heartbeats; positions, pacing and
// duplicate checks). Not for other modules.
#pragma once

#include <deque>
#include <list>

#include "cluster/cluster_coordinator.hpp"
#include "cluster/lease_scripts.hpp"
#include "cluster/lua_script.hpp"
#include "cluster/trouble_log.hpp"

namespace relay::cluster {

// "timeout", "disconnected", Redis' error text, or "unexpected reply".
std::string describe_failure(const CommandResult& result);
bool is_integer(const CommandResult& result, std::int64_t value);

struct ClusterCoordinator::Impl {
  // The handler hears of a shard only once its position is loaded (running), and of its stop only then.
  enum class Phase { idle, loading, running };
  struct ShardRun {
    Phase phase = Phase::idle;
    std::uint64_t token = 0;
    std::uint64_t highest_token =
        0;  // of any lease this node held: a lower new one means Redis lost its data
    bool load_in_flight = false;
  };
  struct SeenCheck {
    std::function<void(bool)> done;
    std::optional<bool> first;  // the answer, once Redis gave it (or failed)
  };
  struct PaceWait {
    unsigned shard;
    unsigned max_concurrency;
    util::Millis window;
    std::function<void()> proceed;
    std::unique_ptr<ingress::Timer> retry;
  };

  Impl(ClusterCoordinator& owner, ingress::EventLoop& loop);

  // Leases and heartbeats (cluster_coordinator.cpp).
  void heartbeat();
  void on_heartbeat(const CommandResult& result);
  void run(LeaseActions actions);
  void carry_out(const ClaimShard& action);
  void carry_out(const RenewShard& action);
  void carry_out(const ReleaseShard& action);
  void carry_out(const StartShard& action);
  void carry_out(const StopShard& action);
  void load_position(unsigned shard);
  void acquire(unsigned shard, const std::optional<StoredPosition>& position);
  void on_lease_timer();
  void rearm();
  void finish_shutdown();
  void outcome(const CommandResult& result, bool ok, std::string_view what);

  // Positions, pacing, duplicates (coordinator_services.cpp).
  void on_saved(unsigned shard, std::uint64_t token, const CommandResult& result);
  void try_pace(std::list<PaceWait>::iterator wait);
  void answer_seen(std::uint64_t index, const CommandResult& result);
  void release_answered_checks();

  std::string lease_ms() const { return std::to_string(settings.lease.count()); }
  unsigned shard_count() const { return settings.shard_count; }

  // While on_shard_released runs for a stop that keeps the lease until its release (handover, shutdown,
  // expiring): that shard's last position may still be written with its token.
  struct FinalSave {
    unsigned shard;
    std::uint64_t token;
  };
  std::optional<FinalSave> final_save;

  ClusterCoordinator& owner;
  ingress::EventLoop& loop;
  const ClusterSettings& settings;
  LeaseKeys keys;
  LeaseKeeper keeper;
  TroubleLog trouble;
  const LuaScript claim_script{std::string(k_claim_script.source)};
  const LuaScript renew_script{std::string(k_renew_script.source)};
  const LuaScript release_script{std::string(k_release_script.source)};
  const LuaScript save_script{std::string(k_save_position_script.source)};
  const LuaScript load_script{std::string(k_load_position_script.source)};
  const LuaScript pace_script{std::string(k_pace_identify_script.source)};
  const LuaScript heartbeat_script{std::string(k_heartbeat_script.source)};
  const LuaScript quota_script{std::string(k_note_quota_script.source)};

  std::vector<ShardRun> shards;
  std::deque<SeenCheck> seen;
  std::uint64_t seen_front = 0;  // the index of seen.front() among every check made
  std::list<PaceWait> paces;
  std::optional<util::TimePoint> load_retry_at;

  // This node loaded or saved a position: a shard acquired later without one lost it in Redis, even when its
  // fencing counter (lost with it) cannot tell, because this node never held that shard before.
  bool positions_known = false;
  bool stopping = false;
  std::size_t shutdown_waiting = 0;  // commands of the shutdown not answered yet
  std::function<void()> shutdown_done;

  ingress::Timer heartbeat_timer;
  ingress::Timer lease_timer;
  ingress::Timer shutdown_timer;
  // Last: destroyed first, so that no reply can arrive into a half-destroyed Impl (none is delivered anyway).
  std::unique_ptr<RedisConnection> redis;
};

}  // namespace relay::cluster

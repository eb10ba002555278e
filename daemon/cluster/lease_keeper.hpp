#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/time.hpp"

namespace relay::cluster {

struct LeaseSettings {
  unsigned shard_count = 1;
  std::string node;
  util::Millis lease{10'000};
  // A shard stops this long before its lease could expire in Redis, when no renewal succeeded since.
  util::Millis margin{2'000};
};

// --- What the keeper asks its driver to do (run the scripts of lease_scripts.hpp, start/stop shards) ---

struct ClaimShard {
  unsigned shard;
};
struct RenewShard {
  unsigned shard;
  std::uint64_t token;
};
struct ReleaseShard {
  unsigned shard;
  std::uint64_t token;
};
// Run the shard (resume from the stored position); saves carry `token`.
struct StartShard {
  unsigned shard;
  std::uint64_t token;
};
enum class StopReason {
  lease_lost,      // renew answered 0, or a position write was refused: another node owns it now
  lease_expiring,  // no renewal succeeded before expiry minus the margin
  handover,        // above the fair share: released for a node that joined
  shutdown,        // graceful stop: every lease released
};
// Stop the shard at once, keeping its session (no 1000/1001 close) so that the next owner resumes it.
struct StopShard {
  unsigned shard;
  StopReason reason;
};

using LeaseAction = std::variant<ClaimShard, RenewShard, ReleaseShard, StartShard, StopShard>;
using LeaseActions = std::vector<LeaseAction>;

// The claim script's answer: the lease's token and owner (ours when owner == node).
struct ClaimReply {
  std::uint64_t token;
  std::string owner;
};
enum class RenewResult { renewed, lost, failed };

std::string_view to_string(StopReason reason);

// Which shards this node holds, as a pure state machine like gateway::ShardOrchestrator: the driver feeds
// it the live nodes, the scripts' replies and the monotonic time, carries out its actions in order, and
// re-arms one timer for next_deadline(). A lease's expiry is counted from when its claim or renewal was
// sent, so a slow reply can only make the keeper stop early, never late.
class LeaseKeeper {
 public:
  explicit LeaseKeeper(LeaseSettings settings);

  // The live nodes (from the heartbeat set); this node always counts itself.
  void on_live_nodes(const std::vector<std::string>& nodes, util::TimePoint now, LeaseActions& out);
  // nullopt: the command failed (Redis unreachable, timeout).
  void on_claim_result(unsigned shard, const std::optional<ClaimReply>& reply, util::TimePoint now,
                       LeaseActions& out);
  void on_renew_result(unsigned shard, RenewResult result, util::TimePoint now, LeaseActions& out);
  // Redis refused a position write made with `token` (STALE_TOKEN): a newer owner exists, so the lease is
  // lost as if a renewal had answered 0. Ignored when the shard was already stopped or claimed again since.
  void on_position_refused(unsigned shard, std::uint64_t token, util::TimePoint now, LeaseActions& out);
  void on_tick(util::TimePoint now, LeaseActions& out);
  // Stop and release every shard; no more claims.
  void shutdown(LeaseActions& out);

  std::optional<util::TimePoint> next_deadline() const;
  // Whether the shard may publish and save now: started, and its lease safely valid.
  bool holds(unsigned shard, util::TimePoint now) const;
  std::size_t held_count() const;
  unsigned fair_share() const;

 private:
  enum class State { free, claiming, held };
  struct Shard {
    State state = State::free;
    std::uint64_t token = 0;
    bool renewing = false;
    util::TimePoint sent_at{};      // of the claim or renewal in flight
    util::TimePoint stop_at{};      // held: expiry minus the margin
    util::TimePoint renew_at{};     // held: next renewal
    util::TimePoint claim_after{};  // free: not before (another node held it)
  };

  void stop(unsigned shard, StopReason reason, LeaseActions& out);
  void claim_up_to_share(util::TimePoint now, LeaseActions& out);
  void hand_over_excess(util::TimePoint now, LeaseActions& out);
  std::size_t count(State state) const;
  util::Millis renew_interval() const { return m_settings.lease / 3; }

  LeaseSettings m_settings;
  std::vector<Shard> m_shards;
  std::size_t m_live_nodes = 1;
  bool m_stopping = false;
  util::TimePoint m_handover_after{};
};

}  // namespace relay::cluster

// This relay's part in a cluster of relays sharing one bot through Redis: it runs the LeaseKeeper against a
// RedisConnection (node heartbeats, claims, renewals, releases), loads a shard's stored position when a lease
// is won, writes positions with the lease's fencing token, paces Identify and the daily session quota across
// relays, and answers "was this event id already published by any relay?". Everything runs on the relay's
// event loop; a Redis command never blocks it. Redis trouble only delays: leases still valid are kept until
// they run out, and an unanswered duplicate check lets the event through (a repeat is better than a loss).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/lease_keeper.hpp"
#include "cluster/lease_keys.hpp"
#include "cluster/redis_connection.hpp"
#include "ingress/event_loop.hpp"
#include "util/redis_url.hpp"

namespace relay::cluster {

struct ClusterSettings {
  util::RedisUrl redis;
  std::string node;
  util::Millis lease{10'000};
  // Keys live under key_prefix + app_id + ":" so that relays of two bots can share one Redis.
  std::string key_prefix = "qq-relay:";
  std::string app_id;
  // 0: this relay runs no gateway shards (webhooks only): no leases, only heartbeats and duplicate checks.
  unsigned shard_count = 0;
  // How long an event id is remembered across relays.
  util::Millis dedupe{600'000};
  // Per Redis command.
  util::Millis command_timeout{2'000};
  // Reconnection backoff after Redis was lost (tests shorten it).
  RedisOptions reconnect{};
};

// A shard's position as the previous owner stored it.
struct StoredPosition {
  std::uint64_t token = 0;  // the fencing token of the owner that wrote it
  std::string session_id;
  std::uint64_t seq = 0;
  std::uint64_t relay_seq = 0;  // in the writing node's own numbering; for logs
};

class ClusterHandler {
 public:
  virtual ~ClusterHandler() = default;
  // This relay now holds the shard: start it, resuming `position` when there is one (else identify).
  // No position: none was ever stored, or Redis lost its data (logged; the shard identifies).
  virtual void on_shard_acquired(unsigned shard, const std::optional<StoredPosition>& position) = 0;
  // Stop the shard at once keeping its session (no 1000/1001 close): another relay resumes it. Only ever
  // follows an on_shard_acquired of the same shard (a lease lost while its position was loading is silent).
  virtual void on_shard_released(unsigned shard, StopReason reason) = 0;
};

struct ClusterCounters {
  std::uint64_t claimed = 0;            // leases won
  std::uint64_t lost = 0;               // StopReason::lease_lost
  std::uint64_t expiring = 0;           // StopReason::lease_expiring
  std::uint64_t handed_over = 0;        // StopReason::handover
  std::uint64_t released = 0;           // StopReason::shutdown
  std::uint64_t positions_saved = 0;    // accepted by Redis
  std::uint64_t positions_refused = 0;  // STALE_TOKEN: a newer owner exists
  std::uint64_t positions_missing = 0;  // lease won but no stored position
  std::uint64_t duplicates = 0;         // check_seen answered "seen"
  std::uint64_t unchecked = 0;          // check_seen failed (Redis trouble): let through
  std::uint64_t identify_waits = 0;     // pace_identify waited (another relay's window, or the daily quota)
};

class ClusterCoordinator {
 public:
  ClusterCoordinator(ingress::EventLoop& loop, ClusterSettings settings, ClusterHandler& handler);
  // Without shutdown() first this is what a crash does: the connection drops, the leases stay in Redis until
  // they expire (the others take the shards then), and the node stays listed until its heartbeat is stale.
  // Not from inside one of its own callbacks (handler, done, proceed).
  ~ClusterCoordinator();
  ClusterCoordinator(const ClusterCoordinator&) = delete;
  ClusterCoordinator& operator=(const ClusterCoordinator&) = delete;

  // Connects, announces the node (a heartbeat every lease/3, scored with Redis' own clock) and starts
  // claiming up to the fair share once the live nodes are known. A shard stops lease/5 before its lease could
  // expire.
  void start();
  // Releases every lease (on_shard_released(shutdown) for each first) and leaves the live-node set; `done`
  // runs once Redis answered or after one command timeout, never later (the coordinator must outlive it).
  void shutdown(std::function<void()> done);

  // Whether the shard's lease is held and safely valid now (fencing: publish and save only while true).
  bool holds(unsigned shard) const;
  // Writes the shard's position with the lease's fencing token; ignored when the lease is not held, except
  // inside on_shard_released for a handover, shutdown or expiring lease: that last save goes out before the
  // release.
  // Redis refuses it when a newer owner exists (counted, logged): the shard is then stopped (lease_lost).
  void save_position(unsigned shard, std::string_view session_id, std::uint64_t seq, std::uint64_t relay_seq);
  // Calls `proceed` once no other relay identified in the shard's bucket (shard % max_concurrency) within
  // the identify window and the shared daily quota has a start left; at once when Redis is unreachable or
  // failing. Each wait for another relay's window or for the quota's reset counts one identify_wait.
  void pace_identify(unsigned shard, unsigned max_concurrency, util::Millis window,
                     std::function<void()> proceed);
  // The platform's latest session_start_limit: the shared quota never goes above it (set when absent or
  // lower, expiring at the reset). Until a relay notes it, pacing counts no quota.
  void note_quota(std::uint64_t remaining, util::Millis reset_after);
  // `done(true)` when no relay recorded this event id as published within `dedupe` (mark_seen), `done(false)`
  // for a repeat. The check records nothing. Answers come in the order the checks were made, even when some
  // fail. Redis trouble: done(true), counted as unchecked. Before start(), answers done(true) at once.
  void check_seen(std::string_view event_id, std::function<void(bool first)> done);
  // Records that this relay has published the event id (not waited for). Recorded after the publish, not at
  // the check: a relay killed between check and publish leaves the id unrecorded, so the next owner of the
  // shard publishes the platform's replay of it (two relays publishing one id at the same moment both publish
  // it: a repeat, which subscribers drop, rather than a loss). Each id is one key `<prefix>seen:<id>` with a
  // PX expiry of `dedupe`, so Redis holds at most (distinct events per second) x dedupe of them: 100 events/s
  // for 10 minutes is 60 000 keys of ~100 bytes.
  void mark_seen(std::string_view event_id);

  bool redis_connected() const;
  const std::string& redis_error() const;
  std::size_t live_nodes() const { return m_live_nodes.size(); }
  std::size_t held_count() const;
  const ClusterCounters& counters() const { return m_counters; }
  const RedisCounters& redis_counters() const;
  const std::string& node() const { return m_settings.node; }

 private:
  ClusterSettings m_settings;
  ClusterHandler& m_handler;
  std::vector<std::string> m_live_nodes;
  ClusterCounters m_counters;
  // The rest is the implementation's (LeaseKeeper, RedisConnection, timers, the tokens of held leases).
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace relay::cluster

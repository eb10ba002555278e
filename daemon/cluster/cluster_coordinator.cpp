#include "cluster/cluster_coordinator.hpp"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cluster/coordinator_impl.hpp"
#include "cluster/reply_shapes.hpp"

namespace relay::cluster {

namespace {

LeaseSettings lease_settings(const ClusterSettings& settings) {
  return LeaseSettings{settings.shard_count, settings.node, settings.lease, settings.lease / 5};
}

}  // namespace

std::string describe_failure(const CommandResult& result) {
  if (!result) {
    return result.error().reason;
  }
  return result->is_error() ? result->text : "unexpected reply";
}

bool is_integer(const CommandResult& result, std::int64_t value) {
  return result && result->kind == RedisReply::Kind::integer && result->integer == value;
}

ClusterCoordinator::Impl::Impl(ClusterCoordinator& coordinator, ingress::EventLoop& event_loop)
    : owner(coordinator),
      loop(event_loop),
      settings(coordinator.m_settings),
      keys{settings.key_prefix + settings.app_id + ":"},
      keeper(lease_settings(settings)),
      shards(settings.shard_count),
      heartbeat_timer(loop, [this] { heartbeat(); }),
      lease_timer(loop, [this] { on_lease_timer(); }),
      shutdown_timer(loop, [this] { finish_shutdown(); }) {}

ClusterCoordinator::ClusterCoordinator(ingress::EventLoop& loop, ClusterSettings settings,
                                       ClusterHandler& handler)
    : m_settings(std::move(settings)), m_handler(handler), m_impl(std::make_unique<Impl>(*this, loop)) {}

ClusterCoordinator::~ClusterCoordinator() = default;

void ClusterCoordinator::start() {
  if (m_impl->redis) {
    return;
  }
  spdlog::info("cluster: node {} joins through redis {}:{} (lease {} ms, {} shards, keys under {})",
               m_settings.node, m_settings.redis.host, m_settings.redis.port, m_settings.lease.count(),
               m_settings.shard_count, m_impl->keys.prefix);
  m_impl->redis = std::make_unique<RedisConnection>(m_impl->loop, m_settings.redis, m_settings.reconnect);
  if (m_settings.shard_count > 0) {
    // Only relays that run shards join the live-node set: a webhook-only relay must not lower the others'
    // fair share and leave shards unclaimed.
    m_impl->heartbeat();
  }
}

bool ClusterCoordinator::holds(unsigned shard) const {
  return m_impl->keeper.holds(shard, m_impl->loop.now());
}

bool ClusterCoordinator::redis_connected() const {
  return m_impl->redis && m_impl->redis->connected();
}

const std::string& ClusterCoordinator::redis_error() const {
  static const std::string none;
  return m_impl->redis ? m_impl->redis->last_error() : none;
}

std::size_t ClusterCoordinator::held_count() const {
  return m_impl->keeper.held_count();
}

const RedisCounters& ClusterCoordinator::redis_counters() const {
  static const RedisCounters none;
  return m_impl->redis ? m_impl->redis->counters() : none;
}

void ClusterCoordinator::shutdown(std::function<void()> done) {
  Impl& impl = *m_impl;
  if (!impl.redis || impl.stopping) {
    done();
    return;
  }
  impl.stopping = true;
  impl.shutdown_done = std::move(done);
  impl.heartbeat_timer.cancel();
  impl.shutdown_timer.schedule_in(m_settings.command_timeout);
  LeaseActions out;
  impl.keeper.shutdown(out);
  impl.run(std::move(out));  // the releases count in shutdown_waiting
  ++impl.shutdown_waiting;
  impl.redis->command(
      {"ZREM", impl.keys.nodes(), m_settings.node},
      [&impl](const CommandResult& result) {
        impl.outcome(result, result && !result->is_error(), "leave the live-node set");
        if (--impl.shutdown_waiting == 0) {
          impl.finish_shutdown();
        }
      },
      m_settings.command_timeout);
  spdlog::info("cluster: node {} leaves: leases released", m_settings.node);
}

void ClusterCoordinator::Impl::finish_shutdown() {
  if (!shutdown_done) {
    return;
  }
  shutdown_timer.cancel();
  auto done = std::move(shutdown_done);
  shutdown_done = nullptr;
  done();
}

void ClusterCoordinator::Impl::outcome(const CommandResult& result, bool ok, std::string_view what) {
  if (ok) {
    trouble.success(loop.now());
  } else {
    trouble.failure(what, describe_failure(result), loop.now());
  }
}

void ClusterCoordinator::Impl::heartbeat() {
  heartbeat_timer.schedule_in(settings.lease / 3);
  redis->evalsha(
      heartbeat_script, {keys.nodes()}, {settings.node, lease_ms()},
      [this](const CommandResult& result) { on_heartbeat(result); }, settings.command_timeout);
}

void ClusterCoordinator::Impl::on_heartbeat(const CommandResult& result) {
  std::optional<std::vector<std::string>> members = result ? members_from(*result) : std::nullopt;
  outcome(result, members.has_value(), "heartbeat");
  if (!members || stopping) {
    return;
  }
  std::vector<std::string> nodes = std::move(*members);
  if (nodes != owner.m_live_nodes) {
    spdlog::info("cluster: {} live node(s): {}", nodes.size(), fmt::join(nodes, ", "));
  }
  owner.m_live_nodes = nodes;
  LeaseActions out;
  keeper.on_live_nodes(nodes, loop.now(), out);
  run(std::move(out));
}

void ClusterCoordinator::Impl::on_lease_timer() {
  const util::TimePoint now = loop.now();
  if (load_retry_at && now >= *load_retry_at) {
    load_retry_at.reset();
    for (unsigned shard = 0; shard < shards.size(); ++shard) {
      if (shards[shard].phase == Phase::loading && !shards[shard].load_in_flight) {
        load_position(shard);
      }
    }
  }
  LeaseActions out;
  keeper.on_tick(now, out);
  run(std::move(out));
}

void ClusterCoordinator::Impl::rearm() {
  std::optional<util::TimePoint> next = keeper.next_deadline();
  if (load_retry_at && (!next || *load_retry_at < *next)) {
    next = load_retry_at;
  }
  if (next) {
    lease_timer.schedule_at(*next);
  } else {
    lease_timer.cancel();
  }
}

void ClusterCoordinator::Impl::run(LeaseActions actions) {
  for (const LeaseAction& action : actions) {
    std::visit([this](const auto& a) { carry_out(a); }, action);
  }
  rearm();
}

void ClusterCoordinator::Impl::carry_out(const ClaimShard& action) {
  const unsigned shard = action.shard;
  redis->evalsha(
      claim_script, {keys.lease(shard, shard_count()), keys.fence(shard, shard_count())},
      {settings.node, lease_ms()},
      [this, shard](const CommandResult& result) {
        const std::optional<ClaimReply> reply = result ? claim_from(*result) : std::nullopt;
        outcome(result, reply.has_value(), "claim shard " + std::to_string(shard));
        LeaseActions out;
        keeper.on_claim_result(shard, reply, loop.now(), out);
        run(std::move(out));
      },
      settings.command_timeout);
}

void ClusterCoordinator::Impl::carry_out(const RenewShard& action) {
  const unsigned shard = action.shard;
  redis->evalsha(
      renew_script, {keys.lease(shard, shard_count())},
      {settings.node, std::to_string(action.token), lease_ms()},
      [this, shard](const CommandResult& result) {
        const RenewResult renewal = result ? renewal_from(*result) : RenewResult::failed;
        outcome(result, renewal != RenewResult::failed, "renew shard " + std::to_string(shard));
        if (renewal == RenewResult::lost) {
          spdlog::warn(
              "cluster: shard {}: the lease is no longer ours (another relay owns it, or Redis lost it)",
              shard);
        }
        LeaseActions out;
        keeper.on_renew_result(shard, renewal, loop.now(), out);
        run(std::move(out));
      },
      settings.command_timeout);
}

void ClusterCoordinator::Impl::carry_out(const ReleaseShard& action) {
  const unsigned shard = action.shard;
  const bool for_shutdown = stopping;
  shutdown_waiting += for_shutdown ? 1 : 0;
  redis->evalsha(
      release_script, {keys.lease(shard, shard_count())}, {settings.node, std::to_string(action.token)},
      [this, shard, for_shutdown](const CommandResult& result) {
        outcome(result, result && !result->is_error(), "release shard " + std::to_string(shard));
        if (for_shutdown && --shutdown_waiting == 0) {
          finish_shutdown();
        }
      },
      settings.command_timeout);
}

void ClusterCoordinator::Impl::carry_out(const StartShard& action) {
  auto& state = shards[action.shard];
  state.phase = Phase::loading;
  state.token = action.token;
  ++owner.m_counters.claimed;
  load_position(action.shard);
}

void ClusterCoordinator::Impl::load_position(unsigned shard) {
  shards[shard].load_in_flight = true;
  const std::uint64_t token = shards[shard].token;
  redis->evalsha(
      load_script, {keys.position(shard, shard_count())}, {},
      [this, shard, token](const CommandResult& result) {
        auto& state = shards[shard];
        if (state.phase != Phase::loading || state.token != token) {
          return;  // stopped meanwhile
        }
        state.load_in_flight = false;
        const bool ok = result && result->kind == RedisReply::Kind::array;
        outcome(result, ok, "load the position of shard " + std::to_string(shard));
        if (!ok) {
          load_retry_at = loop.now() + settings.lease / 10;  // while the lease lasts
          rearm();
          return;
        }
        if (const std::string_view problem = position_problem(*result); !problem.empty()) {
          spdlog::warn(
              "cluster: shard {}: the stored position is unusable ({}): the shard will identify a new "
              "session",
              shard, problem);
        }
        acquire(shard, position_from(*result));
      },
      settings.command_timeout);
}

void ClusterCoordinator::Impl::acquire(unsigned shard, const std::optional<StoredPosition>& position) {
  auto& state = shards[shard];
  state.phase = Phase::running;
  const std::uint64_t before = state.highest_token;
  state.highest_token = std::max(state.highest_token, state.token);
  if (position) {
    positions_known = true;
    spdlog::info("cluster: shard {} acquired (fencing token {}): resuming session {} after seq {}", shard,
                 state.token, position->session_id, position->seq);
  } else {
    ++owner.m_counters.positions_missing;
    if (before != 0 && state.token <= before) {
      spdlog::warn(
          "cluster: shard {} acquired (fencing token {}) with no stored position: Redis lost its data "
          "(the fencing counter went back from {}); the shard will identify a new session",
          shard, state.token, before);
    } else if (positions_known) {
      spdlog::warn(
          "cluster: shard {} acquired (fencing token {}) with no stored position although this relay has "
          "seen stored positions: Redis lost its data (restarted without persistence?), or no owner got the "
          "shard to READY; the shard will identify a new session",
          shard, state.token);
    } else if (state.token > 1) {
      spdlog::warn(
          "cluster: shard {} acquired (fencing token {}) with no stored position although it had "
          "owners before: none stored one, or Redis lost the position (restarted without persistence?); "
          "the shard will identify a new session",
          shard, state.token);
    } else {
      spdlog::warn(
          "cluster: shard {} acquired (fencing token {}) with no stored position: the shard will "
          "identify a new session",
          shard, state.token);
    }
  }
  owner.m_handler.on_shard_acquired(shard, position);
}

void ClusterCoordinator::Impl::carry_out(const StopShard& action) {
  auto& state = shards[action.shard];
  const bool was_running = state.phase == Phase::running;
  state.phase = Phase::idle;
  state.load_in_flight = false;
  auto& counters = owner.m_counters;
  switch (action.reason) {
    case StopReason::lease_lost:
      ++counters.lost;
      break;
    case StopReason::lease_expiring:
      ++counters.expiring;
      break;
    case StopReason::handover:
      ++counters.handed_over;
      break;
    case StopReason::shutdown:
      ++counters.released;
      break;
  }
  const bool trouble_stop =
      action.reason == StopReason::lease_lost || action.reason == StopReason::lease_expiring;
  spdlog::log(trouble_stop ? spdlog::level::warn : spdlog::level::info, "cluster: shard {} stops ({})",
              action.shard, to_string(action.reason));
  if (was_running) {
    if (action.reason != StopReason::lease_lost) {
      final_save = FinalSave{action.shard, state.token};
    }
    owner.m_handler.on_shard_released(action.shard, action.reason);
    final_save.reset();
  }
}

}  // namespace relay::cluster

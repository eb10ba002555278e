// Positions, identify pacing and the shared duplicate check of ClusterCoordinator.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cluster/cluster_coordinator.hpp"
#include "cluster/coordinator_impl.hpp"
#include "cluster/reply_shapes.hpp"
#include "util/strings.hpp"

namespace relay::cluster {

void ClusterCoordinator::save_position(unsigned shard, std::string_view session_id, std::uint64_t seq,
                                       std::uint64_t relay_seq) {
  Impl& impl = *m_impl;
  if (!impl.redis || shard >= impl.shards.size()) {
    return;
  }
  // The last save of a shard being stopped goes out before its release, under the token it held.
  const bool final_save = impl.final_save && impl.final_save->shard == shard;
  if (!final_save && (impl.shards[shard].phase != Impl::Phase::running || !holds(shard))) {
    return;
  }
  const std::uint64_t token = final_save ? impl.final_save->token : impl.shards[shard].token;
  impl.redis->evalsha(
      impl.save_script,
      {impl.keys.position(shard, impl.shard_count()), impl.keys.fence(shard, impl.shard_count()),
       impl.keys.lease(shard, impl.shard_count())},
      {std::to_string(token), std::string(session_id), std::to_string(seq), std::to_string(relay_seq),
       m_settings.node},
      [&impl, shard, token](const CommandResult& result) { impl.on_saved(shard, token, result); },
      m_settings.command_timeout);
}

void ClusterCoordinator::Impl::on_saved(unsigned shard, std::uint64_t token, const CommandResult& result) {
  if (result && is_stale_token(*result)) {
    trouble.success(loop.now());
    ++owner.m_counters.positions_refused;
    spdlog::warn(
        "cluster: shard {}: Redis refused its position written with fencing token {} ({}): another "
        "relay owns the shard now; stopping it",
        shard, token, util::log_excerpt(result->text));
    LeaseActions out;
    keeper.on_position_refused(shard, token, loop.now(), out);
    run(std::move(out));
    return;
  }
  const bool ok = is_integer(result, 1);
  outcome(result, ok, "save the position of shard " + std::to_string(shard));
  if (ok) {
    positions_known = true;
    ++owner.m_counters.positions_saved;
  }
}

void ClusterCoordinator::pace_identify(unsigned shard, unsigned max_concurrency, util::Millis window,
                                       std::function<void()> proceed) {
  Impl& impl = *m_impl;
  if (!impl.redis) {
    proceed();
    return;
  }
  impl.paces.push_back(
      Impl::PaceWait{shard, max_concurrency, std::max(window, util::Millis(1)), std::move(proceed), nullptr});
  const auto wait = std::prev(impl.paces.end());
  wait->retry = std::make_unique<ingress::Timer>(impl.loop, [&impl, wait] { impl.try_pace(wait); });
  impl.try_pace(wait);
}

void ClusterCoordinator::Impl::try_pace(std::list<PaceWait>::iterator wait) {
  redis->evalsha(
      pace_script, {keys.identify_bucket(wait->shard, wait->max_concurrency), keys.quota()},
      {settings.node, std::to_string(wait->window.count())},
      [this, wait](const CommandResult& result) {
        const bool ok = result && result->kind == RedisReply::Kind::integer;
        outcome(result, ok, "pace the identify of shard " + std::to_string(wait->shard));
        if (ok && result->integer > 0) {
          ++owner.m_counters.identify_waits;
          spdlog::info(
              "cluster: shard {} waits {} ms to identify (another relay's window, or the daily quota)",
              wait->shard, result->integer);
          wait->retry->schedule_in(util::Millis(result->integer));
          return;
        }
        // Granted, or Redis failed: identifying unpaced is better than not at all.
        auto proceed = std::move(wait->proceed);
        paces.erase(wait);
        proceed();
      },
      settings.command_timeout);
}

void ClusterCoordinator::note_quota(std::uint64_t remaining, util::Millis reset_after) {
  Impl& impl = *m_impl;
  if (!impl.redis) {
    return;
  }
  impl.redis->evalsha(
      impl.quota_script, {impl.keys.quota()},
      {std::to_string(remaining), std::to_string(std::max(reset_after, util::Millis(1)).count())},
      [&impl](const CommandResult& result) {
        impl.outcome(result, result && result->kind == RedisReply::Kind::integer, "note the daily quota");
      },
      m_settings.command_timeout);
}

void ClusterCoordinator::check_seen(std::string_view event_id, std::function<void(bool first)> done) {
  Impl& impl = *m_impl;
  const std::uint64_t index = impl.seen_front + impl.seen.size();
  impl.seen.push_back(Impl::SeenCheck{std::move(done), std::nullopt});
  if (!impl.redis) {
    ++m_counters.unchecked;
    impl.seen.back().first = true;
    impl.release_answered_checks();
    return;
  }
  impl.redis->command(
      {"EXISTS", impl.keys.seen(event_id)},
      [&impl, index](const CommandResult& result) { impl.answer_seen(index, result); },
      m_settings.command_timeout);
}

void ClusterCoordinator::mark_seen(std::string_view event_id) {
  Impl& impl = *m_impl;
  if (!impl.redis) {
    return;
  }
  impl.redis->command(
      {"SET", impl.keys.seen(event_id), m_settings.node, "PX", std::to_string(m_settings.dedupe.count())},
      [&impl](const CommandResult& result) {
        impl.outcome(result, result && result->kind == RedisReply::Kind::status, "record an event id");
      },
      m_settings.command_timeout);
}

void ClusterCoordinator::Impl::answer_seen(std::uint64_t index, const CommandResult& result) {
  bool first = true;
  if (result && result->kind == RedisReply::Kind::integer && result->integer > 0) {
    first = false;
    ++owner.m_counters.duplicates;
    trouble.success(loop.now());
  } else if (result && result->kind == RedisReply::Kind::integer) {
    trouble.success(loop.now());
  } else {
    ++owner.m_counters.unchecked;
    trouble.failure("check an event id", describe_failure(result), loop.now());
  }
  seen.at(index - seen_front).first = first;
  release_answered_checks();
}

// The answers in the order the checks were made: a later one waits for every earlier one.
void ClusterCoordinator::Impl::release_answered_checks() {
  while (!seen.empty() && seen.front().first.has_value()) {
    SeenCheck check = std::move(seen.front());
    seen.pop_front();
    ++seen_front;
    check.done(*check.first);
  }
}

}  // namespace relay::cluster

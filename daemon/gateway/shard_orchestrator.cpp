#include "gateway/shard_orchestrator.hpp"

#include <algorithm>

namespace relay::gateway {

namespace {

// A reset_after of 0 (or missing) with nothing remaining must not turn into a busy loop of requests.
util::Millis quota_wait(const protocol::GatewayInfo& info) {
  return util::Millis(std::max<std::uint64_t>(info.reset_after_ms, 1'000));
}

// Saved sessions are usable only as a whole layout of the same shard count.
bool same_layout(const std::vector<SavedSession>& saved, unsigned count) {
  return std::all_of(saved.begin(), saved.end(), [count](const SavedSession& s) {
    return s.shard.count == count && s.shard.index < count;
  });
}

constexpr util::Millis k_unusable_url_retry{60'000};

}  // namespace

ShardOrchestrator::ShardOrchestrator(OrchestratorSettings settings)
    : m_settings(std::move(settings)),
      m_pacer(1, m_settings.identify_window),
      m_random(m_settings.random_seed) {
  if (m_settings.leased) {
    // Nothing is owned until a lease is won; the stored positions come with each lease.
    m_owned.emplace();
    m_settings.saved_sessions.clear();
  }
}

void ShardOrchestrator::on_token(util::TimePoint /*now*/, OrchestratorActions& out) {
  if (m_layout_count == 0 && !m_discovery_at) {
    discover(out);
  }
}

void ShardOrchestrator::discover(OrchestratorActions& out) {
  if (m_stopping || m_discovery_in_flight) {
    return;
  }
  m_discovery_in_flight = true;
  out.push_back(FetchGatewayInfo{InfoPurpose::discovery});
}

void ShardOrchestrator::discover_in(util::Millis delay, util::TimePoint now, DiscoveryDelayed delayed,
                                    OrchestratorActions& out) {
  m_discovery_at = now + delay;
  delayed.delay = delay;
  out.push_back(std::move(delayed));
}

util::Millis ShardOrchestrator::retry_delay(util::Backoff& backoff) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  return std::max(util::Millis(500), backoff.next(unit(m_random)));
}

void ShardOrchestrator::on_discovery_failed(InfoFailure failure, util::TimePoint now,
                                            OrchestratorActions& out) {
  m_discovery_in_flight = false;
  if (m_stopping) {
    return;
  }
  const auto delay = retry_delay(m_discovery_backoff);
  switch (failure) {
    case InfoFailure::token_refused:
      // No timer: the new token starts the next discovery.
      out.push_back(InvalidateToken{});
      return;
    case InfoFailure::unusable_response:
      discover_in(delay, now, DiscoveryDelayed{DelayReason::unusable_response, delay, {}, {}, 0, 0}, out);
      return;
    case InfoFailure::request_failed:
      discover_in(delay, now, DiscoveryDelayed{DelayReason::request_failed, delay, {}, {}, 0, 0}, out);
      return;
  }
}

void ShardOrchestrator::on_discovered(const protocol::GatewayInfo& info, util::TimePoint now,
                                      OrchestratorActions& out) {
  m_discovery_in_flight = false;
  if (m_stopping) {
    return;
  }
  m_discovery_backoff.reset();
  std::string problem;
  auto url = protocol::usable_gateway_url(info.url, m_settings.api_tls, problem);
  if (!url) {
    discover_in(
        k_unusable_url_retry, now,
        DiscoveryDelayed{DelayReason::unusable_url, k_unusable_url_retry, std::move(problem), info.url, 0, 0},
        out);
    return;
  }
  const unsigned count = shard_count_for(info);
  // Saved sessions resume without a session start; only the others need one from the daily quota.
  // Leased shards are won one by one, each paced by the cluster: no quota check for the whole layout.
  const std::size_t starts_needed = m_settings.leased ? 0 : owned_in(count) - resumable_sessions(count);
  if (info.remaining < starts_needed) {
    // Starting only some shards would burn the rest of the quota on a partial layout.
    const auto wait = quota_wait(info);
    discover_in(wait, now,
                DiscoveryDelayed{DelayReason::quota_short, wait, {}, {}, info.remaining, starts_needed}, out);
    return;
  }
  apply_limits(info, now);
  start_layout(info, std::move(*url), out);
}

void ShardOrchestrator::start_layout(const protocol::GatewayInfo& info, util::Url url,
                                     OrchestratorActions& out) {
  const unsigned count = shard_count_for(info);
  // Only the first layout of this process can resume an earlier run's sessions.
  auto saved = std::exchange(m_settings.saved_sessions, {});
  StartLayout layout{std::move(url),       info.url,      count, m_settings.shards.value_or(info.shards),
                     info.max_concurrency, info.remaining};
  if (!saved.empty() && !same_layout(saved, count)) {
    layout.discarded_sessions = saved.size();
    layout.discarded_count = saved.front().shard.count;
    saved.clear();
  }
  out.push_back(std::move(layout));
  m_layout_count = count;
  for (unsigned index = 0; index < count; ++index) {
    if (!owns(index) || m_waiting_for_layout.contains(index)) {
      continue;
    }
    StartShard start{ShardId{index, count}, std::nullopt};
    const auto found = std::find_if(saved.begin(), saved.end(),
                                    [index](const SavedSession& s) { return s.shard.index == index; });
    if (found != saved.end()) {
      start.resume = *found;
    }
    out.push_back(std::move(start));
  }
  for (auto& [index, resume] : std::exchange(m_waiting_for_layout, {})) {
    if (index >= count) {
      std::erase(*m_owned, index);
      continue;
    }
    if (resume) {
      resume->shard = ShardId{index, count};
    }
    out.push_back(StartShard{ShardId{index, count}, std::move(resume)});
  }
}

void ShardOrchestrator::own_shard(unsigned index, std::optional<SavedSession> resume, util::TimePoint /*now*/,
                                  OrchestratorActions& out) {
  if (m_stopping || !m_settings.leased || owns(index)) {
    return;
  }
  if (m_layout_count == 0) {
    // Discovery has not answered yet: started with the layout.
    if (m_settings.shards && index >= *m_settings.shards) {
      return;
    }
    m_owned->push_back(index);
    m_waiting_for_layout[index] = std::move(resume);
    return;
  }
  if (index >= m_layout_count) {
    return;
  }
  m_owned->push_back(index);
  const ShardId shard{index, m_layout_count};
  if (resume) {
    resume->shard = shard;
  }
  out.push_back(StartShard{shard, std::move(resume)});
}

void ShardOrchestrator::disown_shard(unsigned index, OrchestratorActions& out) {
  if (!m_settings.leased || !owns(index)) {
    return;
  }
  std::erase(*m_owned, index);
  m_pacer.cancel(index);
  m_restart_at.erase(index);
  if (m_waiting_for_layout.erase(index) == 0) {
    out.push_back(StopShard{index});
  }
}

unsigned ShardOrchestrator::shard_count_for(const protocol::GatewayInfo& info) const {
  // After a 4011, never come back with fewer shards than one more than the layout it closed.
  return std::max(m_settings.shards.value_or(info.shards), m_min_shards);
}

bool ShardOrchestrator::owns(unsigned index) const {
  return !m_owned || std::find(m_owned->begin(), m_owned->end(), index) != m_owned->end();
}

std::size_t ShardOrchestrator::owned_in(unsigned count) const {
  std::size_t owned = 0;
  for (unsigned index = 0; index < count; ++index) {
    owned += owns(index);
  }
  return owned;
}

std::size_t ShardOrchestrator::resumable_sessions(unsigned count) const {
  const auto& saved = m_settings.saved_sessions;
  if (!same_layout(saved, count)) {
    return 0;
  }
  return static_cast<std::size_t>(std::count_if(
      saved.begin(), saved.end(), [this](const SavedSession& s) { return owns(s.shard.index); }));
}

void ShardOrchestrator::apply_limits(const protocol::GatewayInfo& info, util::TimePoint now) {
  m_pacer.set_limits(info.max_concurrency, info.remaining, now + quota_wait(info));
}

void ShardOrchestrator::refresh_limits(OrchestratorActions& out) {
  if (m_stopping || m_limits_in_flight || m_limits_at) {
    return;
  }
  m_limits_in_flight = true;
  out.push_back(FetchGatewayInfo{InfoPurpose::limits});
}

void ShardOrchestrator::on_limits(const protocol::GatewayInfo& info, util::TimePoint now,
                                  OrchestratorActions& out) {
  m_limits_in_flight = false;
  if (m_stopping) {
    return;
  }
  m_limits_backoff.reset();
  apply_limits(info, now);
  out.push_back(QuotaRefreshed{info.remaining, info.reset_after_ms});
  poll_pacer(now, out);
}

void ShardOrchestrator::on_limits_failed(InfoFailure failure, util::TimePoint now, OrchestratorActions& out) {
  m_limits_in_flight = false;
  if (m_stopping) {
    return;
  }
  if (failure == InfoFailure::token_refused) {
    out.push_back(InvalidateToken{});
  }
  const auto delay = retry_delay(m_limits_backoff);
  m_limits_at = now + delay;
  out.push_back(LimitsDelayed{delay});
}

void ShardOrchestrator::on_identify_requested(unsigned index, util::TimePoint now) {
  if (m_stopping) {
    return;
  }
  m_pacer.enqueue(index);
  m_pacer_at = now;  // granted from on_tick, never inside the shard's own call
}

void ShardOrchestrator::on_shard_disconnected(unsigned index) {
  m_pacer.cancel(index);
}

void ShardOrchestrator::on_reshard_requested(unsigned index, util::TimePoint now, OrchestratorActions& out) {
  if (m_stopping || m_layout_count == 0) {
    return;
  }
  if (m_settings.leased) {
    if (!owns(index) || m_restart_at.contains(index)) {
      return;
    }
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto delay = std::max(util::Millis(5'000), m_refused_backoff.next(unit(m_random)));
    // Later than now: the shard cannot be torn down while it is executing.
    m_restart_at[index] = now + delay;
    out.push_back(ReshardRefused{index, m_layout_count, delay});
    return;
  }
  // Deferred to on_tick: the shards cannot be torn down while one of them is executing.
  m_reshard_at = now;
}

void ShardOrchestrator::reshard(util::TimePoint /*now*/, OrchestratorActions& out) {
  const unsigned previous = m_layout_count;
  out.push_back(StopShards{"resharding: every shard starts a new session", false, true});
  m_layout_count = 0;
  m_pacer = IdentifyPacer(1, m_settings.identify_window);
  m_pacer_at.reset();
  // 4011 means the layout is too small.
  m_min_shards = previous + 1;
  discover(out);
}

void ShardOrchestrator::restart_refused_shards(util::TimePoint now, OrchestratorActions& out) {
  for (auto it = m_restart_at.begin(); it != m_restart_at.end();) {
    if (now < it->second) {
      ++it;
      continue;
    }
    const unsigned index = it->first;
    it = m_restart_at.erase(it);
    m_pacer.cancel(index);
    out.push_back(StopShard{index});
    out.push_back(StartShard{ShardId{index, m_layout_count}, std::nullopt});
  }
}

void ShardOrchestrator::poll_pacer(util::TimePoint now, OrchestratorActions& out) {
  std::vector<unsigned> granted;
  m_pacer.poll(now, granted);
  for (const unsigned index : granted) {
    out.push_back(PermitIdentify{index});
  }
  if (m_pacer.queued() > 0 && m_pacer.needs_limits(now)) {
    // The daily quota was spent and has reset: ask for the new figures before identifying again.
    refresh_limits(out);
  }
  m_pacer_at = m_pacer.next_deadline(now);
  if (m_pacer_at && m_pacer.waiting_for_quota(now)) {
    out.push_back(WaitingForQuota{m_pacer.queued(), m_pacer.quota_reset_at()});
  }
}

void ShardOrchestrator::on_tick(util::TimePoint now, OrchestratorActions& out) {
  if (m_stopping) {
    return;
  }
  if (m_reshard_at && now >= *m_reshard_at) {
    m_reshard_at.reset();
    reshard(now, out);
  }
  restart_refused_shards(now, out);
  if (m_discovery_at && now >= *m_discovery_at) {
    m_discovery_at.reset();
    discover(out);
  }
  if (m_limits_at && now >= *m_limits_at) {
    m_limits_at.reset();
    refresh_limits(out);
  }
  if (m_pacer_at && now >= *m_pacer_at) {
    poll_pacer(now, out);
  }
}

void ShardOrchestrator::shutdown(OrchestratorActions& out) {
  m_stopping = true;
  m_discovery_in_flight = false;
  m_discovery_at.reset();
  m_limits_in_flight = false;
  m_limits_at.reset();
  m_pacer_at.reset();
  m_reshard_at.reset();
  m_restart_at.clear();
  m_waiting_for_layout.clear();
  out.push_back(StopShards{"relay shutting down", true, false});
}

std::optional<util::TimePoint> ShardOrchestrator::next_deadline() const {
  std::optional<util::TimePoint> next;
  for (const auto& at : {m_reshard_at, m_discovery_at, m_limits_at, m_pacer_at}) {
    if (at && (!next || *at < *next)) {
      next = at;
    }
  }
  for (const auto& [index, at] : m_restart_at) {
    if (!next || at < *next) {
      next = at;
    }
  }
  return next;
}

}  // namespace relay::gateway

#include "cluster/lease_keeper.hpp"

#include <algorithm>

namespace relay::cluster {

namespace {
// Where this node's claims start, so that nodes starting together mostly try different shards first.
unsigned first_choice(std::string_view node, unsigned count) {
  std::uint32_t hash = 2166136261u;
  for (char c : node) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  }
  return count == 0 ? 0 : hash % count;
}
}  // namespace

std::string_view to_string(StopReason reason) {
  switch (reason) {
    case StopReason::lease_lost:
      return "lease_lost";
    case StopReason::lease_expiring:
      return "lease_expiring";
    case StopReason::handover:
      return "handover";
    case StopReason::shutdown:
      return "shutdown";
  }
  return "unknown";
}

LeaseKeeper::LeaseKeeper(LeaseSettings settings)
    : m_settings(std::move(settings)), m_shards(m_settings.shard_count) {}

unsigned LeaseKeeper::fair_share() const {
  const auto nodes = static_cast<unsigned>(std::max<std::size_t>(m_live_nodes, 1));
  return (m_settings.shard_count + nodes - 1) / nodes;
}

std::size_t LeaseKeeper::count(State state) const {
  return static_cast<std::size_t>(
      std::count_if(m_shards.begin(), m_shards.end(), [state](const Shard& s) { return s.state == state; }));
}

std::size_t LeaseKeeper::held_count() const {
  return count(State::held);
}

bool LeaseKeeper::holds(unsigned shard, util::TimePoint now) const {
  return shard < m_shards.size() && m_shards[shard].state == State::held && now < m_shards[shard].stop_at;
}

void LeaseKeeper::on_live_nodes(const std::vector<std::string>& nodes, util::TimePoint now,
                                LeaseActions& out) {
  const bool self_listed = std::find(nodes.begin(), nodes.end(), m_settings.node) != nodes.end();
  m_live_nodes = nodes.size() + (self_listed ? 0 : 1);
  on_tick(now, out);
}

void LeaseKeeper::on_claim_result(unsigned shard, const std::optional<ClaimReply>& reply, util::TimePoint now,
                                  LeaseActions& out) {
  if (shard >= m_shards.size() || m_shards[shard].state != State::claiming) {
    return;  // a late answer to a claim already given up
  }
  auto& s = m_shards[shard];
  const util::TimePoint expires = s.sent_at + m_settings.lease;
  const bool ours = reply && reply->owner == m_settings.node;
  if (!ours || m_stopping || now >= expires - m_settings.margin) {
    s.state = State::free;
    s.claim_after = now + renew_interval();
    if (ours) {
      out.push_back(ReleaseShard{shard, reply->token});  // too late to use, or stopping: let it go
    }
    on_tick(now, out);
    return;
  }
  s.state = State::held;
  s.token = reply->token;
  s.renewing = false;
  s.stop_at = expires - m_settings.margin;
  s.renew_at = s.sent_at + renew_interval();
  out.push_back(StartShard{shard, s.token});
  on_tick(now, out);
}

void LeaseKeeper::on_renew_result(unsigned shard, RenewResult result, util::TimePoint now,
                                  LeaseActions& out) {
  if (shard >= m_shards.size() || m_shards[shard].state != State::held || !m_shards[shard].renewing) {
    return;
  }
  auto& s = m_shards[shard];
  s.renewing = false;
  switch (result) {
    case RenewResult::renewed:
      s.stop_at = std::max(s.stop_at, s.sent_at + m_settings.lease - m_settings.margin);
      s.renew_at = s.sent_at + renew_interval();
      break;
    case RenewResult::lost:
      stop(shard, StopReason::lease_lost, out);
      break;
    case RenewResult::failed:
      // Try again soon; the shard keeps running until stop_at.
      s.renew_at = now + m_settings.margin / 4;
      break;
  }
  on_tick(now, out);
}

void LeaseKeeper::on_position_refused(unsigned shard, std::uint64_t token, util::TimePoint now,
                                      LeaseActions& out) {
  if (shard >= m_shards.size() || m_shards[shard].state != State::held || m_shards[shard].token != token) {
    return;
  }
  stop(shard, StopReason::lease_lost, out);
  on_tick(now, out);
}

void LeaseKeeper::stop(unsigned shard, StopReason reason, LeaseActions& out) {
  m_shards[shard].state = State::free;
  m_shards[shard].renewing = false;
  out.push_back(StopShard{shard, reason});
}

void LeaseKeeper::on_tick(util::TimePoint now, LeaseActions& out) {
  for (unsigned i = 0; i < m_shards.size(); ++i) {
    auto& s = m_shards[i];
    if (s.state == State::held && now >= s.stop_at) {
      stop(i, StopReason::lease_expiring, out);
      s.claim_after = now;
    } else if (s.state == State::held && !s.renewing && now >= s.renew_at && !m_stopping) {
      s.renewing = true;
      s.sent_at = now;
      out.push_back(RenewShard{i, s.token});
    } else if (s.state == State::claiming && now >= s.sent_at + m_settings.lease) {
      s.state = State::free;  // no answer at all: the driver lost it; claim again
      s.claim_after = now;
    }
  }
  if (m_stopping) {
    return;
  }
  hand_over_excess(now, out);
  claim_up_to_share(now, out);
}

void LeaseKeeper::hand_over_excess(util::TimePoint now, LeaseActions& out) {
  if (held_count() <= fair_share() || now < m_handover_after) {
    return;
  }
  // One shard per lease period, so that the newcomer can take it before the next one goes.
  for (unsigned i = static_cast<unsigned>(m_shards.size()); i-- > 0;) {
    auto& s = m_shards[i];
    if (s.state == State::held && !s.renewing) {
      stop(i, StopReason::handover, out);
      out.push_back(ReleaseShard{i, s.token});
      s.claim_after = now + m_settings.lease;
      m_handover_after = now + m_settings.lease;
      return;
    }
  }
}

void LeaseKeeper::claim_up_to_share(util::TimePoint now, LeaseActions& out) {
  const std::size_t taken = count(State::held) + count(State::claiming);
  std::size_t wanted = fair_share() > taken ? fair_share() - taken : 0;
  const auto n = static_cast<unsigned>(m_shards.size());
  const unsigned first = first_choice(m_settings.node, n);
  for (unsigned k = 0; k < n && wanted > 0; ++k) {
    const unsigned i = (first + k) % n;
    auto& s = m_shards[i];
    if (s.state == State::free && now >= s.claim_after) {
      s.state = State::claiming;
      s.sent_at = now;
      out.push_back(ClaimShard{i});
      --wanted;
    }
  }
}

void LeaseKeeper::shutdown(LeaseActions& out) {
  m_stopping = true;
  for (unsigned i = 0; i < m_shards.size(); ++i) {
    if (m_shards[i].state == State::held) {
      stop(i, StopReason::shutdown, out);
      out.push_back(ReleaseShard{i, m_shards[i].token});
    }
  }
}

std::optional<util::TimePoint> LeaseKeeper::next_deadline() const {
  std::optional<util::TimePoint> next;
  const auto consider = [&next](util::TimePoint t) {
    if (!next || t < *next) {
      next = t;
    }
  };
  const std::size_t taken = count(State::held) + count(State::claiming);
  const bool wants_more = !m_stopping && taken < fair_share();
  for (const auto& s : m_shards) {
    if (s.state == State::held) {
      consider(s.stop_at);
      if (!s.renewing && !m_stopping) {
        consider(s.renew_at);
      }
    } else if (s.state == State::claiming) {
      consider(s.sent_at + m_settings.lease);
    } else if (wants_more) {
      consider(s.claim_after);
    }
  }
  if (!m_stopping && held_count() > fair_share()) {
    consider(m_handover_after);
  }
  return next;
}

}  // namespace relay::cluster

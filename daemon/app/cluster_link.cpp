#include "app/cluster_link.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace relay::app {
namespace {

cluster::ClusterSettings cluster_settings(const config::Config& config) {
  cluster::ClusterSettings settings;
  settings.redis = config.cluster.redis_url;
  settings.node = config.cluster.node;
  settings.lease = util::Millis(config.cluster.lease_ms);
  settings.key_prefix = config.cluster.key_prefix;
  settings.app_id = config.bot.app_id;
  settings.shard_count = config.gateway.enabled ? config.gateway.shards.value_or(0) : 0;
  settings.dedupe = util::Millis(config.cluster.dedupe_ms);
  return settings;
}

}  // namespace

ClusterLink::ClusterLink(ingress::EventLoop& loop, const config::Config& config, publish::PublishStage& stage,
                         std::function<void()> mark_changed)
    : m_loop(loop),
      m_stage(stage),
      m_mark_changed(std::move(mark_changed)),
      m_save_interval(config.state.save_interval_ms),
      m_shard_count(config.gateway.shards.value_or(0)),
      m_coordinator(std::make_unique<cluster::ClusterCoordinator>(loop, cluster_settings(config), *this)),
      m_gate(
          [this](std::string_view event_id, std::function<void(bool)> answer) {
            m_coordinator->check_seen(event_id, std::move(answer));
          },
          [this](const publish::HeldMessage& message, bool first) { release(message, first); }),
      m_save_timer(loop, [this] { save_positions(); }) {}

ClusterLink::~ClusterLink() = default;

void ClusterLink::configure(ingress::GatewaySettings& settings) {
  settings.leased = true;
  settings.identify_gate = [this](unsigned shard, unsigned max_concurrency, util::Millis window,
                                  std::function<void()> proceed) {
    m_coordinator->pace_identify(shard, max_concurrency, window, std::move(proceed));
  };
  settings.on_quota = [this](std::uint64_t remaining, util::Millis reset_after) {
    m_coordinator->note_quota(remaining, reset_after);
  };
}

void ClusterLink::start(ingress::GatewayClient* gateway) {
  m_gateway = gateway;
  m_coordinator->start();
  m_save_timer.schedule_in(m_save_interval);
}

void ClusterLink::shutdown(std::function<void()> done) {
  m_save_timer.cancel();
  save_positions();
  m_gateway = nullptr;  // already shutting its shards down: releases only leave Redis
  m_coordinator->shutdown(std::move(done));
}

void ClusterLink::publish(std::string_view type, std::string_view body, const publish::MessageInfo& info) {
  m_gate.submit(type, body, info);
}

bool ClusterLink::may_publish(unsigned shard) {
  if (m_coordinator->holds(shard)) {
    return true;
  }
  ++m_counters.fenced;
  return false;
}

void ClusterLink::release(const publish::HeldMessage& message, bool first) {
  const auto& info = message.info;
  const bool gateway_event = info.source == publish::Source::gateway && info.shard.has_value();
  if (gateway_event && !may_publish(info.shard->index)) {
    return;  // lost the lease while the check was in flight: the next owner gets it from the platform
  }
  if (!first || !m_stage.publish(message.type, message.body, info)) {
    // A repeat (another relay, or this one, published it): the shard's position moved all the same.
    if (gateway_event) {
      m_mark_changed();
    }
  } else if (!message.event_id.empty()) {
    m_coordinator->mark_seen(message.event_id);  // only now: killed before this, the next owner publishes it
  }
  if (gateway_event && info.seq) {
    m_released[info.shard->index] = Published{message.session_id, *info.seq};
  }
}

void ClusterLink::save_positions() {
  if (m_gateway == nullptr) {
    return;  // no gateway, or shutting down: nothing more to save on a timer
  }
  for (const auto& position : m_gateway->positions()) {
    save_position(position);
  }
  m_save_timer.schedule_in(m_save_interval);
}

void ClusterLink::save_position_now(unsigned shard) {
  if (m_gateway == nullptr) {
    return;
  }
  for (const auto& position : m_gateway->positions()) {
    if (position.shard.index == shard) {
      save_position(position);
    }
  }
}

void ClusterLink::save_position(const ingress::SessionPosition& position) {
  const unsigned index = position.shard.index;
  if (!m_coordinator->holds(index)) {
    return;
  }
  std::uint64_t seq = position.seq;
  if (m_gate.held() > 0) {
    // Events of this shard may still wait for their duplicate check: save only what has left the gate, so
    // that a crash now makes the next owner resume before them.
    const auto released = m_released.find(index);
    if (released == m_released.end() || released->second.session_id != position.session_id) {
      return;  // nothing known to have left the gate in this session yet: the next save catches up
    }
    seq = std::min(seq, released->second.seq);
  }
  m_coordinator->save_position(index, position.session_id, seq, m_stage.last_relay_seq());
}

void ClusterLink::on_shard_acquired(unsigned shard, const std::optional<cluster::StoredPosition>& position) {
  if (m_gateway == nullptr) {
    return;
  }
  std::optional<ingress::SessionPosition> resume;
  if (position && !position->session_id.empty()) {
    // The coordinator logged where it resumes from; the gateway client fills in the shard count.
    resume =
        ingress::SessionPosition{gateway::ShardId{shard, m_shard_count}, position->session_id, position->seq};
  }
  m_released.erase(shard);
  m_gateway->own_shard(shard, std::move(resume));
}

void ClusterLink::on_shard_released(unsigned shard, cluster::StopReason reason) {
  if (m_gateway == nullptr) {
    return;
  }
  if (reason != cluster::StopReason::lease_lost) {
    // The lease is still ours until released: the next owner resumes from exactly here.
    save_position_now(shard);
  }
  m_gateway->disown_shard(shard);
  m_released.erase(shard);
}

}  // namespace relay::app

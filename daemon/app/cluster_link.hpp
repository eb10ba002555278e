// The relay's side of a cluster: the ClusterCoordinator's leases start and stop gateway shards, every message
// passes the cluster's shared set of recent event ids on its way to the publish stage (in arrival order), and
// the positions of the shards this relay holds go to Redis under their lease's fencing token.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/cluster_coordinator.hpp"
#include "config/config.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/gateway_client.hpp"
#include "publish/publish_stage.hpp"
#include "publish/seen_gate.hpp"

namespace relay::app {

struct ClusterLinkCounters {
  std::uint64_t fenced = 0;  // gateway events dropped: the shard's lease was no longer safely held
};

class ClusterLink final : public cluster::ClusterHandler {
 public:
  // `mark_changed` tells the state file that a shard's position moved without a publish (a repeat).
  ClusterLink(ingress::EventLoop& loop, const config::Config& config, publish::PublishStage& stage,
              std::function<void()> mark_changed);
  ~ClusterLink() override;

  // Before the gateway client is made: its shards follow the leases, Identify waits for the cluster's pace.
  void configure(ingress::GatewaySettings& settings);
  // The gateway client (null when gateway.enabled is false), then connect and start claiming.
  void start(ingress::GatewayClient* gateway);
  // Saves the held shards' positions, releases every lease and leaves the cluster; `done` within a timeout.
  void shutdown(std::function<void()> done);

  // Every message the relay publishes comes through here in a cluster.
  void publish(std::string_view type, std::string_view body, const publish::MessageInfo& info);
  // A gateway event of a shard whose lease may have run out (a process frozen past its lease): false drops
  // it.
  bool may_publish(unsigned shard);
  // READY or RESUMED: the new position goes to Redis at once.
  void save_position_now(unsigned shard);

  void on_shard_acquired(unsigned shard, const std::optional<cluster::StoredPosition>& position) override;
  void on_shard_released(unsigned shard, cluster::StopReason reason) override;

  const cluster::ClusterCoordinator& coordinator() const { return *m_coordinator; }
  const publish::SeenGate& gate() const { return m_gate; }
  const ClusterLinkCounters& counters() const { return m_counters; }

 private:
  struct Published {
    std::string session_id;
    std::uint64_t seq = 0;
  };

  void release(const publish::HeldMessage& message, bool first);
  void save_positions();
  void save_position(const ingress::SessionPosition& position);

  ingress::EventLoop& m_loop;
  publish::PublishStage& m_stage;
  std::function<void()> m_mark_changed;
  util::Millis m_save_interval;
  unsigned m_shard_count;
  std::unique_ptr<cluster::ClusterCoordinator> m_coordinator;
  publish::SeenGate m_gate;
  ingress::GatewayClient* m_gateway = nullptr;
  // Per shard: the last gateway event that left the gate (published or dropped as a repeat).
  std::map<unsigned, Published> m_released;
  ingress::Timer m_save_timer;
  ClusterLinkCounters m_counters;
};

}  // namespace relay::app

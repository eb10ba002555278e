#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "app/cluster_link.hpp"
#include "app/downstream_service.hpp"
#include "app/heap_trimmer.hpp"
#include "app/invalid_input.hpp"
#include "app/loop_lag.hpp"
#include "app/service_notifier.hpp"
#include "app/state_keeper.hpp"
#include "config/config.hpp"
#include "ingress/api_forwarder.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/gateway_client.hpp"
#include "ingress/status_server.hpp"
#include "ingress/tls_files.hpp"
#include "ingress/webhook_server.hpp"
#include "publish/journal.hpp"
#include "publish/publish_stage.hpp"
#include "publish/replay_server.hpp"
#include "publish/retention.hpp"
#include "publish/zmq_publisher.hpp"

namespace relay::app {

// The daemon's wiring: one event loop carrying the gateway shards and the webhook listener, both feeding the
// publish stage, whose outlets (the ZeroMQ PUB socket) send every message out. What is left here are process
// concerns: signals, reload, the service manager, shutdown, and the metrics page that reads every module.
class RelayApp final : public ingress::EventSink, public ingress::WebhookSink {
 public:
  explicit RelayApp(config::Config config);
  ~RelayApp() override;

  // Runs until a signal or a permanent failure; returns the process exit code.
  int run();

  void on_dispatch(const gateway::ShardId& shard, std::string_view session_id, const gateway::Publish& event,
                   std::int64_t received_at_us) override;
  void on_shard_state(const gateway::ShardId& shard, std::string_view session_id,
                      const gateway::StateChanged& change) override;
  void on_gateway_stopped(gateway::StopCategory category, const std::string& message) override;
  void on_webhook_event(const protocol::Frame& event, std::string_view body,
                        std::int64_t received_at_us) override;
  void on_invalid_frame(const gateway::ShardId& shard, std::optional<std::uint64_t> seq,
                        std::string_view problem, std::size_t offset, std::string_view bytes) override;
  void on_invalid_webhook_body(const util::JsonFault& fault, std::string_view body) override;

  // GET /metrics and GET /healthz (relay_metrics.cpp).
  ingress::StatusResponse metrics() const;
  ingress::StatusResponse health() const;

 private:
  void on_signal();
  void reload();
  // Applies one key that config::applies_on_reload() accepts; false when it cannot be applied live after all.
  bool apply_live(const std::string& key, const config::Config& fresh);
  void start_webhook();
  void start_api();
  void begin_shutdown(int exit_code);
  void start_retention();
  void start_replay();
  void start_downstream();
  void note_bot_user(std::string_view ready_frame);
  void serve_replay();
  // Every message goes out through here: straight to the stage, or through the cluster's duplicate check.
  void publish(std::string_view type, std::string_view body, const publish::MessageInfo& info);
  void stop_loop_when_done();
  state::SavedState snapshot() const;
  std::string service_status() const;

  config::Config m_config;
  std::int64_t m_started_at_us;
  ingress::EventLoop m_loop;
  std::unique_ptr<publish::ZmqPublisher> m_publisher;
  std::unique_ptr<StateKeeper> m_state;
  std::unique_ptr<publish::PublishStage> m_stage;
  HeapTrimmer m_heap;
  InvalidInput m_invalid_input;
  std::unique_ptr<ServiceNotifier> m_service;
  std::unique_ptr<LoopLagProbe> m_loop_lag;  // from when the loop runs: start-up is not lag
  std::unique_ptr<publish::Retention> m_retention;
  std::unique_ptr<publish::ReplayServer> m_replay;
  std::unique_ptr<publish::Journal> m_journal;
  std::unique_ptr<ingress::Timer> m_replay_timer;  // continues a drain that stopped at its per-call limit
  std::vector<state::SavedShard> m_saved_shards;
  std::unique_ptr<ingress::GatewayClient> m_gateway;
  std::unique_ptr<ingress::WebhookServer> m_webhook;
  std::unique_ptr<ingress::TokenSource> m_api_tokens;    // when the gateway (which has one) is off
  std::unique_ptr<ingress::TlsServerContext> m_api_tls;  // with api.tls_cert; outlives m_api
  std::unique_ptr<ingress::ApiForwarder> m_api;
  std::unique_ptr<DownstreamService> m_downstream;  // after m_api: it uses the API's listener
  std::unique_ptr<ingress::StatusServer> m_status;
  std::unique_ptr<ClusterLink> m_cluster;  // with cluster.enabled; before m_gateway is made, after it dies
  bool m_cluster_left = false;             // the cluster released this relay's leases at shutdown
  bool m_close_grace_over = false;
  std::uint64_t m_reloads_applied = 0;
  std::uint64_t m_reloads_invalid = 0;
  ingress::Timer m_shutdown_timer;
  int m_signal_fd = -1;
  int m_exit_code = 0;
  bool m_shutting_down = false;
  std::string m_state_body;
};

}  // namespace relay::app

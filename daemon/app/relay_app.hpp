#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "app/invalid_input.hpp"
#include "app/service_notifier.hpp"
#include "app/state_keeper.hpp"
#include "config/config.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/gateway_client.hpp"
#include "ingress/status_server.hpp"
#include "ingress/webhook_server.hpp"
#include "publish/journal.hpp"
#include "publish/recent_ids.hpp"
#include "publish/replay_server.hpp"
#include "publish/retention.hpp"
#include "publish/seq_reservation.hpp"
#include "publish/zmq_publisher.hpp"

namespace relay::app {

// The daemon: one event loop carrying the gateway shards, and the publisher they feed.
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
  void begin_shutdown(int exit_code);
  // False (and counted) when the event's id was published recently, by either source.
  bool first_sighting(std::string_view event_id, std::string_view event_type, std::string_view source);
  state::SavedState snapshot() const;
  // relay_seq must never repeat, even after a crash: numbers are reserved in the state file ahead of use.
  void reserve_relay_seqs();
  // After every publish: the journal flush, the relay_seq reservation, and a state save within the interval.
  void after_publish(std::size_t body_bytes);
  void trim_heap_when_quiet();
  // Freed memory worth giving back once things are quiet (see trim_heap_when_quiet).
  void note_heap_churn();
  void start_replay();
  void serve_replay();
  void count_event(std::string_view source, std::string_view type);

  config::Config m_config;
  std::int64_t m_started_at_us;
  ingress::EventLoop m_loop;
  std::unique_ptr<publish::ZmqPublisher> m_publisher;
  publish::RecentIds m_recent_ids;
  std::uint64_t m_repeated_ids = 0;
  std::unique_ptr<StateKeeper> m_state;
  InvalidInput m_invalid_input;
  std::unique_ptr<ServiceNotifier> m_service;
  std::string service_status() const;
  publish::SeqReservation m_relay_seqs;
  bool m_reservation_warned = false;
  bool m_stopped_cleanly = false;
  std::unique_ptr<publish::Retention> m_retention;
  std::unique_ptr<publish::ReplayServer> m_replay;
  std::unique_ptr<publish::Journal> m_journal;
  std::unique_ptr<ingress::Timer> m_replay_timer;  // continues a drain that stopped at its per-call limit
  std::unique_ptr<ingress::Timer> m_journal_timer;
  bool m_journal_flush_scheduled = false;
  std::string m_journal_error;  // the last one logged
  std::vector<state::SavedShard> m_saved_shards;
  std::unique_ptr<ingress::GatewayClient> m_gateway;
  std::unique_ptr<ingress::WebhookServer> m_webhook;
  std::unique_ptr<ingress::StatusServer> m_status;
  // source -> event type -> count; std::less<> lets a string_view find an entry without building a string.
  std::map<std::string, std::map<std::string, std::uint64_t, std::less<>>, std::less<>> m_events_by_type;
  std::map<int, std::uint64_t> m_close_codes;
  std::uint64_t m_disconnects = 0;
  std::uint64_t m_reloads_applied = 0;
  std::uint64_t m_reloads_invalid = 0;
  ingress::Timer m_shutdown_timer;
  // Gives memory freed after large messages back to the system, so that idle shards stay small.
  ingress::Timer m_trim_timer;
  bool m_trim_scheduled = false;
  util::TimePoint m_last_heap_churn{};
  int m_signal_fd = -1;
  int m_exit_code = 0;
  bool m_shutting_down = false;
  std::string m_state_body;
};

}  // namespace relay::app

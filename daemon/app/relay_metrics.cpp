// What /metrics and /healthz say: every counter the relay keeps, in the Prometheus text format (version
// 0.0.4).
#include <vector>

#include <fmt/format.h>

#include "app/allocator.hpp"
#include "app/relay_app.hpp"
#include "util/json_writer.hpp"

namespace relay::app {
namespace {

class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(m_text), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, double value, std::string_view labels = {}) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(m_text), "{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(m_text), "{}{{{}}} {}\n", name, labels, value);
    }
  }
  void single(std::string_view name, std::string_view type, std::string_view help, double value) {
    family(name, type, help);
    sample(name, value);
  }
  std::string take() { return std::move(m_text); }

 private:
  std::string m_text;
};

// Label values come from the network (event types): escape them as the format requires.
std::string label_value(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void loop_lag_metrics(Exposition& out, const LoopLagMeter& meter) {
  out.single(
      "qq_relay_event_loop_lag_seconds", "gauge",
      "The longest the event loop ran a timer late over the last 10 seconds (a probe due every second).",
      meter.recent_max_seconds());
  out.family("qq_relay_event_loop_delay_seconds", "histogram",
             "How late the event loop ran its once-a-second probe timer, each time.");
  const auto buckets = meter.cumulative_buckets();
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    out.sample("qq_relay_event_loop_delay_seconds_bucket", static_cast<double>(buckets[i]),
               fmt::format(R"(le="{}")", LoopLagMeter::k_buckets[i]));
  }
  out.sample("qq_relay_event_loop_delay_seconds_bucket", static_cast<double>(meter.count()), R"(le="+Inf")");
  out.sample("qq_relay_event_loop_delay_seconds_sum", meter.sum_seconds());
  out.sample("qq_relay_event_loop_delay_seconds_count", static_cast<double>(meter.count()));
}

// The HTTP listeners' own connection counts, whatever they serve.
void listener_metrics(Exposition& out, const std::vector<const ingress::Listener*>& listeners) {
  out.family("qq_relay_listener_connections", "gauge", "Connections open on each HTTP listener.");
  for (const auto* listener : listeners) {
    out.sample("qq_relay_listener_connections", static_cast<double>(listener->open_connections()),
               fmt::format(R"(listener="{}")", listener->name()));
  }
  out.family("qq_relay_listener_rejected_total", "counter",
             "Connections closed as soon as they were accepted, by listener and reason.");
  for (const auto* listener : listeners) {
    out.sample("qq_relay_listener_rejected_total",
               static_cast<double>(listener->counters().rejected_max_connections),
               fmt::format(R"(listener="{}",reason="max_connections")", listener->name()));
  }
  out.family("qq_relay_listener_accept_errors_total", "counter",
             "accept() failures (out of descriptors or memory) that paused a listener for a moment.");
  for (const auto* listener : listeners) {
    out.sample("qq_relay_listener_accept_errors_total",
               static_cast<double>(listener->counters().accept_errors),
               fmt::format(R"(listener="{}")", listener->name()));
  }
}

void downstream_metrics(Exposition& out, const DownstreamService& service) {
  const auto& gateway = service.gateway();
  const auto& counters = gateway.counters();
  out.single("qq_relay_downstream_sessions", "gauge", "Gateway sessions of SDK bots with a live connection.",
             static_cast<double>(gateway.live_sessions()));
  out.single("qq_relay_downstream_detached_sessions", "gauge",
             "Gateway sessions of SDK bots whose connection is gone, kept for a Resume.",
             static_cast<double>(gateway.detached_sessions()));
  out.single("qq_relay_downstream_connections", "gauge",
             "WebSocket connections of SDK bots, identified or not.",
             static_cast<double>(gateway.connections()));
  out.single("qq_relay_downstream_sessions_started_total", "counter", "READY sent to SDK bots.",
             static_cast<double>(counters.sessions_started));
  out.single("qq_relay_downstream_events_sent_total", "counter",
             "Dispatches sent to SDK bots, those sent again on a Resume included.",
             static_cast<double>(counters.events_sent));
  out.single("qq_relay_downstream_resumes_total", "counter", "Resumes of SDK bots honoured (RESUMED sent).",
             static_cast<double>(counters.resumes));
  out.single("qq_relay_downstream_invalid_sessions_total", "counter",
             "op 9 sent to SDK bots: a Resume of an unknown session or beyond the retention.",
             static_cast<double>(counters.resumes_refused));
  out.single("qq_relay_downstream_buffer_overflows_total", "counter",
             "SDK bots closed with 4009 because more than api.max_client_buffer was queued for them.",
             static_cast<double>(counters.buffer_overflows));
  out.single("qq_relay_downstream_bad_frames_total", "counter",
             "Connections of SDK bots closed for what they sent (4001, 4002, and WebSocket errors).",
             static_cast<double>(counters.bad_frames + service.counters().websocket_errors));
  out.family("qq_relay_downstream_closes_total", "counter",
             "Connections of SDK bots the relay closed, by the close code it sent.");
  for (const auto& [code, count] : counters.closes) {
    out.sample("qq_relay_downstream_closes_total", static_cast<double>(count),
               fmt::format(R"(code="{}")", code));
  }
}

void api_metrics(Exposition& out, const ingress::ApiForwarder& api) {
  const auto& counters = api.counters();
  out.family("qq_relay_api_requests_total", "counter",
             "OpenAPI requests answered, by route template and status (0: the client left first).");
  for (const auto& [key, count] : counters.requests) {
    out.sample("qq_relay_api_requests_total", static_cast<double>(count),
               fmt::format(R"(route="{}",status="{}")", label_value(key.first), key.second));
  }
  out.family("qq_relay_api_request_seconds", "histogram", "Time from a whole request to its answer.");
  for (std::size_t i = 0; i < ingress::ApiCounters::k_buckets.size(); ++i) {
    out.sample("qq_relay_api_request_seconds_bucket", static_cast<double>(counters.latency_buckets[i]),
               fmt::format(R"(le="{}")", ingress::ApiCounters::k_buckets[i]));
  }
  out.sample("qq_relay_api_request_seconds_bucket", static_cast<double>(counters.latency_count),
             R"(le="+Inf")");
  out.sample("qq_relay_api_request_seconds_sum", counters.latency_sum, "");
  out.sample("qq_relay_api_request_seconds_count", static_cast<double>(counters.latency_count), "");
  out.family("qq_relay_api_upstream_failures_total", "counter",
             "Requests to the platform that got no answer (connection, TLS, timeout).");
  out.sample("qq_relay_api_upstream_failures_total", static_cast<double>(counters.upstream_errors), "");
  out.family("qq_relay_api_retries_total", "counter",
             "Requests sent to the platform once more: after 11244 with a new token, a GET/HEAD after a "
             "connection error, or one that never reached the platform whole on a kept-alive connection the "
             "platform had closed.");
  out.sample("qq_relay_api_retries_total", static_cast<double>(counters.token_retries), R"(reason="token")");
  out.sample("qq_relay_api_retries_total", static_cast<double>(counters.retries), R"(reason="connection")");
  const auto& upstream = api.upstream_counters();
  out.sample("qq_relay_api_retries_total", static_cast<double>(upstream.stale_retries),
             R"(reason="stale_connection")");
  out.family(
      "qq_relay_api_upstream_connections_total", "counter",
      "Requests to the platform by the connection they went on: a new one, or a kept-alive one reused.");
  out.sample("qq_relay_api_upstream_connections_total", static_cast<double>(upstream.new_connections),
             R"(result="new")");
  out.sample("qq_relay_api_upstream_connections_total", static_cast<double>(upstream.reused_connections),
             R"(result="reused")");
  out.single("qq_relay_api_upstream_idle_connections", "gauge",
             "Kept-alive connections to the platform waiting for the next request.",
             static_cast<double>(api.upstream_idle()));
  out.family("qq_relay_api_refused_total", "counter",
             "Requests the relay answered itself: 401 (no valid client key or token), 503 (queue full), "
             "400/405 (a method, path or Authorization it does not forward).");
  out.sample("qq_relay_api_refused_total", static_cast<double>(counters.unauthorized),
             R"(reason="unauthorized")");
  out.sample("qq_relay_api_refused_total", static_cast<double>(counters.refused_busy), R"(reason="busy")");
  out.sample("qq_relay_api_refused_total", static_cast<double>(counters.refused_malformed),
             R"(reason="not_forwardable")");
  out.single("qq_relay_api_in_flight", "gauge", "Requests at the platform now.",
             static_cast<double>(api.in_flight()));
  out.single("qq_relay_api_queued", "gauge", "Requests waiting for a free slot.",
             static_cast<double>(api.queued()));
  out.single("qq_relay_api_msg_seq_added_total", "counter", "Passive replies the relay gave a msg_seq.",
             static_cast<double>(counters.msg_seq_added));
}

void cluster_metrics(Exposition& out, const ClusterLink& link) {
  const auto& coordinator = link.coordinator();
  const auto& c = coordinator.counters();
  out.single("qq_relay_cluster_redis_up", "gauge", "1 while the connection to the cluster's Redis is up.",
             coordinator.redis_connected() ? 1 : 0);
  out.single("qq_relay_cluster_live_nodes", "gauge",
             "Relays in the cluster's live-node set, this one included.",
             static_cast<double>(coordinator.live_nodes()));
  out.single("qq_relay_cluster_shards_held", "gauge", "Shard leases this relay holds.",
             static_cast<double>(coordinator.held_count()));
  out.family("qq_relay_cluster_lease_changes_total", "counter",
             "Shard leases won (claimed) and given up, by why they were given up.");
  const std::pair<const char*, std::uint64_t> leases[] = {{"claimed", c.claimed},
                                                          {"lost", c.lost},
                                                          {"expiring", c.expiring},
                                                          {"handover", c.handed_over},
                                                          {"released", c.released}};
  for (const auto& [event, count] : leases) {
    out.sample("qq_relay_cluster_lease_changes_total", static_cast<double>(count),
               fmt::format(R"(event="{}")", event));
  }
  out.family(
      "qq_relay_cluster_positions_total", "counter",
      "Shard positions written to Redis (saved), refused for an old fencing token (refused), and leases "
      "won with no stored position (missing).");
  out.sample("qq_relay_cluster_positions_total", static_cast<double>(c.positions_saved), R"(result="saved")");
  out.sample("qq_relay_cluster_positions_total", static_cast<double>(c.positions_refused),
             R"(result="refused")");
  out.sample("qq_relay_cluster_positions_total", static_cast<double>(c.positions_missing),
             R"(result="missing")");
  out.single("qq_relay_cluster_duplicates_dropped_total", "counter",
             "Messages not published: another relay (or this one) published their event id recently.",
             static_cast<double>(c.duplicates));
  out.single("qq_relay_cluster_unchecked_total", "counter",
             "Messages published without a duplicate check: Redis did not answer.",
             static_cast<double>(c.unchecked));
  out.single("qq_relay_cluster_fenced_events_total", "counter",
             "Gateway events dropped because the shard's lease was no longer safely held.",
             static_cast<double>(link.counters().fenced));
  out.single("qq_relay_cluster_identify_waits_total", "counter",
             "Identify delayed because another relay used the shard's bucket or the shared quota ran out.",
             static_cast<double>(c.identify_waits));
  const auto& redis = coordinator.redis_counters();
  out.single("qq_relay_cluster_redis_failures_total", "counter",
             "Redis commands that timed out or were lost.", static_cast<double>(redis.failures));
  out.single("qq_relay_cluster_redis_reconnects_total", "counter",
             "Connections to Redis made again after a loss.", static_cast<double>(redis.reconnects));
  out.single("qq_relay_cluster_held_messages", "gauge", "Messages waiting for their duplicate check.",
             static_cast<double>(link.gate().held()));
}

}  // namespace

ingress::StatusResponse RelayApp::metrics() const {
  Exposition out;
  const auto& published = m_publisher->counters();
  const auto& stage = m_stage->counters();
  out.family("qq_relay_build_info", "gauge",
             "Always 1; the version and the memory allocator are in the labels.");
  out.sample("qq_relay_build_info", 1,
             fmt::format(R"(version="{}",allocator="{}")", RELAY_VERSION, Allocator::current().name()));
  out.single("qq_relay_start_time_seconds", "gauge", "When the relay started, in Unix seconds.",
             static_cast<double>(m_started_at_us / 1000000));
  if (m_loop_lag) {
    loop_lag_metrics(out, m_loop_lag->meter());
  }
  out.single("qq_relay_messages_published_total", "counter", "Messages published on the PUB socket.",
             static_cast<double>(published.published));
  out.single("qq_relay_publish_failures_total", "counter", "Sends the PUB socket refused.",
             static_cast<double>(published.send_failures));
  out.single("qq_relay_relay_seq", "gauge", "The last relay_seq published.",
             static_cast<double>(m_stage->last_relay_seq()));

  out.family("qq_relay_config_reloads_total", "counter",
             "SIGHUP reloads: applied, or refused because the file was not valid.");
  out.sample("qq_relay_config_reloads_total", static_cast<double>(m_reloads_applied), R"(result="applied")");
  out.sample("qq_relay_config_reloads_total", static_cast<double>(m_reloads_invalid), R"(result="invalid")");

  out.family("qq_relay_invalid_frames_total", "counter",
             "Gateway frames and signed webhook bodies not published: not one valid JSON document.");
  out.sample("qq_relay_invalid_frames_total", static_cast<double>(m_invalid_input.gateway_count()),
             R"(source="gateway")");
  out.sample("qq_relay_invalid_frames_total", static_cast<double>(m_invalid_input.webhook_count()),
             R"(source="webhook")");
  out.family("qq_relay_events_total", "counter", "Events published, by type and source.");
  for (const auto& [source, by_type] : m_stage->events().by_source()) {
    for (const auto& [type, count] : by_type) {
      out.sample("qq_relay_events_total", static_cast<double>(count),
                 fmt::format(R"(source="{}",type="{}")", source, label_value(type)));
    }
  }
  std::uint64_t repeated_seqs = 0;
  if (m_gateway) {
    const auto& gateway = m_gateway->counters();
    out.family("qq_relay_shard_up", "gauge", "1 while the shard's session is ready, else 0.");
    std::uint64_t identifies = 0, resumes = 0, zombies = 0, heartbeats = 0, acks = 0;
    for (const unsigned i : m_gateway->shard_indexes()) {
      const auto* session = m_gateway->session(i);
      out.sample("qq_relay_shard_up", session->phase() == gateway::Phase::ready ? 1 : 0,
                 fmt::format(R"(shard="{}")", i));
      const auto& c = session->counters();
      identifies += c.identifies;
      resumes += c.resumes;
      zombies += c.zombies;
      heartbeats += c.heartbeats_sent;
      acks += c.heartbeat_acks;
      repeated_seqs += c.duplicates_dropped;
    }
    out.family(
        "qq_relay_shard_phase", "gauge",
        "1 for each shard's current phase (waiting_to_reconnect, waiting_identify_slot, ready, stopped...).");
    for (const unsigned i : m_gateway->shard_indexes()) {
      out.sample(
          "qq_relay_shard_phase", 1,
          fmt::format(R"(shard="{}",phase="{}")", i, gateway::to_string(m_gateway->session(i)->phase())));
    }
    out.family("qq_relay_heartbeat_rtt_seconds", "gauge",
               "Round trip of the shard's last acknowledged heartbeat.");
    for (const unsigned i : m_gateway->shard_indexes()) {
      if (const auto rtt = m_gateway->session(i)->last_heartbeat_rtt()) {
        out.sample("qq_relay_heartbeat_rtt_seconds", static_cast<double>(rtt->count()) / 1000.0,
                   fmt::format(R"(shard="{}")", i));
      }
    }
    out.single("qq_relay_identifies_total", "counter", "Identify (new session) sent.",
               static_cast<double>(identifies));
    out.single("qq_relay_resumes_total", "counter", "Resume sent.", static_cast<double>(resumes));
    out.single("qq_relay_zombie_connections_total", "counter",
               "Connections closed for an unacknowledged heartbeat.", static_cast<double>(zombies));
    out.single("qq_relay_heartbeats_total", "counter", "Heartbeats sent.", static_cast<double>(heartbeats));
    out.single("qq_relay_heartbeat_acks_total", "counter", "Heartbeat ACKs received.",
               static_cast<double>(acks));
    out.single("qq_relay_gateway_frames_total", "counter", "Gateway frames received.",
               static_cast<double>(gateway.frames));
    out.single("qq_relay_parse_errors_total", "counter", "Gateway frames that did not decode.",
               static_cast<double>(gateway.bad_frames));
    out.single("qq_relay_oversized_frames_total", "counter", "Gateway messages over gateway.max_frame_bytes.",
               static_cast<double>(gateway.oversized_frames));
    out.single("qq_relay_token_refreshes_total", "counter", "Access tokens obtained.",
               static_cast<double>(m_gateway->token_refreshes()));
  }
  const ingress::GatewayCounters no_gateway;
  const ingress::GatewayCounters& connections = m_gateway ? m_gateway->counters() : no_gateway;
  out.single("qq_relay_disconnects_total", "counter",
             "Gateway connections that ended (each is followed by a reconnect).",
             static_cast<double>(connections.disconnects));
  out.family("qq_relay_close_codes_total", "counter",
             "Gateway connections ended, by close code (0: closed by the relay).");
  for (const auto& [code, count] : connections.close_codes) {
    out.sample("qq_relay_close_codes_total", static_cast<double>(count), fmt::format(R"(code="{}")", code));
  }
  out.family("qq_relay_duplicates_dropped_total", "counter", "Repeats dropped before publishing, by check.");
  out.sample("qq_relay_duplicates_dropped_total", static_cast<double>(repeated_seqs), R"(by="seq")");
  out.sample("qq_relay_duplicates_dropped_total", static_cast<double>(stage.repeated_ids),
             R"(by="event_id")");
  if (m_webhook) {
    const auto& webhook = m_webhook->counters();
    out.single("qq_relay_webhook_requests_total", "counter", "Webhook requests received.",
               static_cast<double>(webhook.requests));
    out.single("qq_relay_webhook_validations_total", "counter", "op 13 validations answered.",
               static_cast<double>(webhook.validations));
    out.family("qq_relay_webhook_rejections_total", "counter", "Webhook requests refused, by reason.");
    for (std::size_t i = 1; i < webhook.rejected.size(); ++i) {
      out.sample("qq_relay_webhook_rejections_total", static_cast<double>(webhook.rejected[i]),
                 fmt::format(R"(reason="{}")", webhook::to_string(static_cast<webhook::Rejection>(i))));
    }
  }
  std::vector<const ingress::Listener*> listeners;
  if (m_webhook) {
    listeners.push_back(&m_webhook->listener());
  }
  if (m_status) {
    listeners.push_back(&m_status->listener());
  }
  if (m_api) {
    listeners.push_back(&m_api->server().listener());
    api_metrics(out, *m_api);
  }
  if (m_downstream) {
    downstream_metrics(out, *m_downstream);
  }
  if (m_cluster) {
    cluster_metrics(out, *m_cluster);
  }
  listener_metrics(out, listeners);
  if (m_replay) {
    const auto& replay = m_replay->counters();
    out.single("qq_relay_replay_requests_total", "counter", "Catch-up requests received.",
               static_cast<double>(replay.requests));
    out.single("qq_relay_replay_bad_requests_total", "counter", "Catch-up requests refused as malformed.",
               static_cast<double>(replay.bad_requests));
    out.single("qq_relay_replay_messages_total", "counter", "Messages sent in catch-up replies.",
               static_cast<double>(replay.messages_replayed));
    out.family(
        "qq_relay_replay_replies_dropped_total", "counter",
        "Catch-up replies not sent as asked: answered busy (client_busy, relay_busy) or not sent at all "
        "(peer_full, peer_gone).");
    out.sample("qq_relay_replay_replies_dropped_total", static_cast<double>(replay.client_busy),
               R"(reason="client_busy")");
    out.sample("qq_relay_replay_replies_dropped_total", static_cast<double>(replay.relay_busy),
               R"(reason="relay_busy")");
    out.sample("qq_relay_replay_replies_dropped_total", static_cast<double>(replay.peer_full),
               R"(reason="peer_full")");
    out.sample("qq_relay_replay_replies_dropped_total", static_cast<double>(replay.peer_gone),
               R"(reason="peer_gone")");
    out.single("qq_relay_replay_queued_bytes", "gauge",
               "Catch-up reply bytes held for clients that have not read them yet.",
               static_cast<double>(m_replay->queued_bytes()));
    out.single("qq_relay_retained_messages", "gauge", "Messages kept for catch-up.",
               static_cast<double>(m_retention->size()));
    out.single("qq_relay_retained_bytes", "gauge", "Bytes kept for catch-up.",
               static_cast<double>(m_retention->bytes()));
  }
  if (auto* authenticator = m_publisher->authenticator()) {
    out.family("qq_relay_curve_handshakes_total", "counter", "CURVE clients checked, by result.");
    out.sample("qq_relay_curve_handshakes_total", static_cast<double>(authenticator->counters().accepted),
               R"(result="accepted")");
    out.sample("qq_relay_curve_handshakes_total", static_cast<double>(authenticator->counters().refused),
               R"(result="refused")");
  }
  const auto writes = m_state->counters();
  out.family("qq_relay_state_writes_total", "counter", "State file writes, by result.");
  out.sample("qq_relay_state_writes_total", static_cast<double>(writes.writes), R"(result="ok")");
  out.sample("qq_relay_state_writes_total", static_cast<double>(writes.failures), R"(result="failed")");
  return {200, "text/plain; version=0.0.4; charset=utf-8", out.take()};
}

ingress::StatusResponse RelayApp::health() const {
  std::string problem;
  if (m_gateway) {
    if (m_gateway->shard_count() == 0 && !m_cluster) {
      problem = "the gateway shards have not started";
    }
    for (const unsigned i : m_gateway->shard_indexes()) {
      const auto* session = m_gateway->session(i);
      if (!problem.empty()) {
        break;
      }
      if (session->phase() != gateway::Phase::ready) {
        problem =
            fmt::format("shard {}/{} is {}", i, session->shard().count, gateway::to_string(session->phase()));
      }
    }
  } else if (!m_webhook) {
    problem = "neither the gateway nor the webhook is enabled";
  }
  if (!problem.empty()) {
    std::string body = R"({"status":"unavailable","reason":)";
    util::append_json_string(body, problem);
    body += "}\n";
    return {503, "application/json", body};
  }
  if (m_cluster && !m_cluster->coordinator().redis_connected()) {
    // Still serving: leases run until they expire, messages go out unchecked for duplicates.
    std::string body = R"({"status":"degraded","reason":)";
    const auto& error = m_cluster->coordinator().redis_error();
    util::append_json_string(body,
                             "the cluster's Redis is unreachable" + (error.empty() ? "" : ": " + error));
    body += "}\n";
    return {200, "application/json", body};
  }
  return {200, "application/json",
          R"({"status":"ok"})"
          "\n"};
}

}  // namespace relay::app

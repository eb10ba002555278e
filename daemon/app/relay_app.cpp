#include "app/relay_app.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <simdjson.h>
#include "app/exit_codes.hpp"
#include "app/logging.hpp"
#include "app/signals.hpp"
#include "config/loader.hpp"
#include "config/reload.hpp"
#include "protocol/frame.hpp"
#include "publish/shard_state_message.hpp"
#include "util/file_mode.hpp"
#include "util/listen_socket.hpp"
#include "webhook/signature.hpp"

namespace relay::app {
namespace {

// Like sshd's StrictModes, but a warning: the relay still starts, so a deployment that relies on a
// single-user host keeps working.
void warn_about_exposed_secret_files(const std::vector<config::SecretFile>& files) {
  for (const auto& file : files) {
    if (const auto exposure = util::secret_file_exposure(file.path)) {
      spdlog::warn(
          "{}: {} is {}: other local users can read or replace the secret (chmod 600, or pass it "
          "with LoadCredential=)",
          file.key, file.path, *exposure);
    }
  }
}

ingress::GatewaySettings gateway_settings(const config::Config& config) {
  ingress::GatewaySettings settings;
  settings.app_id = config.bot.app_id;
  if (config.bot.auth == config::AuthMode::StaticToken) {
    settings.static_token = config.bot.token;
  } else {
    settings.client_secret = config.bot.client_secret;
  }
  settings.intents = config.bot.intents;
  settings.api_base = config.gateway.api_base;
  settings.token_url = config.gateway.token_url;
  settings.shards = config.gateway.shards;
  settings.max_frame_bytes = config.gateway.max_frame_bytes;
  settings.identify_window = util::Millis(config.gateway.identify_window_ms);
  return settings;
}

int exit_code_for(gateway::StopCategory category) {
  switch (category) {
    case gateway::StopCategory::credentials:
      return k_exit_credentials_refused;
    case gateway::StopCategory::configuration:
      return k_exit_config;
    default:
      return k_exit_failure;
  }
}

// How long close frames get to leave before the loop stops.
constexpr util::Millis k_close_grace{300};

}  // namespace

RelayApp::RelayApp(config::Config config)
    : m_config(std::move(config)),
      m_started_at_us(util::unix_micros_now()),
      m_heap(m_loop),
      m_invalid_input(m_config.state.directory, m_config.state.quarantine_max_bytes),
      m_shutdown_timer(m_loop, [this] {
        m_close_grace_over = true;
        stop_loop_when_done();
      }) {
  const auto kernels = protocol::json_kernels();
  spdlog::debug(
      "simdjson: {} kernel for the structure of each frame (chosen for this CPU), {} for navigation",
      kernels.indexing, kernels.navigation);
  publish::PublisherSettings publisher;
  publisher.endpoints = m_config.publish.endpoints;
  publisher.sndhwm = m_config.publish.sndhwm;
  publisher.curve_secret_key = m_config.publish.curve_secret_key;
  publisher.curve_authorized = m_config.publish.curve_authorized;
  m_publisher = std::make_unique<publish::ZmqPublisher>(std::move(publisher));
  for (const auto& endpoint : m_publisher->bound_endpoints()) {
    spdlog::info("publishing on {}", endpoint);
  }
  if (auto* authenticator = m_publisher->authenticator()) {
    m_loop.watch_fd(authenticator->fd(), [authenticator] { authenticator->on_readable(); });
    spdlog::info("CURVE on: {} authorized client key(s) from {}", authenticator->authorized(),
                 m_config.publish.curve_authorized_keys);
  }
  warn_about_exposed_secret_files(m_config.secret_files);
  m_signal_fd = open_signal_fd();
  m_loop.watch_fd(m_signal_fd, [this] { on_signal(); });
  m_state = std::make_unique<StateKeeper>(m_loop, m_config.state.directory,
                                          util::Millis(m_config.state.save_interval_ms), m_config.bot.app_id,
                                          [this] { return snapshot(); });
  publish::StageSettings stage;
  stage.app_id = m_config.bot.app_id;
  stage.topic_prefix = m_config.publish.topic_prefix;
  stage.node = m_config.cluster.node;  // the host name unless configured
  stage.dedupe_window = m_config.publish.dedupe_window;
  m_stage = std::make_unique<publish::PublishStage>(std::move(stage), *m_state);
  m_stage->add_outlet(*m_publisher);
  m_stage->add_outlet(m_heap);
  auto settings = gateway_settings(m_config);
  if (auto saved = m_state->load()) {
    m_stage->resume_relay_seq_after(saved->relay_seq_reserved);
    if (saved->relay_seq_reserved > saved->relay_seq) {
      spdlog::warn(
          "the previous run did not stop cleanly: relay_seq continues after {} (it published up to {} at the "
          "last save; later numbers up to the reservation were lost with the crash or never used)",
          saved->relay_seq_reserved, saved->relay_seq);
    }
    m_saved_shards = saved->shards;
    for (auto& shard : saved->shards) {
      settings.saved_sessions.push_back(
          ingress::SessionPosition{{shard.index, shard.count}, std::move(shard.session_id), shard.seq});
    }
  }
  if (m_config.cluster.enabled) {
    m_cluster =
        std::make_unique<ClusterLink>(m_loop, m_config, *m_stage, [this] { m_state->mark_changed(); });
    if (m_config.gateway.enabled) {
      m_cluster->configure(settings);  // shards run while this relay holds their lease
    }
  }
  if (m_config.gateway.enabled) {
    m_gateway = std::make_unique<ingress::GatewayClient>(m_loop, std::move(settings), *this);
  }
  if (m_config.webhook.enabled) {
    start_webhook();
  }
  if (!m_config.publish.replay_endpoint.empty() || m_config.api.enabled) {
    // Replay answers from it, and so do Resumes of the gateway served to SDK bots.
    start_retention();
  }
  if (!m_config.publish.replay_endpoint.empty()) {
    start_replay();
  }
  if (m_config.api.enabled) {
    start_api();
  }
  m_stage->reserve_ahead();
  if (!m_config.metrics.listen.empty()) {
    m_status = std::make_unique<ingress::StatusServer>(
        m_loop,
        ingress::ListenerSettings{"metrics", m_config.metrics.host, m_config.metrics.port,
                                  m_config.metrics.max_connections},
        [this] { return metrics(); }, [this] { return health(); });
    spdlog::info("metrics: http://{}/metrics and /healthz", m_config.metrics.listen);
  }
  for (const auto& address : util::close_unused_inherited_sockets()) {
    spdlog::warn(
        "a socket handed over at start (socket activation) is bound to {}, which no listener has: closed "
        "(api.listen is {}; make the socket unit's ListenStream= exactly that)",
        address, m_config.api.enabled ? m_config.api.listen : "not set");
  }
}

RelayApp::~RelayApp() {
  m_gateway.reset();
  m_cluster.reset();
  if (m_signal_fd >= 0) {
    close(m_signal_fd);
  }
}

void RelayApp::start_retention() {
  // Messages up to here were published by earlier runs; the journal (if any) brings back what it holds.
  const std::uint64_t published_before = m_stage->last_relay_seq();
  m_retention =
      std::make_unique<publish::Retention>(m_config.publish.retain_messages, m_config.publish.retain_bytes);
  if (m_config.publish.journal) {
    // One journal per bot, so that a state directory shared by mistake never mixes two bots' messages.
    m_journal = std::make_unique<publish::Journal>(
        m_config.state.directory + "/journal/" + m_config.bot.app_id, m_config.publish.journal_max_bytes);
    m_journal->load([this](const publish::RetainedMessage& message) {
      m_retention->add(message.relay_seq, message.topic(), message.body(), message.metadata());
    });
    spdlog::info("journal: {} message(s) loaded from {}{}", m_journal->counters().records_loaded,
                 m_journal->directory(),
                 m_journal->counters().damaged_segments
                     ? " (a segment cut short by a crash was read up to the cut)"
                     : "");
    if (m_journal->last_loaded() > m_stage->last_relay_seq()) {
      // The state file was lost or rejected: never number new messages below what the journal already holds.
      spdlog::warn("journal: continuing relay_seq after {}, the newest message in the journal",
                   m_journal->last_loaded());
      m_stage->resume_relay_seq_after(m_journal->last_loaded());
    }
    m_stage->journal_in(m_journal.get());
  }
  const auto first = m_retention->first_available();
  m_retention->set_complete_after(first ? std::max(m_retention->complete_after(), *first - 1)
                                        : std::max(published_before, m_stage->last_relay_seq()));
  m_stage->retain_in(m_retention.get());
}

void RelayApp::start_replay() {
  publish::ReplayLimits limits;
  limits.max_reply_bytes = m_config.publish.replay_max_reply_bytes;
  limits.max_client_bytes = m_config.publish.replay_max_client_bytes;
  limits.max_bytes = m_config.publish.replay_max_bytes;
  m_replay = std::make_unique<publish::ReplayServer>(m_publisher->context(), m_config.publish.replay_endpoint,
                                                     *m_retention, m_publisher->curve_secret_key(), limits);
  m_replay_timer = std::make_unique<ingress::Timer>(m_loop, [this] { serve_replay(); });
  m_loop.watch_fd(m_replay->fd(), [this] { serve_replay(); });
  spdlog::info(
      "replay: answering catch-up requests on {} (keeping up to {} messages, {} bytes; replies hold at "
      "most {} bytes per client, {} in all)",
      m_replay->bound_endpoint(), m_config.publish.retain_messages, m_config.publish.retain_bytes,
      limits.max_client_bytes, limits.max_bytes);
}

void RelayApp::serve_replay() {
  if (m_replay->on_readable()) {
    m_replay_timer->schedule_in(util::Millis(0));
  }
}

void RelayApp::start_api() {
  const auto& config = m_config.api;
  ingress::ApiForwarderSettings settings;
  settings.app_id = m_config.bot.app_id;
  settings.api_base = m_config.gateway.api_base;
  settings.upstream_timeout = util::Millis(config.upstream_timeout * 1000);
  settings.max_in_flight = config.max_in_flight;
  settings.max_queued = config.max_queued;
  ingress::ApiServerSettings server;
  server.host = config.host;
  server.port = config.port;
  server.max_connections = config.max_connections;
  server.max_body = config.max_body;
  server.request_timeout_s = config.request_timeout;
  if (!config.tls_cert.empty()) {
    auto tls = ingress::TlsServerContext::load(config.tls_cert, config.tls_key);
    if (!tls) {
      throw std::runtime_error("api.tls_cert/tls_key: " + tls.error() +
                               "; check that both are PEM files and that the key belongs to the certificate");
    }
    m_api_tls = std::move(*tls);
    server.tls = m_api_tls.get();
  }
  m_api =
      std::make_unique<ingress::ApiForwarder>(m_loop, std::move(settings), config.clients, std::move(server));
  spdlog::info("api: forwarding the OpenAPI on {}://{} to {} for {} client(s)", m_api_tls ? "https" : "http",
               config.listen, m_config.gateway.api_base, config.clients.size());
  start_downstream();
}

void RelayApp::start_downstream() {
  const auto& config = m_config.api;
  DownstreamSettings settings;
  settings.server.heartbeat_interval = util::Millis(config.heartbeat_interval);
  settings.server.max_client_buffer = config.max_client_buffer;
  // Clients may ask for what reaches the bus: the gateway's intents, and any with webhooks on.
  settings.server.allowed_intents =
      m_config.webhook.enabled ? 0xffffffffu : (m_config.gateway.enabled ? m_config.bot.intents : 0u);
  settings.public_url = config.public_url;
  settings.listen = config.listen;
  settings.tls = m_api_tls != nullptr;
  settings.gateway_shards = config.gateway_shards;
  settings.sessions_path =
      m_config.state.directory + "/downstream-sessions." + m_config.bot.app_id + ".jsonl";
  m_downstream = std::make_unique<DownstreamService>(m_loop, std::move(settings), *m_api, *m_retention,
                                                     m_stage->last_relay_seq());
  m_stage->add_outlet(m_downstream->gateway());
  spdlog::info("api: serving the gateway to SDK bots at {}://{}/websocket (heartbeat {} ms)",
               m_api_tls ? "wss" : "ws", config.listen, config.heartbeat_interval);
}

void RelayApp::start_webhook() {
  const auto& config = m_config.webhook;
  auto key = webhook::WebhookKey::from_secret(m_config.bot.client_secret);
  if (!key) {
    throw std::runtime_error(
        "webhook.enabled needs a non-empty client secret to check signatures: set bot.client_secret (or "
        "client_secret_file, or the credential client_secret), or webhook.enabled = false");
  }
  webhook::HandlerSettings handler;
  handler.path = config.path;
  handler.max_body = config.max_body;
  handler.max_clock_skew_s = config.max_clock_skew;
  ingress::WebhookServerSettings server;
  server.host = config.host;
  server.port = config.port;
  server.tls_cert = config.tls_cert;
  server.tls_key = config.tls_key;
  server.request_timeout_s = config.request_timeout;
  server.max_connections = config.max_connections;
  m_webhook = std::make_unique<ingress::WebhookServer>(
      m_loop, std::move(server), webhook::RequestHandler(std::move(handler), *key), *this);
  spdlog::info("webhook: listening on {}://{}{}", m_webhook->tls() ? "https" : "http", config.listen,
               config.path);
}

std::string RelayApp::service_status() const {
  std::string text;
  if (m_gateway) {
    text = fmt::format("{}/{} shards ready", m_gateway->ready_shards(), m_gateway->shard_count());
    if (m_cluster) {
      text += fmt::format(" (leases held: {})", m_cluster->coordinator().held_count());
    }
  }
  if (m_webhook) {
    text += text.empty() ? "webhook listening" : ", webhook listening";
  }
  return fmt::format("{}, {} messages published", text, m_stage->counters().published);
}

int RelayApp::run() {
  m_service = std::make_unique<ServiceNotifier>(m_loop, [this] { return service_status(); });
  if (m_gateway) {
    m_gateway->start();
  }
  if (m_cluster) {
    m_cluster->start(m_gateway.get());
  }
  if (m_api) {
    // One access token for the gateway and the forwarder: the gateway's source when it runs.
    ingress::TokenSource* tokens = m_gateway ? m_gateway->tokens() : nullptr;
    if (tokens == nullptr) {
      m_api_tokens = std::make_unique<ingress::TokenSource>(
          m_loop,
          ingress::TokenSettings{m_config.bot.app_id, m_config.bot.client_secret, m_config.gateway.token_url},
          [](const std::string&) {},
          [this](const std::string& why) {
            spdlog::critical("{}: fix bot.app_id and the client secret", why);
            begin_shutdown(k_exit_credentials_refused);
          });
      m_api_tokens->start();
      tokens = m_api_tokens.get();
    }
    m_api->use_tokens(*tokens);
    if (m_downstream) {
      // A relay that resumes its gateway sessions gets no READY to name the bot: ask (a READY later wins).
      m_downstream->fetch_bot_user(*tokens, m_config.gateway.api_base, m_config.bot.app_id);
    }
  }
  if (!m_gateway) {
    // The publisher is bound and the webhook (if any) listens: nothing more to wait for.
    m_service->ready(service_status());
    spdlog::warn("gateway.enabled is false: no gateway connection will be made{}",
                 m_webhook ? "; events come by webhook only" : "");
  } else if (m_cluster) {
    // A relay of a cluster may hold no shard for as long as the others hold them all: it is up as soon as
    // its publisher is bound, ready to take over.
    m_service->ready(service_status());
  }
  m_loop.on_pass_end([this] { m_stage->flush(); });
  m_loop_lag = std::make_unique<LoopLagProbe>(m_loop);
  m_loop.run();
  m_stage->finish();
  m_state->save_now();
  std::uint64_t repeated_seqs = 0;
  for (const unsigned i : m_gateway ? m_gateway->shard_indexes() : std::vector<unsigned>{}) {
    repeated_seqs += m_gateway->session(i)->counters().duplicates_dropped;
  }
  spdlog::info(
      "stopped; {} messages published, {} repeats dropped ({} by s, {} by event id), state saved {} times",
      m_stage->counters().published, repeated_seqs + m_stage->counters().repeated_ids, repeated_seqs,
      m_stage->counters().repeated_ids, m_state->counters().writes);
  if (m_webhook) {
    const auto& counters = m_webhook->counters();
    std::uint64_t rejected = 0;
    for (const auto count : counters.rejected) {
      rejected += count;
    }
    spdlog::info("webhook: {} requests, {} events, {} validations, {} rejected", counters.requests,
                 counters.events, counters.validations, rejected);
  }
  return m_exit_code;
}

void RelayApp::on_signal() {
  signalfd_siginfo info{};
  while (read(m_signal_fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    switch (info.ssi_signo) {
      case SIGTERM:
      case SIGINT:
        spdlog::info("signal {}: stopping; closing the gateway sockets without ending their sessions",
                     info.ssi_signo);
        begin_shutdown(k_exit_ok);
        break;
      case SIGHUP:
        reload();
        break;
      default:
        break;
    }
  }
}

void RelayApp::reload() {
  auto loaded = config::load_file(m_config.source_path);
  if (!loaded) {
    ++m_reloads_invalid;
    spdlog::error("SIGHUP: the configuration is not valid, nothing changed: {}", loaded.error().message);
    return;
  }
  const auto& fresh = *loaded;
  const config::ReloadPlan plan = config::plan_reload(m_config, fresh);
  std::vector<std::string> applied;
  std::vector<std::string> not_applied = plan.need_restart;
  for (const std::string& key : plan.live) {
    if (!apply_live(key, fresh)) {
      not_applied.push_back(key);
      continue;
    }
    applied.push_back(key);
    // What is running now matches the file for this key; keys not applied keep their running value, so the
    // next SIGHUP still names them.
    if (const auto it = fresh.written.find(key); it != fresh.written.end()) {
      m_config.written[key] = it->second;
    } else {
      m_config.written.erase(key);
    }
  }
  if (m_api_tls) {
    if (auto reloaded = m_api_tls->reload(); !reloaded) {
      spdlog::error("SIGHUP: keeping the API listener's current TLS certificate: {}", reloaded.error());
    } else {
      spdlog::info("api: TLS certificate re-read from {} (valid until {})", m_config.api.tls_cert,
                   m_api_tls->not_after());
    }
  }
  if (m_webhook && m_webhook->tls()) {
    if (const auto reloaded = m_webhook->reload_certificate(); !reloaded) {
      spdlog::error("SIGHUP: keeping the webhook's current TLS certificate: {}", reloaded.error());
    }
  }
  ++m_reloads_applied;
  if (!not_applied.empty()) {
    spdlog::warn("SIGHUP: changed but not applied until a restart: {}", fmt::join(not_applied, ", "));
  }
  spdlog::info("SIGHUP: configuration reloaded{}{}", applied.empty() ? "; no live setting changed" : ": ",
               fmt::join(applied, ", "));
}

bool RelayApp::apply_live(const std::string& key, const config::Config& fresh) {
  if (key == "log.level") {
    set_log_level(fresh.log.level);
    m_config.log.level = fresh.log.level;
  } else if (key == "log.format") {
    set_log_format(fresh.log.format);
    m_config.log.format = fresh.log.format;
  } else if (key == "publish.topic_prefix") {
    m_stage->set_topic_prefix(fresh.publish.topic_prefix);
    m_config.publish.topic_prefix = fresh.publish.topic_prefix;
  } else if (key == "api.clients_file") {
    if (m_api) {
      m_api->replace_clients(fresh.api.clients);
      spdlog::info("SIGHUP: {} API client(s) from {}", fresh.api.clients.size(), fresh.api.clients_file);
    }
    if (m_downstream) {
      // A client removed, or whose key changed, loses its gateway sessions as it loses its tokens.
      const auto& before = m_config.api.clients;
      const auto& after = fresh.api.clients;
      m_downstream->gateway().end_sessions_unless([&](std::string_view client) {
        const auto same = [client](const api::ClientKey& entry) { return entry.name == client; };
        const auto old_key = std::find_if(before.begin(), before.end(), same);
        const auto new_key = std::find_if(after.begin(), after.end(), same);
        return old_key != before.end() && new_key != after.end() && old_key->key == new_key->key;
      });
    }
    m_config.api.clients = fresh.api.clients;
    m_config.api.clients_file = fresh.api.clients_file;
    warn_about_exposed_secret_files({{"api.clients_file", fresh.api.clients_file}});
  } else if (key == "publish.curve_authorized_keys") {
    auto* authenticator = m_publisher->authenticator();
    if (authenticator == nullptr || fresh.publish.curve_secret_key.empty()) {
      spdlog::warn("SIGHUP: turning CURVE on or off needs a restart");
      return false;
    }
    authenticator->set_authorized(fresh.publish.curve_authorized);
    m_config.publish.curve_authorized = fresh.publish.curve_authorized;
    m_config.publish.curve_authorized_keys = fresh.publish.curve_authorized_keys;
    spdlog::info("SIGHUP: {} authorized client key(s) from {}", authenticator->authorized(),
                 fresh.publish.curve_authorized_keys);
  }
  return true;
}

void RelayApp::begin_shutdown(int exit_code) {
  if (m_shutting_down) {
    return;
  }
  m_shutting_down = true;
  m_exit_code = exit_code;
  if (m_service) {
    m_service->stopping();
  }
  if (m_gateway) {
    m_gateway->shutdown();
  }
  if (m_cluster) {
    // The positions go to Redis before the leases are released, so the next owner resumes from here.
    m_cluster->shutdown([this] {
      m_cluster_left = true;
      stop_loop_when_done();
    });
  } else {
    m_cluster_left = true;
  }
  if (m_downstream) {
    // New connections wait in the listening socket's queue: for the next process when systemd holds it.
    m_api->server().stop_accepting();
    m_downstream->stop();
  }
  // Nothing is read from now on, so these positions are exact.
  if (m_state->save_now()) {
    for (const auto& position :
         m_gateway ? m_gateway->positions() : std::vector<ingress::SessionPosition>{}) {
      spdlog::info("shard {}/{}: saved session {} at s={}", position.shard.index, position.shard.count,
                   position.session_id, position.seq);
    }
  }
  m_shutdown_timer.schedule_in(k_close_grace);
}

void RelayApp::stop_loop_when_done() {
  // Both the close frames' grace and the cluster's goodbye (bounded by a Redis command timeout).
  if (m_cluster_left && m_close_grace_over) {
    m_loop.stop();
  }
}

void RelayApp::publish(std::string_view type, std::string_view body, const publish::MessageInfo& info) {
  if (m_cluster) {
    m_cluster->publish(type, body, info);
  } else if (!m_stage->publish(type, body, info) && info.source == publish::Source::gateway) {
    // A repeat of a recent event id: not published (so the stage marked nothing), but the shard's position
    // moved all the same.
    m_state->mark_changed();
  }
}

void RelayApp::on_invalid_frame(const gateway::ShardId& shard, std::optional<std::uint64_t> seq,
                                std::string_view problem, std::size_t offset, std::string_view bytes) {
  if (seq) {
    m_state->mark_changed();  // the shard passed this s
  }
  m_invalid_input.note({0, "gateway", std::pair{shard.index, shard.count}, seq, problem, offset, bytes},
                       m_loop.now());
}

void RelayApp::on_invalid_webhook_body(const util::JsonFault& fault, std::string_view body) {
  m_invalid_input.note({0, "webhook", std::nullopt, std::nullopt, fault.what, fault.offset, body},
                       m_loop.now());
}

void RelayApp::on_webhook_event(const protocol::Frame& event, std::string_view body,
                                std::int64_t received_at_us) {
  publish::MessageInfo info;
  info.source = publish::Source::webhook;
  info.event_id = event.id;
  info.received_at_us = received_at_us;
  publish(event.t, body, info);
}

state::SavedState RelayApp::snapshot() const {
  state::SavedState saved;
  saved.app_id = m_config.bot.app_id;
  saved.saved_at_us = util::unix_micros_now();
  saved.relay_seq = m_stage->last_relay_seq();
  saved.relay_seq_reserved = m_stage->relay_seq_reserved();
  if (m_gateway) {
    for (auto& position : m_gateway->positions()) {
      saved.shards.push_back(state::SavedShard{position.shard.index, position.shard.count,
                                               std::move(position.session_id), position.seq});
    }
  } else {
    saved.shards = m_saved_shards;  // a run without the gateway keeps what an earlier run saved
  }
  return saved;
}

void RelayApp::on_dispatch(const gateway::ShardId& shard, std::string_view session_id,
                           const gateway::Publish& event, std::int64_t received_at_us) {
  if (m_downstream && event.event_type == "READY") {
    note_bot_user(event.frame);
  }
  publish::MessageInfo info;
  info.source = publish::Source::gateway;
  info.shard = publish::ShardPosition{shard.index, shard.count};
  info.session_id = session_id;
  info.seq = event.seq;
  info.event_id = event.event_id;
  info.received_at_us = received_at_us;
  if (m_cluster && !m_cluster->may_publish(shard.index)) {
    // Frozen past the lease (a stopped process, a paused VM): the shard may be another relay's by now, and
    // the keeper stops it on its next tick. Its next owner gets this event from the platform.
    return;
  }
  publish(event.event_type, event.frame, info);
}

void RelayApp::note_bot_user(std::string_view ready_frame) {
  simdjson::dom::parser parser;
  simdjson::dom::element user;
  if (parser.parse(ready_frame.data(), ready_frame.size()).at_pointer("/d/user").get(user) ==
          simdjson::SUCCESS &&
      user.is_object()) {
    m_downstream->gateway().set_bot_user(simdjson::minify(user));
  }
}

void RelayApp::on_shard_state(const gateway::ShardId& shard, std::string_view session_id,
                              const gateway::StateChanged& change) {
  const bool up = change.state == gateway::ShardState::ready || change.state == gateway::ShardState::resumed;
  if (up) {
    m_heap.note_churn();  // the handshakes that led here freed more than they kept
  }
  if (m_service && !m_shutting_down) {
    // Ready for systemd once the first shard is: the publisher is bound and events flow.
    if (up || m_service->is_ready()) {
      m_service->ready(service_status());
    }
  }
  publish::encode_shard_state(m_state_body,
                              {shard.index, shard.count, gateway::to_string(change.state), session_id,
                               change.close_code, change.reason, change.will_resume});
  publish::MessageInfo info;
  info.source = publish::Source::relay;
  info.shard = publish::ShardPosition{shard.index, shard.count};
  info.session_id = session_id;
  info.received_at_us = util::unix_micros_now();
  publish("relay.shard", m_state_body, info);
  if (m_cluster && up) {
    m_cluster->save_position_now(shard.index);
  }
}

void RelayApp::on_gateway_stopped(gateway::StopCategory category, const std::string& /*message*/) {
  // The reason was logged where it happened; this line says what the process does about it.
  const int code = exit_code_for(category);
  spdlog::critical("no gateway shard is left running; exiting with status {}", code);
  begin_shutdown(code);
}

}  // namespace relay::app

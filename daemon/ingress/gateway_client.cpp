#include "ingress/gateway_client.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "util/strings.hpp"

namespace relay::ingress {

using gateway::Actions;

class GatewayClient::Shard final : public SocketHandler {
 public:
  Shard(GatewayClient& client, gateway::SessionSettings settings)
      : owner(client),
        session(settings),
        timer(client.m_loop, [this] { on_timer(); }),
        serial(++client.m_next_shard_serial) {}

  void on_open() override {
    session.on_connected(owner.m_loop.now(), owner.m_actions);
    owner.execute(*this, owner.m_actions);
  }

  void on_bytes_arrived() override {
    arrived_at = owner.m_loop.now();
    arrived_at_unix_us = util::unix_micros_now();
  }

  void on_message(std::string_view text, std::size_t capacity) override {
    ++owner.m_counters.frames;
    const auto result = owner.m_decoder.decode_padded(text, capacity);
    if (!result.frame) {
      // A bad frame changes nothing else: the shard stays up.
      ++owner.m_counters.bad_frames;
      const auto& fault = result.fault;
      owner.m_sink.on_invalid_frame(session.shard(), std::nullopt,
                                    fault ? fault->what : protocol::describe(result.error),
                                    fault ? fault->offset : 0, text);
      return;
    }
    if (result.frame->fault) {
      // Read leniently so that the session can pass its s; the bytes themselves never leave the relay.
      owner.m_sink.on_invalid_frame(session.shard(), result.frame->s, result.frame->fault->what,
                                    result.frame->fault->offset, text);
    }
    session.on_frame(*result.frame, text, arrived_at, owner.m_actions);
    owner.execute(*this, owner.m_actions);
  }

  // The decoder marks it not UTF-8: it is kept and counted, never published, and its s is passed before the
  // socket reports the 1007 close, so the resume that follows starts after it.
  void on_invalid_text(std::string_view bytes, std::size_t capacity) override { on_message(bytes, capacity); }

  void on_closed(int code, std::string_view reason) override {
    if (code == 1009) {
      ++owner.m_counters.oversized_frames;
    }
    owner.m_orchestrator.on_shard_disconnected(index());
    session.on_closed(code, reason, owner.m_loop.now(), owner.m_actions);
    owner.retire(std::move(socket));
    owner.execute(*this, owner.m_actions);
  }

  void on_timer() {
    session.on_tick(owner.m_loop.now(), owner.m_actions);
    owner.execute(*this, owner.m_actions);
  }

  unsigned index() const { return session.shard().index; }
  unsigned count() const { return session.shard().count; }

  GatewayClient& owner;
  gateway::Session session;
  std::unique_ptr<GatewaySocket> socket;
  Timer timer;
  // Tell a late identify gate answer from the shard and connection it was asked for.
  std::uint64_t serial;
  std::uint64_t connection = 0;
  // When the bytes of the messages being handled were read: the session's clock and the metadata's
  // received_at_us for every message of one read.
  util::TimePoint arrived_at{};
  std::int64_t arrived_at_unix_us = 0;
};

namespace {

gateway::OrchestratorSettings orchestrator_settings(GatewaySettings& settings) {
  gateway::OrchestratorSettings out;
  out.shards = settings.shards;
  out.api_tls = settings.api_base.starts_with("https://");
  out.identify_window = settings.identify_window;
  out.saved_sessions = std::exchange(settings.saved_sessions, {});
  out.leased = settings.leased;
  out.random_seed = std::random_device{}();
  return out;
}

}  // namespace

GatewayClient::GatewayClient(EventLoop& loop, GatewaySettings settings, EventSink& sink)
    : m_loop(loop),
      m_settings(std::move(settings)),
      m_sink(sink),
      m_orchestrator(orchestrator_settings(m_settings)),
      m_orchestrator_timer(loop,
                           [this] {
                             gateway::OrchestratorActions actions;
                             m_orchestrator.on_tick(m_loop.now(), actions);
                             orchestrate(actions);
                           }),
      m_reaper(loop, [this] {
        std::erase_if(m_retired, [](const auto& s) { return s->finished(); });
        m_stopped_shards.clear();
      }) {}

GatewayClient::~GatewayClient() = default;

void GatewayClient::start() {
  if (!m_settings.static_token.empty()) {
    on_token("Bot " + m_settings.app_id + "." + m_settings.static_token);
    return;
  }
  m_tokens = std::make_unique<TokenSource>(
      m_loop, TokenSettings{m_settings.app_id, m_settings.client_secret, m_settings.token_url},
      [this](const std::string& authorization) { on_token(authorization); },
      [this](const std::string& why) {
        spdlog::error("{}: fix bot.app_id and the client secret", why);
        m_gave_up = true;
        shutdown();
        m_sink.on_gateway_stopped(gateway::StopCategory::credentials, why);
      });
  m_tokens->start();
}

void GatewayClient::on_token(const std::string& authorization) {
  m_authorization = authorization;
  // By index: a state change handed to the sink may stop shards while this runs.
  for (std::size_t i = 0; i < m_shards.size(); ++i) {
    Shard& shard = *m_shards[i];
    shard.session.on_token(authorization, m_loop.now(), m_actions);
    execute(shard, m_actions);
  }
  gateway::OrchestratorActions actions;
  m_orchestrator.on_token(m_loop.now(), actions);
  orchestrate(actions);
}

std::unique_ptr<HttpRequest> GatewayClient::gateway_bot_request(gateway::InfoPurpose purpose) {
  HttpRequestSpec spec;
  spec.url = m_settings.api_base + "/gateway/bot";
  spec.headers = {{"authorization", m_authorization}, {"x-union-appid", m_settings.app_id}};
  return std::make_unique<HttpRequest>(m_loop, std::move(spec), [this, purpose](HttpResponse&& response) {
    on_gateway_info(purpose, std::move(response));
  });
}

void GatewayClient::on_gateway_info(gateway::InfoPurpose purpose, HttpResponse&& response) {
  const bool discovery = purpose == gateway::InfoPurpose::discovery;
  (discovery ? m_discovery : m_limits_request).reset();
  if (m_stopping) {
    return;
  }
  std::optional<protocol::GatewayInfo> info;
  auto failure = gateway::InfoFailure::request_failed;
  m_info_problem.clear();
  if (response.status == 200) {
    info = protocol::parse_gateway_info(response.body, &m_info_problem);
    failure = gateway::InfoFailure::unusable_response;
  } else if (response.status == 401 && m_tokens) {
    failure = gateway::InfoFailure::token_refused;
  } else if (discovery) {
    m_info_problem = response.status
                         ? fmt::format("HTTP {}: {}", response.status, util::log_excerpt(response.body))
                         : response.error;
  } else {
    m_info_problem = response.status ? fmt::format("HTTP {}", response.status) : response.error;
  }
  if (info && m_settings.on_quota) {
    m_settings.on_quota(info->remaining, util::Millis(info->reset_after_ms));
  }
  gateway::OrchestratorActions actions;
  const auto now = m_loop.now();
  if (info && discovery) {
    m_orchestrator.on_discovered(*info, now, actions);
  } else if (info) {
    m_orchestrator.on_limits(*info, now, actions);
  } else if (discovery) {
    m_orchestrator.on_discovery_failed(failure, now, actions);
  } else {
    if (failure == gateway::InfoFailure::token_refused) {
      m_info_problem = "HTTP 401";
    }
    m_orchestrator.on_limits_failed(failure, now, actions);
  }
  orchestrate(actions);
}

void GatewayClient::orchestrate(gateway::OrchestratorActions& actions) {
  for (auto& action : actions) {
    carry_out(action);
  }
  rearm_orchestrator();
}

void GatewayClient::rearm_orchestrator() {
  if (auto deadline = m_orchestrator.next_deadline()) {
    m_orchestrator_timer.schedule_at(*deadline);
  } else {
    m_orchestrator_timer.cancel();
  }
}

void GatewayClient::carry_out(gateway::OrchestratorAction& action) {
  using namespace gateway;
  if (auto* fetch = std::get_if<FetchGatewayInfo>(&action)) {
    if (fetch->purpose == InfoPurpose::discovery) {
      ++m_counters.discoveries;
      m_discovery = gateway_bot_request(InfoPurpose::discovery);
    } else {
      spdlog::info("the daily session quota has reset; asking /gateway/bot for the new figures");
      m_limits_request = gateway_bot_request(InfoPurpose::limits);
    }
  } else if (std::holds_alternative<InvalidateToken>(action)) {
    if (m_tokens) {
      spdlog::warn("GET /gateway/bot refused the access token; fetching a new one");
      m_tokens->invalidate();
    }
  } else if (auto* delayed = std::get_if<DiscoveryDelayed>(&action)) {
    switch (delayed->reason) {
      case DelayReason::request_failed:
        spdlog::warn("GET {}/gateway/bot failed ({}); retrying in {} ms", m_settings.api_base, m_info_problem,
                     delayed->delay.count());
        break;
      case DelayReason::unusable_response:
        spdlog::error("GET {}/gateway/bot returned an unusable response ({}); retrying in {} ms",
                      m_settings.api_base, m_info_problem, delayed->delay.count());
        break;
      case DelayReason::unusable_url:
        spdlog::error("/gateway/bot returned an unusable url \"{}\": {}; retrying in {} s",
                      util::log_excerpt(delayed->url), delayed->detail, delayed->delay.count() / 1000);
        break;
      case DelayReason::quota_short:
        spdlog::error(
            "the platform allows {} more session starts today but {} shards need one each; waiting {} s "
            "(session_start_limit.reset_after) before trying again",
            delayed->remaining, delayed->starts_needed, delayed->delay.count() / 1000);
        break;
    }
  } else if (auto* limits_delayed = std::get_if<LimitsDelayed>(&action)) {
    spdlog::warn("GET /gateway/bot for the session quota failed ({}); retrying in {} ms", m_info_problem,
                 limits_delayed->delay.count());
  } else if (auto* refreshed = std::get_if<QuotaRefreshed>(&action)) {
    spdlog::info("session quota: {} starts left, resets in {} s", refreshed->remaining,
                 refreshed->reset_after_ms / 1000);
  } else if (auto* layout = std::get_if<StartLayout>(&action)) {
    if (layout->requested != layout->count) {
      spdlog::warn("using {} shards instead of {}: the gateway closed the smaller layout with 4011",
                   layout->count, layout->requested);
    }
    if (layout->discarded_sessions > 0) {
      spdlog::warn("the saved sessions are for {} shard(s), this run has {}: identifying new sessions",
                   layout->discarded_count, layout->count);
    }
    spdlog::info("gateway {} : starting {} shard(s), max_concurrency {}, {} session starts left",
                 layout->raw_url, layout->count, layout->max_concurrency, layout->remaining);
    m_gateway_url = layout->url;
    m_max_concurrency = layout->max_concurrency;
  } else if (auto* start = std::get_if<StartShard>(&action)) {
    start_shard(*start);
  } else if (auto* stop = std::get_if<StopShards>(&action)) {
    stop_shards(stop->reason, stop->will_resume, stop->discard);
  } else if (auto* permit = std::get_if<PermitIdentify>(&action)) {
    permit_identify(permit->index);
  } else if (auto* stop_one = std::get_if<StopShard>(&action)) {
    stop_shard(stop_one->index);
  } else if (auto* refused = std::get_if<ReshardRefused>(&action)) {
    spdlog::error(
        "shard {}/{}: the gateway closed it with 4011 (the layout needs more shards), but every relay of a "
        "cluster must use the same layout: raise gateway.shards on every relay. Identifying this shard again "
        "in {} s",
        refused->index, refused->count, refused->retry_in.count() / 1000);
  } else if (auto* waiting = std::get_if<WaitingForQuota>(&action)) {
    spdlog::warn("{} shard(s) wait for the daily session quota to reset, in {} s", waiting->queued,
                 std::chrono::duration_cast<std::chrono::seconds>(waiting->until - m_loop.now()).count());
  }
}

void GatewayClient::start_shard(const gateway::StartShard& start) {
  gateway::SessionSettings settings = m_settings.session;
  settings.shard = start.shard;
  settings.intents = m_settings.intents;
  settings.random_seed = std::random_device{}();
  m_shards.push_back(std::make_unique<Shard>(*this, settings));
  auto& shard = *m_shards.back();
  if (start.resume) {
    shard.session.restore(start.resume->session_id, start.resume->seq);
    spdlog::info("shard {}/{}: resuming saved session {} after s={}", start.shard.index, start.shard.count,
                 start.resume->session_id, start.resume->seq);
  }
  shard.session.set_token(m_authorization);
  shard.session.start(m_loop.now(), m_actions);
  execute(shard, m_actions);
}

void GatewayClient::permit_identify(unsigned index) {
  Shard* shard = shard_at(index);
  if (!shard) {
    return;
  }
  if (!m_settings.identify_gate) {
    shard->session.on_identify_permitted(m_loop.now(), m_actions);
    execute(*shard, m_actions);
    return;
  }
  auto proceed = [this, alive = std::weak_ptr<int>(m_alive), index, serial = shard->serial,
                  connection = shard->connection] {
    if (alive.expired() || m_stopping) {
      return;
    }
    Shard* same = shard_at(index);
    if (!same || same->serial != serial || same->connection != connection) {
      return;  // disowned, replaced or reconnected meanwhile: the new connection asks again
    }
    same->session.on_identify_permitted(m_loop.now(), m_actions);  // ignored unless it still waits
    execute(*same, m_actions);
  };
  m_settings.identify_gate(index, m_max_concurrency, m_settings.identify_window, std::move(proceed));
}

void GatewayClient::own_shard(unsigned index, std::optional<SessionPosition> resume) {
  if (m_stopping) {
    return;
  }
  gateway::OrchestratorActions actions;
  m_orchestrator.own_shard(index, std::move(resume), m_loop.now(), actions);
  orchestrate(actions);
}

void GatewayClient::disown_shard(unsigned index) {
  gateway::OrchestratorActions actions;
  m_orchestrator.disown_shard(index, actions);
  orchestrate(actions);
}

void GatewayClient::stop_shard(unsigned index) {
  const auto found =
      std::find_if(m_shards.begin(), m_shards.end(), [index](const auto& s) { return s->index() == index; });
  if (found == m_shards.end()) {
    return;
  }
  Shard& shard = **found;
  // Close code 4000 keeps the session for the relay that resumes it; the socket is retired, so frames
  // already on their way are never handed to this shard.
  shard.session.shutdown(m_actions, "lease released", true);
  execute(shard, m_actions);
  shard.timer.cancel();
  retire(std::move(shard.socket));
  m_orchestrator.on_shard_disconnected(index);
  // Kept alive until the reaper runs: this may be called from inside one of the shard's own calls.
  m_stopped_shards.push_back(std::move(*found));
  m_shards.erase(found);
  m_reaper.schedule_in(util::Millis(2'000));
}

GatewayClient::Shard* GatewayClient::shard_at(unsigned index) {
  for (auto& shard : m_shards) {
    if (shard->index() == index) {
      return shard.get();
    }
  }
  return nullptr;
}

const GatewayClient::Shard* GatewayClient::shard_at(unsigned index) const {
  for (const auto& shard : m_shards) {
    if (shard->index() == index) {
      return shard.get();
    }
  }
  return nullptr;
}

std::vector<unsigned> GatewayClient::shard_indexes() const {
  std::vector<unsigned> indexes;
  for (const auto& shard : m_shards) {
    indexes.push_back(shard->index());
  }
  std::sort(indexes.begin(), indexes.end());
  return indexes;
}

std::vector<SessionPosition> GatewayClient::positions() const {
  if (m_shards.empty()) {
    // Not started yet (or between layouts): the saved sessions are still the positions to keep.
    return m_orchestrator.saved_sessions();
  }
  std::vector<SessionPosition> result;
  for (const auto& shard : m_shards) {
    const auto& session = shard->session;
    if (!session.session_id().empty() && session.phase() != gateway::Phase::stopped) {
      result.push_back(
          SessionPosition{session.shard(), session.session_id(), session.last_published_seq().value_or(0)});
    }
  }
  return result;
}

void GatewayClient::stop_shards(std::string_view reason, bool will_resume, bool discard) {
  for (auto& shard : m_shards) {
    shard->session.shutdown(m_actions, reason, will_resume);
    execute(*shard, m_actions);
    shard->timer.cancel();
  }
  if (discard) {
    for (auto& shard : m_shards) {
      retire(std::move(shard->socket));
    }
    m_shards.clear();
  }
}

void GatewayClient::shutdown() {
  m_stopping = true;
  m_discovery.reset();
  m_limits_request.reset();
  gateway::OrchestratorActions actions;
  m_orchestrator.shutdown(actions);
  orchestrate(actions);
}

std::size_t GatewayClient::ready_shards() const {
  std::size_t ready = 0;
  for (const auto& shard : m_shards) {
    ready += shard->session.phase() == gateway::Phase::ready;
  }
  return ready;
}

const gateway::Session* GatewayClient::session(unsigned index) const {
  const Shard* shard = shard_at(index);
  return shard ? &shard->session : nullptr;
}

void GatewayClient::retire(std::unique_ptr<GatewaySocket> socket) {
  if (socket) {
    // Detach it from its shard (closing it if still open), and never destroy it inside its own callback:
    // the reaper frees it once libwebsockets is done with it.
    socket->close(gateway::k_close_keep_session, "connection replaced");
    m_retired.push_back(std::move(socket));
    m_reaper.schedule_in(util::Millis(2'000));
  }
}

void GatewayClient::execute(Shard& shard, Actions& pending) {
  // Carrying out an action can re-enter execute (a stop that ends the process shuts every shard down), so
  // this call works on its own list and leaves the shared one empty for the nested calls.
  Actions actions;
  actions.swap(pending);
  const gateway::ShardId id = shard.session.shard();
  for (std::size_t i = 0; i < actions.size(); ++i) {
    auto& action = actions[i];
    if (auto* send = std::get_if<gateway::Send>(&action)) {
      if (shard.socket) {
        shard.socket->send(std::move(send->text));
      }
    } else if (auto* publish = std::get_if<gateway::Publish>(&action)) {
      m_sink.on_dispatch(id, shard.session.session_id(), *publish, shard.arrived_at_unix_us);
    } else if (auto* close = std::get_if<gateway::Close>(&action)) {
      if (shard.socket) {
        shard.socket->close(close->code, close->reason);
        retire(std::move(shard.socket));
      }
      m_orchestrator.on_shard_disconnected(id.index);
    } else if (std::holds_alternative<gateway::Connect>(action)) {
      retire(std::move(shard.socket));
      ++shard.connection;
      if (m_tokens && !m_tokens->has_token()) {
        // Connect anyway: the token normally arrives long before Hello needs it.
        spdlog::debug("shard {}/{}: connecting while a token refresh is in flight", id.index, id.count);
      }
      shard.socket =
          std::make_unique<GatewaySocket>(m_loop, *m_gateway_url, m_settings.max_frame_bytes, shard);
      if (shard.socket->finished()) {
        // lws refused to even start the connection; treat as a failed connect.
        shard.session.on_closed(1006, "cannot start a connection", m_loop.now(), actions);
        retire(std::move(shard.socket));
      }
    } else if (std::holds_alternative<gateway::RequestIdentify>(action)) {
      m_orchestrator.on_identify_requested(id.index, m_loop.now());
      rearm_orchestrator();
    } else if (std::holds_alternative<gateway::RefreshToken>(action)) {
      if (m_tokens) {
        m_tokens->invalidate();  // on_token hands every shard the new one
      } else {
        shard.session.set_token(m_authorization);  // a static bot.token cannot be renewed
      }
    } else if (std::holds_alternative<gateway::Reshard>(action)) {
      if (!m_settings.leased) {
        spdlog::warn(
            "the gateway asks for more shards (4011): fetching /gateway/bot and restarting every shard");
      }
      // Deferred by the orchestrator: nothing here tears this shard down.
      gateway::OrchestratorActions reshard;
      m_orchestrator.on_reshard_requested(id.index, m_loop.now(), reshard);
      orchestrate(reshard);
    } else if (auto* change = std::get_if<gateway::StateChanged>(&action)) {
      if (change->state == gateway::ShardState::disconnected ||
          change->state == gateway::ShardState::stopped) {
        ++m_counters.disconnects;
        ++m_counters.close_codes[change->close_code];
      }
      m_sink.on_shard_state(id, shard.session.session_id(), *change);
      if (change->state == gateway::ShardState::disconnected) {
        spdlog::info("shard {}/{}: disconnected (code {}: {}), {}", id.index, id.count, change->close_code,
                     change->reason, change->will_resume ? "will resume" : "will identify");
      } else {
        spdlog::info("shard {}/{}: {}", id.index, id.count, gateway::to_string(change->state));
      }
    } else if (auto* stopped = std::get_if<gateway::Stopped>(&action)) {
      spdlog::error("{}", stopped->message);
      on_shard_stopped(stopped->category, stopped->message);
    }
  }
  actions.clear();
  if (pending.empty() && pending.capacity() < actions.capacity()) {
    pending.swap(actions);  // keep the larger buffer, so the hot path does not allocate
  }
  if (auto deadline = shard.session.next_deadline()) {
    shard.timer.schedule_at(*deadline);
  } else {
    shard.timer.cancel();
  }
}

void GatewayClient::on_shard_stopped(gateway::StopCategory category, const std::string& message) {
  for (const auto& shard : m_shards) {
    if (shard->session.phase() != gateway::Phase::stopped) {
      return;
    }
  }
  m_gave_up = true;
  m_sink.on_gateway_stopped(category, message);
}

}  // namespace relay::ingress

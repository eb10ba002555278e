#include "ingress/gateway_client.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "util/strings.hpp"

namespace relay::ingress {

using gateway::Actions;

namespace {

// Saved sessions are usable only as a whole layout of the same shard count.
std::size_t resumable_sessions_in(const std::vector<SessionPosition>& saved, unsigned count) {
  const bool same_layout = std::all_of(saved.begin(), saved.end(), [count](const SessionPosition& p) {
    return p.shard.count == count && p.shard.index < count;
  });
  return same_layout ? saved.size() : 0;
}

}  // namespace

class GatewayClient::Shard final : public SocketHandler {
 public:
  Shard(GatewayClient& client, gateway::SessionSettings settings)
      : owner(client), session(settings), timer(client.m_loop, [this] { on_timer(); }) {}

  void on_open() override {
    session.on_connected(owner.m_loop.now(), owner.m_actions);
    owner.execute(*this, owner.m_actions);
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
    session.on_frame(*result.frame, text, owner.m_loop.now(), owner.m_actions);
    owner.execute(*this, owner.m_actions);
  }

  // The decoder marks it not UTF-8: it is kept and counted, never published, and its s is passed before the
  // socket reports the 1007 close, so the resume that follows starts after it.
  void on_invalid_text(std::string_view bytes, std::size_t capacity) override { on_message(bytes, capacity); }

  void on_closed(int code, std::string_view reason) override {
    if (code == 1009) {
      ++owner.m_counters.oversized_frames;
    }
    owner.m_pacer.cancel(index());
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
};

GatewayClient::GatewayClient(EventLoop& loop, GatewaySettings settings, EventSink& sink)
    : m_loop(loop),
      m_settings(std::move(settings)),
      m_sink(sink),
      m_discovery_timer(loop, [this] { discover(); }),
      m_pacer_timer(loop, [this] { poll_pacer(); }),
      m_limits_timer(loop,
                     [this] {
                       m_limits_retry_pending = false;
                       refresh_limits();
                     }),
      m_reshard_timer(loop, [this] { reshard(); }),
      m_reaper(loop, [this] { std::erase_if(m_retired, [](const auto& s) { return s->finished(); }); }) {}

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
        stop_shards();
        m_sink.on_gateway_stopped(gateway::StopCategory::credentials, why);
      });
  m_tokens->start();
}

void GatewayClient::on_token(const std::string& authorization) {
  m_authorization = authorization;
  for (auto& shard : m_shards) {
    shard->session.set_token(authorization);
  }
  if (m_shards.empty() && !m_discovery) {
    discover();
  }
}

void GatewayClient::discover() {
  if (m_stopping || m_discovery) {
    return;
  }
  ++m_counters.discoveries;
  m_discovery = gateway_bot_request(&GatewayClient::on_discovered);
}

std::unique_ptr<HttpRequest> GatewayClient::gateway_bot_request(
    void (GatewayClient::*on_response)(HttpResponse&&)) {
  HttpRequestSpec spec;
  spec.url = m_settings.api_base + "/gateway/bot";
  spec.headers = {{"authorization", m_authorization}, {"x-union-appid", m_settings.app_id}};
  return std::make_unique<HttpRequest>(m_loop, std::move(spec), [this, on_response](HttpResponse&& response) {
    (this->*on_response)(std::move(response));
  });
}

void GatewayClient::refresh_limits() {
  if (m_stopping || m_limits_request || m_limits_retry_pending) {
    return;
  }
  spdlog::info("the daily session quota has reset; asking /gateway/bot for the new figures");
  m_limits_request = gateway_bot_request(&GatewayClient::on_limits);
}

void GatewayClient::on_limits(HttpResponse&& response) {
  m_limits_request.reset();
  if (m_stopping) {
    return;
  }
  std::optional<protocol::GatewayInfo> info;
  if (response.status == 200) {
    info = protocol::parse_gateway_info(response.body);
  }
  if (!info) {
    if (response.status == 401 && m_tokens) {
      m_tokens->invalidate();
    }
    const auto delay = retry_delay(m_limits_backoff);
    spdlog::warn("GET /gateway/bot for the session quota failed ({}); retrying in {} ms",
                 response.status ? fmt::format("HTTP {}", response.status) : response.error, delay.count());
    m_limits_retry_pending = true;
    m_limits_timer.schedule_in(delay);
    return;
  }
  m_limits_backoff.reset();
  apply_limits(*info);
  spdlog::info("session quota: {} starts left, resets in {} s", info->remaining, info->reset_after_ms / 1000);
  poll_pacer();
}

util::Millis GatewayClient::retry_delay(util::Backoff& backoff) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  return std::max(util::Millis(500), backoff.next(unit(m_random)));
}

void GatewayClient::apply_limits(const protocol::GatewayInfo& info) {
  // A reset_after of 0 (or missing) with nothing remaining must not turn into a busy loop of requests.
  m_pacer.set_limits(info.max_concurrency, info.remaining,
                     m_loop.now() + util::Millis(std::max<std::uint64_t>(info.reset_after_ms, 1'000)));
}

void GatewayClient::discover_later(util::Millis delay) {
  m_discovery_timer.schedule_in(delay);
}

void GatewayClient::on_discovered(HttpResponse&& response) {
  m_discovery.reset();
  if (m_stopping) {
    return;
  }
  std::optional<protocol::GatewayInfo> info;
  if (response.status == 200) {
    std::string problem;
    info = protocol::parse_gateway_info(response.body, &problem);
    if (!info) {
      const auto delay = retry_delay(m_discovery_backoff);
      spdlog::error("GET {}/gateway/bot returned an unusable response ({}); retrying in {} ms",
                    m_settings.api_base, problem, delay.count());
      discover_later(delay);
      return;
    }
  }
  if (!info) {
    const auto delay = retry_delay(m_discovery_backoff);
    if (response.status == 401 && m_tokens) {
      spdlog::warn("GET /gateway/bot refused the access token; fetching a new one");
      m_tokens->invalidate();
      return;
    }
    spdlog::warn("GET {}/gateway/bot failed ({}); retrying in {} ms", m_settings.api_base,
                 response.status
                     ? fmt::format("HTTP {}: {}", response.status, util::log_excerpt(response.body))
                     : response.error,
                 delay.count());
    discover_later(delay);
    return;
  }
  m_discovery_backoff.reset();
  std::string problem;
  const bool api_tls = m_settings.api_base.starts_with("https://");
  m_gateway_url = protocol::usable_gateway_url(info->url, api_tls, problem);
  if (!m_gateway_url) {
    spdlog::error("/gateway/bot returned an unusable url \"{}\": {}; retrying in 60 s",
                  util::log_excerpt(info->url), problem);
    discover_later(util::Millis(60'000));
    return;
  }
  const unsigned shards = shard_count_for(*info);
  // Saved sessions resume without a session start; only the others need one from the daily quota.
  const std::size_t starts_needed = shards - resumable_sessions(shards);
  if (info->remaining < starts_needed) {
    // Starting only some shards would burn the rest of the quota on a partial layout.
    const auto wait = util::Millis(std::max<std::uint64_t>(info->reset_after_ms, 1'000));
    spdlog::error(
        "the platform allows {} more session starts today but {} shards need one each; waiting {} s "
        "(session_start_limit.reset_after) before trying again",
        info->remaining, starts_needed, wait.count() / 1000);
    discover_later(wait);
    return;
  }
  start_shards(*info);
}

unsigned GatewayClient::shard_count_for(const protocol::GatewayInfo& info) const {
  const unsigned wanted = m_settings.shards.value_or(info.shards);
  if (wanted < m_min_shards) {
    spdlog::warn("using {} shards instead of {}: the gateway closed the smaller layout with 4011",
                 m_min_shards, wanted);
    return m_min_shards;
  }
  return wanted;
}

std::size_t GatewayClient::resumable_sessions(unsigned count) const {
  return resumable_sessions_in(m_settings.saved_sessions, count);
}

void GatewayClient::start_shards(const protocol::GatewayInfo& info) {
  const unsigned count = shard_count_for(info);
  const auto now = m_loop.now();
  apply_limits(info);
  spdlog::info("gateway {} : starting {} shard(s), max_concurrency {}, {} session starts left", info.url,
               count, info.max_concurrency, info.remaining);
  for (unsigned index = 0; index < count; ++index) {
    gateway::SessionSettings settings = m_settings.session;
    settings.shard = {index, count};
    settings.intents = m_settings.intents;
    settings.random_seed = std::random_device{}();
    m_shards.push_back(std::make_unique<Shard>(*this, settings));
  }
  restore_sessions(count);
  for (auto& shard : m_shards) {
    shard->session.set_token(m_authorization);
    shard->session.start(now, m_actions);
    execute(*shard, m_actions);
  }
}

void GatewayClient::restore_sessions(unsigned count) {
  // Only the first layout of this process can resume an earlier run's sessions.
  auto saved = std::exchange(m_settings.saved_sessions, {});
  if (saved.empty()) {
    return;
  }
  if (resumable_sessions_in(saved, count) == 0) {
    spdlog::warn("the saved sessions are for {} shard(s), this run has {}: identifying new sessions",
                 saved.front().shard.count, count);
    return;
  }
  for (const SessionPosition& position : saved) {
    auto& shard = *m_shards[position.shard.index];
    shard.session.restore(position.session_id, position.seq);
    spdlog::info("shard {}/{}: resuming saved session {} after s={}", position.shard.index, count,
                 position.session_id, position.seq);
  }
}

std::vector<SessionPosition> GatewayClient::positions() const {
  if (m_shards.empty()) {
    // Not started yet (or between layouts): the saved sessions are still the positions to keep.
    return m_settings.saved_sessions;
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

void GatewayClient::reshard() {
  const unsigned previous = static_cast<unsigned>(m_shards.size());
  stop_shards("resharding: every shard starts a new session", false);
  for (auto& shard : m_shards) {
    retire(std::move(shard->socket));
  }
  m_shards.clear();
  m_pacer = gateway::IdentifyPacer();
  // 4011 means the layout is too small: never come back with fewer shards than one more than before.
  m_min_shards = previous + 1;
  discover();
}

void GatewayClient::stop_shards(std::string_view reason, bool will_resume) {
  for (auto& shard : m_shards) {
    shard->session.shutdown(m_actions, reason, will_resume);
    execute(*shard, m_actions);
    shard->timer.cancel();
  }
}

void GatewayClient::shutdown() {
  m_stopping = true;
  m_discovery.reset();
  m_discovery_timer.cancel();
  m_pacer_timer.cancel();
  m_limits_request.reset();
  m_limits_timer.cancel();
  stop_shards();
}

std::size_t GatewayClient::ready_shards() const {
  std::size_t ready = 0;
  for (const auto& shard : m_shards) {
    ready += shard->session.phase() == gateway::Phase::ready;
  }
  return ready;
}

const gateway::Session* GatewayClient::session(unsigned index) const {
  return index < m_shards.size() ? &m_shards[index]->session : nullptr;
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
      m_sink.on_dispatch(id, shard.session.session_id(), *publish, util::unix_micros_now());
    } else if (auto* close = std::get_if<gateway::Close>(&action)) {
      if (shard.socket) {
        shard.socket->close(close->code, close->reason);
        retire(std::move(shard.socket));
      }
      m_pacer.cancel(id.index);
    } else if (std::holds_alternative<gateway::Connect>(action)) {
      retire(std::move(shard.socket));
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
      m_pacer.enqueue(id.index);
      m_pacer_timer.schedule_in(util::Millis(0));
    } else if (std::holds_alternative<gateway::RefreshToken>(action)) {
      if (m_tokens) {
        m_tokens->invalidate();
      }
    } else if (std::holds_alternative<gateway::Reshard>(action)) {
      spdlog::warn(
          "the gateway asks for more shards (4011): fetching /gateway/bot and restarting every shard");
      // Deferred: the shards cannot be torn down while one of them is executing.
      m_reshard_timer.schedule_in(util::Millis(0));
    } else if (auto* change = std::get_if<gateway::StateChanged>(&action)) {
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

void GatewayClient::poll_pacer() {
  const auto now = m_loop.now();
  m_granted.clear();
  m_pacer.poll(now, m_granted);
  for (const unsigned index : m_granted) {
    if (index < m_shards.size()) {
      auto& shard = *m_shards[index];
      shard.session.on_identify_permitted(now, m_actions);
      execute(shard, m_actions);
    }
  }
  if (m_pacer.queued() > 0 && m_pacer.needs_limits(now)) {
    refresh_limits();
  }
  if (auto next = m_pacer.next_deadline(now)) {
    if (m_pacer.waiting_for_quota(now)) {
      spdlog::warn("{} shard(s) wait for the daily session quota to reset, in {} s", m_pacer.queued(),
                   std::chrono::duration_cast<std::chrono::seconds>(m_pacer.quota_reset_at() - now).count());
    }
    m_pacer_timer.schedule_at(*next);
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

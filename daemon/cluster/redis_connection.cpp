#include "cluster/redis_connection.hpp"

#include <async.h>
#include <spdlog/spdlog.h>

#include <random>

#include "cluster/hiredis_adapter.hpp"

namespace relay::cluster {

namespace {

double unit_random() {
  static std::minstd_rand engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

util::Unexpected<CommandFailure> failure(const char* reason) {
  return util::Unexpected(CommandFailure{reason});
}

RedisConnection* owner(const redisAsyncContext* context) {
  return static_cast<RedisConnection*>(context->data);
}

}  // namespace

RedisConnection::RedisConnection(ingress::EventLoop& loop, util::RedisUrl url, RedisOptions options)
    : m_loop(loop),
      m_url(std::move(url)),
      m_backoff(options.reconnect_base, options.reconnect_cap),
      m_timeout_timer(loop, [this] { expire_commands(); }),
      m_reconnect_timer(loop, [this] { connect(); }),
      m_deferred_timer(loop, [this] {
        auto work = std::move(m_deferred);
        m_deferred.clear();
        m_retired.clear();
        for (auto& item : work) {
          item();
        }
      }) {
  connect();
}

RedisConnection::~RedisConnection() {
  m_pending.clear();
  if (m_context != nullptr) {
    m_context->data = nullptr;  // the callbacks hiredis makes while freeing find no owner
    redisAsyncFree(m_context);
  }
}

void RedisConnection::connect() {
  m_handshake_failed = false;
  redisAsyncContext* context = redisAsyncConnect(m_url.host.c_str(), m_url.port);
  if (context == nullptr || context->err != 0) {
    m_last_error = context != nullptr ? context->errstr : "out of memory";
    report_connect_failure();
    if (context != nullptr) {
      redisAsyncFree(context);
    }
    schedule_reconnect();
    return;
  }
  m_context = context;
  context->data = this;
  cap_reply_arrays(context->c.reader);
  attach_hiredis(m_loop, *context, [this](std::unique_ptr<ingress::FdWatch> watch) {
    m_retired.push_back(std::move(watch));
    defer([] {});
  });
  redisAsyncSetConnectCallback(context, connect_trampoline);
  redisAsyncSetDisconnectCallback(context, disconnect_trampoline);
  // The handshake goes first in the queue, so every command sent meanwhile runs authenticated, in its db.
  if (!m_url.password.empty()) {
    const char* argv[] = {"AUTH", m_url.password.c_str()};
    const std::size_t lengths[] = {4, m_url.password.size()};
    redisAsyncCommandArgv(context, handshake_trampoline, const_cast<char*>("AUTH"), 2, argv, lengths);
  }
  if (m_url.db != 0) {
    const std::string db = std::to_string(m_url.db);
    const char* argv[] = {"SELECT", db.c_str()};
    const std::size_t lengths[] = {6, db.size()};
    redisAsyncCommandArgv(context, handshake_trampoline, const_cast<char*>("SELECT"), 2, argv, lengths);
  }
  // hiredis learns that a non-blocking connect finished when the socket becomes writable.
  context->ev.addWrite(context->ev.data);
}

void RedisConnection::on_connected(int status) {
  if (status != REDIS_OK) {
    m_last_error = m_context->errstr;
    report_connect_failure();
    m_context = nullptr;  // hiredis frees it after this callback
    fail_all_pending();
    schedule_reconnect();
    return;
  }
  m_connected = true;
  ++m_counters.connects;
  if (m_counters.connects > 1) {
    ++m_counters.reconnects;
  }
  spdlog::info("redis: connected to {}:{}{}", m_url.host, m_url.port,
               m_failed_connects > 0 ? fmt::format(" after {} failed attempts", m_failed_connects) : "");
  m_failed_connects = 0;
}

// The first failed attempt of an outage at warning, the retries at debug: an outage must not flood the log.
void RedisConnection::report_connect_failure() {
  const auto level = m_failed_connects++ == 0 ? spdlog::level::warn : spdlog::level::debug;
  spdlog::log(level, "redis: cannot connect to {}:{}: {} (retrying with backoff)", m_url.host, m_url.port,
              m_last_error);
}

void RedisConnection::on_disconnected(int status) {
  if (status != REDIS_OK || m_handshake_failed) {
    m_last_error = m_handshake_failed ? m_last_error : std::string(m_context->errstr);
    spdlog::warn("redis: connection to {}:{} lost: {}", m_url.host, m_url.port, m_last_error);
  }
  m_context = nullptr;
  m_connected = false;
  fail_all_pending();
  schedule_reconnect();
}

void RedisConnection::handshake_reply(void* reply, const char* what) {
  if (reply == nullptr) {
    return;  // disconnected: on_disconnected handles it
  }
  const RedisReply copy = copy_reply(reply);
  if (copy.is_error()) {
    m_last_error = std::string(what) + " refused: " + copy.text;
    m_handshake_failed = true;
    redisAsyncDisconnect(m_context);
    return;
  }
  if (std::string_view(what) == "SELECT" || m_url.db == 0) {
    m_backoff.reset();  // a full handshake: the next outage starts with a short delay again
  }
}

void RedisConnection::command(std::vector<std::string> argv, CommandCallback callback, util::Millis timeout) {
  const std::uint64_t id = m_next_id++;
  ++m_counters.commands;
  const util::TimePoint deadline = m_loop.now() + timeout;
  m_pending.emplace(id, Pending{std::move(callback), deadline});
  m_deadlines.emplace(deadline, id);
  rearm_timeout();
  if (m_context == nullptr) {
    defer([this, id] { finish(id, failure("disconnected")); });
    return;
  }
  submit(id, argv);
}

void RedisConnection::submit(std::uint64_t id, const std::vector<std::string>& argv) {
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  for (const auto& argument : argv) {
    pointers.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  if (redisAsyncCommandArgv(m_context, reply_trampoline, reinterpret_cast<void*>(id),
                            static_cast<int>(argv.size()), pointers.data(), lengths.data()) != REDIS_OK) {
    defer([this, id] { finish(id, failure("disconnected")); });
  }
}

void RedisConnection::on_reply(std::uint64_t id, void* reply) {
  if (reply == nullptr) {
    finish(id, failure("disconnected"));
  } else {
    finish(id, copy_reply(reply));
  }
}

void RedisConnection::finish(std::uint64_t id, CommandResult result) {
  const auto found = m_pending.find(id);
  if (found == m_pending.end()) {
    return;  // already answered: timed out, or failed when the connection was lost
  }
  CommandCallback callback = std::move(found->second.callback);
  m_deadlines.erase({found->second.deadline, id});
  m_pending.erase(found);
  rearm_timeout();
  if (!result) {
    ++m_counters.failures;
  }
  callback(std::move(result));
}

void RedisConnection::expire_commands() {
  const util::TimePoint now = m_loop.now();
  std::vector<std::uint64_t> expired;
  for (auto it = m_deadlines.begin(); it != m_deadlines.end() && it->first <= now; ++it) {
    expired.push_back(it->second);
  }
  for (const auto id : expired) {
    finish(id, failure("timeout"));
  }
  rearm_timeout();
}

void RedisConnection::rearm_timeout() {
  if (m_deadlines.empty()) {
    m_timeout_timer.cancel();
  } else {
    m_timeout_timer.schedule_at(m_deadlines.begin()->first);  // free when the earliest did not change
  }
}

void RedisConnection::fail_all_pending() {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, pending] : m_pending) {
    ids.push_back(id);
  }
  for (const auto id : ids) {
    finish(id, failure("disconnected"));
  }
}

void RedisConnection::script_load(const LuaScript& script, CommandCallback callback, util::Millis timeout) {
  command({"SCRIPT", "LOAD", script.source}, std::move(callback), timeout);
}

void RedisConnection::evalsha(const LuaScript& script, std::vector<std::string> keys,
                              std::vector<std::string> args, CommandCallback callback, util::Millis timeout) {
  auto build = [&](const std::string& verb, const std::string& body) {
    std::vector<std::string> argv{verb, body, std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  auto eval = build("EVAL", script.source);
  command(
      build("EVALSHA", script.sha1),
      [this, eval = std::move(eval), callback = std::move(callback), timeout](CommandResult result) mutable {
        if (result && result->is_error() && result->text.starts_with("NOSCRIPT")) {
          command(std::move(eval), std::move(callback), timeout);
          return;
        }
        callback(std::move(result));
      },
      timeout);
}

void RedisConnection::schedule_reconnect() {
  const util::Millis delay = m_backoff.next(unit_random());
  m_reconnect_timer.schedule_in(delay);
}

void RedisConnection::defer(std::function<void()> work) {
  m_deferred.push_back(std::move(work));
  m_deferred_timer.schedule_in(util::Millis(0));
}

void RedisConnection::connect_trampoline(const redisAsyncContext* context, int status) {
  if (auto* self = owner(context)) {
    self->on_connected(status);
  }
}

void RedisConnection::disconnect_trampoline(const redisAsyncContext* context, int status) {
  if (auto* self = owner(context)) {
    self->on_disconnected(status);
  }
}

void RedisConnection::reply_trampoline(redisAsyncContext* context, void* reply, void* id) {
  if (auto* self = owner(context)) {
    self->on_reply(reinterpret_cast<std::uintptr_t>(id), reply);
  }
}

void RedisConnection::handshake_trampoline(redisAsyncContext* context, void* reply, void* what) {
  if (auto* self = owner(context)) {
    self->handshake_reply(reply, static_cast<const char*>(what));
  }
}

}  // namespace relay::cluster

// One connection to Redis through hiredis' async API, driven by the relay's event loop and never blocking it:
// non-blocking connect, AUTH and SELECT from the URL, a timeout per command, reconnection with backoff.
// One exception: hiredis 0.14 resolves a host name with a blocking getaddrinfo() on every (re)connect, so the
// URL should name an IP address (or a name in /etc/hosts). No TLS: hiredis 0.14 has no hiredis_ssl.
// Do not destroy a RedisConnection from inside one of its callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/lua_script.hpp"
#include "cluster/redis_reply.hpp"
#include "ingress/event_loop.hpp"
#include "util/backoff.hpp"
#include "util/expected.hpp"
#include "util/redis_url.hpp"

struct redisAsyncContext;

namespace relay::cluster {

// Why a command got no reply: "timeout", "disconnected" (the connection was lost, or there was none).
struct CommandFailure {
  std::string reason;
};

using CommandResult = util::Expected<RedisReply, CommandFailure>;
// Called exactly once per command, always from the event loop (never from inside command() itself).
using CommandCallback = std::function<void(CommandResult)>;

struct RedisCounters {
  std::uint64_t connects = 0;    // successful connections (AUTH and SELECT done)
  std::uint64_t reconnects = 0;  // successful connections after the first
  std::uint64_t commands = 0;    // commands submitted
  std::uint64_t failures = 0;    // commands failed with a timeout or a disconnection
};

struct RedisOptions {
  util::Millis reconnect_base{100};
  util::Millis reconnect_cap{5000};
};

class RedisConnection {
 public:
  // Starts connecting at once; reconnects with backoff whenever the connection is lost or cannot be made.
  RedisConnection(ingress::EventLoop& loop, util::RedisUrl url, RedisOptions options = {});
  // Drops the connection; callbacks of pending commands are not called.
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command (each argument binary-safe). While disconnected, it fails with "disconnected".
  void command(std::vector<std::string> argv, CommandCallback callback, util::Millis timeout);
  // SCRIPT LOAD; the reply is the script's SHA-1 as a string.
  void script_load(const LuaScript& script, CommandCallback callback, util::Millis timeout);
  // EVALSHA, and EVAL when Redis answers NOSCRIPT (its script cache was flushed or it restarted).
  void evalsha(const LuaScript& script, std::vector<std::string> keys, std::vector<std::string> args,
               CommandCallback callback, util::Millis timeout);

  bool connected() const { return m_connected; }
  const RedisCounters& counters() const { return m_counters; }
  // The last connection error, for logs and status ("" when none yet).
  const std::string& last_error() const { return m_last_error; }

 private:
  struct Pending {
    CommandCallback callback;
    util::TimePoint deadline;
  };

  void connect();
  void on_connected(int status);
  void on_disconnected(int status);
  void on_reply(std::uint64_t id, void* reply);
  void handshake_reply(void* reply, const char* what);
  void submit(std::uint64_t id, const std::vector<std::string>& argv);
  void finish(std::uint64_t id, CommandResult result);
  void fail_all_pending();
  void expire_commands();
  void rearm_timeout();
  void schedule_reconnect();
  void report_connect_failure();
  void defer(std::function<void()> work);

  static void connect_trampoline(const redisAsyncContext* context, int status);
  static void disconnect_trampoline(const redisAsyncContext* context, int status);
  static void reply_trampoline(redisAsyncContext* context, void* reply, void* id);
  static void handshake_trampoline(redisAsyncContext* context, void* reply, void* what);

  ingress::EventLoop& m_loop;
  util::RedisUrl m_url;
  util::Backoff m_backoff;
  redisAsyncContext* m_context = nullptr;
  bool m_connected = false;
  bool m_handshake_failed = false;
  std::uint64_t m_failed_connects = 0;  // since the last successful connection
  std::string m_last_error;
  RedisCounters m_counters;
  std::uint64_t m_next_id = 1;
  std::map<std::uint64_t, Pending> m_pending;
  // One timer for every command's timeout, armed at the earliest deadline: a timer per command made each
  // new one walk libwebsockets' sorted timer list past every command in flight (thousands in a flood).
  std::set<std::pair<util::TimePoint, std::uint64_t>> m_deadlines;
  ingress::Timer m_timeout_timer;
  ingress::Timer m_reconnect_timer;
  // Work that must not run inside hiredis' or the watch's callbacks: retired watches, deferred failures.
  std::vector<std::function<void()>> m_deferred;
  std::vector<std::unique_ptr<ingress::FdWatch>> m_retired;
  ingress::Timer m_deferred_timer;
};

}  // namespace relay::cluster

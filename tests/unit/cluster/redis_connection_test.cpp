#include "cluster/redis_connection.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <optional>
#include <vector>

#include "../support/run_loop.hpp"
#include "loop_steps.hpp"
#include "redis_server.hpp"

using relay::cluster::CommandResult;
using relay::cluster::LuaScript;
using relay::cluster::RedisConnection;
using relay::cluster::RedisOptions;
using relay::cluster::RedisReply;
using relay::ingress::EventLoop;
using relay::test::RedisServer;
using relay::util::Millis;
using relay::util::parse_redis_url;

namespace {

constexpr Millis k_timeout{3000};
const RedisOptions k_fast_retry{Millis(20), Millis(200)};

using relay::test::Steps;

// Collects the results of one command.
struct Result {
  std::vector<CommandResult> calls;
  relay::cluster::CommandCallback callback() {
    return [this](CommandResult result) { calls.push_back(std::move(result)); };
  }
  bool arrived() const { return !calls.empty(); }
  const RedisReply& reply() const { return calls.at(0).value(); }
};

RedisConnection connect_to(EventLoop& loop, const std::string& url) {
  return RedisConnection(loop, parse_redis_url(url).value(), k_fast_retry);
}

void run(EventLoop& loop, Steps& steps, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  const bool finished = relay::test::run_loop_until(loop, std::ref(steps), limit);
  INFO("stopped at step " << steps.done);
  REQUIRE(finished);
}

}  // namespace

TEST_CASE("redis: SET and GET round trip on the relay's event loop") {
  RedisServer server;
  EventLoop loop;
  auto redis = connect_to(loop, server.url());
  Result set, get, missing;
  Steps steps{{
      [&] { return redis.connected(); },
      [&] {
        redis.command({"SET", "greeting", std::string("hi\0there", 8)}, set.callback(), k_timeout);
        redis.command({"GET", "greeting"}, get.callback(), k_timeout);
        redis.command({"GET", "nothing"}, missing.callback(), k_timeout);
        return true;
      },
      [&] { return missing.arrived(); },
  }};
  run(loop, steps);
  CHECK(set.reply().kind == RedisReply::Kind::status);
  CHECK(set.reply().text == "OK");
  CHECK(get.reply().kind == RedisReply::Kind::string);
  CHECK(get.reply().text == std::string("hi\0there", 8));
  CHECK(missing.reply().kind == RedisReply::Kind::nil);
  CHECK(redis.counters().commands == 3);
  CHECK(redis.counters().failures == 0);
  CHECK(redis.counters().connects == 1);
}

TEST_CASE("redis: AUTH from the URL's password") {
  RedisServer server({"--requirepass", "s3cret"});
  EventLoop loop;
  auto with_password = connect_to(loop, server.url(":s3cret@"));
  auto without = connect_to(loop, server.url());
  Result authed, refused;
  Steps steps{{
      [&] { return with_password.connected() && without.connected(); },
      [&] {
        with_password.command({"INCR", "n"}, authed.callback(), k_timeout);
        without.command({"INCR", "n"}, refused.callback(), k_timeout);
        return true;
      },
      [&] { return authed.arrived() && refused.arrived(); },
  }};
  run(loop, steps);
  CHECK(authed.reply().kind == RedisReply::Kind::integer);
  CHECK(authed.reply().integer == 1);
  CHECK(refused.reply().is_error());
  CHECK_THAT(refused.reply().text, Catch::StartsWith("NOAUTH"));
}

TEST_CASE("redis: SELECT from the URL's database") {
  RedisServer server;
  EventLoop loop;
  auto db2 = connect_to(loop, server.url("", "/2"));
  auto db0 = connect_to(loop, server.url());
  Result set, in_db0, in_db2;
  Steps steps{{
      [&] { return db2.connected() && db0.connected(); },
      [&] {
        db2.command({"SET", "k", "v"}, set.callback(), k_timeout);
        return true;
      },
      [&] { return set.arrived(); },
      [&] {
        db0.command({"GET", "k"}, in_db0.callback(), k_timeout);
        db2.command({"GET", "k"}, in_db2.callback(), k_timeout);
        return true;
      },
      [&] { return in_db0.arrived() && in_db2.arrived(); },
  }};
  run(loop, steps);
  CHECK(in_db0.reply().kind == RedisReply::Kind::nil);
  CHECK(in_db2.reply().text == "v");
}

TEST_CASE("redis: a command that takes too long fails with a timeout, once") {
  RedisServer server;
  EventLoop loop;
  auto redis = connect_to(loop, server.url());
  Result slow, after;
  relay::util::TimePoint sent;
  Millis waited{};
  Steps steps{{
      [&] { return redis.connected(); },
      [&] {
        sent = loop.now();
        redis.command({"DEBUG", "SLEEP", "1"}, slow.callback(), Millis(100));
        return true;
      },
      [&] {
        waited = std::chrono::duration_cast<Millis>(loop.now() - sent);
        return slow.arrived();
      },
      // The late reply to DEBUG SLEEP must not reach the timed-out callback, nor the next command's.
      [&] {
        redis.command({"PING"}, after.callback(), k_timeout);
        return true;
      },
      [&] { return after.arrived(); },
  }};
  run(loop, steps);
  REQUIRE(slow.calls.size() == 1);
  REQUIRE_FALSE(slow.calls[0]);
  CHECK(slow.calls[0].error().reason == "timeout");
  CHECK(waited < Millis(900));
  CHECK(after.reply().text == "PONG");
  CHECK(after.calls.size() == 1);
  CHECK(redis.counters().failures == 1);
}

TEST_CASE("redis: each command times out at its own deadline, whatever order they were sent in") {
  RedisServer server;
  EventLoop loop;
  auto redis = connect_to(loop, server.url());
  Result sleeper, patient, hasty;
  relay::util::TimePoint sent;
  Millis hasty_waited{}, patient_waited{};
  Steps steps{{
      [&] { return redis.connected(); },
      [&] {
        sent = loop.now();
        // Replies come in order, so nothing answers before DEBUG SLEEP does: only the timeouts can.
        redis.command({"DEBUG", "SLEEP", "1.5"}, sleeper.callback(), Millis(1200));
        redis.command({"PING"}, patient.callback(), Millis(600));
        redis.command({"PING"}, hasty.callback(), Millis(150));
        return true;
      },
      [&] {
        if (hasty.arrived() && hasty_waited == Millis{}) {
          hasty_waited = std::chrono::duration_cast<Millis>(loop.now() - sent);
        }
        if (patient.arrived() && patient_waited == Millis{}) {
          patient_waited = std::chrono::duration_cast<Millis>(loop.now() - sent);
        }
        return sleeper.arrived() && patient.arrived() && hasty.arrived();
      },
  }};
  run(loop, steps);
  REQUIRE_FALSE(hasty.calls.at(0));
  REQUIRE_FALSE(patient.calls.at(0));
  REQUIRE_FALSE(sleeper.calls.at(0));
  CHECK(hasty_waited >= Millis(150));
  CHECK(hasty_waited < Millis(500));
  CHECK(patient_waited >= Millis(600));
  CHECK(patient_waited < Millis(1100));
  CHECK(redis.counters().failures == 3);
}

TEST_CASE("redis: a killed server fails the pending commands once, and the connection comes back") {
  RedisServer server;
  EventLoop loop;
  auto redis = connect_to(loop, server.url());
  Result sleeping, queued, while_down, after;
  Steps steps{{
      [&] { return redis.connected(); },
      [&] {
        redis.command({"DEBUG", "SLEEP", "5"}, sleeping.callback(), Millis(10000));
        redis.command({"PING"}, queued.callback(), Millis(10000));
        return true;
      },
      [&] {
        server.kill();
        return true;
      },
      [&] { return sleeping.arrived() && queued.arrived() && !redis.connected(); },
      [&] {
        redis.command({"PING"}, while_down.callback(), k_timeout);
        return true;
      },
      [&] { return while_down.arrived(); },
      [&] {
        server.start();
        return true;
      },
      [&] { return redis.connected(); },
      [&] {
        redis.command({"SET", "back", "1"}, after.callback(), k_timeout);
        return true;
      },
      [&] { return after.arrived(); },
  }};
  run(loop, steps);
  for (const Result* result : {&sleeping, &queued, &while_down}) {
    REQUIRE(result->calls.size() == 1);
    REQUIRE_FALSE(result->calls[0]);
    CHECK(result->calls[0].error().reason == "disconnected");
  }
  CHECK(after.reply().text == "OK");
  CHECK(redis.counters().reconnects == 1);
  CHECK(redis.counters().failures == 3);
}

TEST_CASE("redis: EVALSHA falls back to EVAL when the script is not loaded") {
  RedisServer server;
  EventLoop loop;
  auto redis = connect_to(loop, server.url());
  const LuaScript script("return KEYS[1] .. ':' .. ARGV[1]");
  Result first, loaded, second;
  std::uint64_t commands_before = 0;
  std::uint64_t commands_first = 0;
  Steps steps{{
      [&] { return redis.connected(); },
      [&] {
        redis.evalsha(script, {"key"}, {"arg"}, first.callback(), k_timeout);
        return true;
      },
      [&] { return first.arrived(); },
      [&] {
        commands_first = redis.counters().commands;
        redis.script_load(script, loaded.callback(), k_timeout);
        return true;
      },
      [&] { return loaded.arrived(); },
      [&] {
        commands_before = redis.counters().commands;
        redis.evalsha(script, {"k2"}, {"a2"}, second.callback(), k_timeout);
        return true;
      },
      [&] { return second.arrived(); },
  }};
  run(loop, steps);
  CHECK(first.reply().text == "key:arg");
  CHECK(commands_first == 2);  // EVALSHA answered NOSCRIPT, then EVAL
  CHECK(loaded.reply().text == script.sha1);
  CHECK(second.reply().text == "k2:a2");
  CHECK(redis.counters().commands - commands_before == 1);  // EVALSHA alone
  CHECK(first.calls.size() == 1);
}

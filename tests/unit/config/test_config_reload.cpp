// What a SIGHUP applies: keys whose value changed, split into live and restart-only.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/reload.hpp"
#include "config_test_support.hpp"

using relay::config::plan_reload;
using relay::test::config_of;

namespace {

constexpr const char* k_base = R"(
[bot]
app_id = "102000000"
client_secret = "s3cret"
intents = ["GUILDS"]
[publish]
topic_prefix = "qq."
sndhwm = 1000
[log]
level = "info"
)";

std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("reloading the same file changes nothing", "[config][reload]") {
  const auto plan = plan_reload(config_of(k_base), config_of(k_base));
  CHECK(plan.live.empty());
  CHECK(plan.need_restart.empty());
}

TEST_CASE("live keys and restart keys are told apart, in table order", "[config][reload]") {
  std::string text = with(k_base, R"(topic_prefix = "qq.")", R"(topic_prefix = "bot.")");
  text = with(text, "sndhwm = 1000", "sndhwm = 2000");
  text = with(text, R"(level = "info")", "level = \"debug\"\nformat = \"json\"");
  text = with(text, R"(intents = ["GUILDS"])", R"(intents = ["GUILDS", "GUILD_MEMBERS"])");
  const auto plan = plan_reload(config_of(k_base), config_of(text));
  CHECK(plan.live == std::vector<std::string>{"publish.topic_prefix", "log.level", "log.format"});
  CHECK(plan.need_restart == std::vector<std::string>{"bot.intents", "publish.sndhwm"});
}

TEST_CASE("a key added or removed counts as changed", "[config][reload]") {
  const std::string removed = with(k_base, "sndhwm = 1000\n", "");
  CHECK(plan_reload(config_of(k_base), config_of(removed)).need_restart ==
        std::vector<std::string>{"publish.sndhwm"});
  const std::string added = with(k_base, "[log]\n", "[metrics]\nlisten = \"127.0.0.1:9464\"\n[log]\n");
  CHECK(plan_reload(config_of(k_base), config_of(added)).need_restart ==
        std::vector<std::string>{"metrics.listen"});
}

TEST_CASE("a changed secret is reported by name and its value is not kept in the plan", "[config][reload]") {
  const std::string text = with(k_base, R"(client_secret = "s3cret")", R"(client_secret = "other")");
  const auto running = config_of(k_base);
  CHECK(running.written.at("bot.client_secret").find("s3cret") == std::string::npos);
  const auto plan = plan_reload(running, config_of(text));
  CHECK(plan.need_restart == std::vector<std::string>{"bot.client_secret"});
}

TEST_CASE("a file named by a key counts as part of its value", "[config][reload]") {
  const auto directory = std::filesystem::temp_directory_path() / "relay-reload-test";
  std::filesystem::create_directories(directory);
  const auto secret = directory / "secret";
  std::ofstream(secret) << "first\n";
  const std::string text = with(k_base, R"(client_secret = "s3cret")", "client_secret_file = \"secret\"");
  const std::string path = (directory / "relay.toml").string();
  const auto running = config_of(text, path);
  std::ofstream(secret) << "second\n";
  const auto plan = plan_reload(running, config_of(text, path));
  CHECK(plan.live.empty());
  CHECK(plan.need_restart == std::vector<std::string>{"bot.client_secret_file"});
  std::filesystem::remove_all(directory);
}

TEST_CASE("applies_on_reload knows the live keys", "[config][reload]") {
  CHECK(relay::config::applies_on_reload("log.level"));
  CHECK(relay::config::applies_on_reload("publish.topic_prefix"));
  CHECK(relay::config::applies_on_reload("publish.curve_authorized_keys"));
  CHECK_FALSE(relay::config::applies_on_reload("publish.endpoints"));
  CHECK_FALSE(relay::config::applies_on_reload("webhook.tls_cert"));
  CHECK_FALSE(relay::config::applies_on_reload("no.such"));
  CHECK_FALSE(relay::config::applies_on_reload("nodot"));
}

TEST_CASE("log.format accepts text and json", "[config][reload]") {
  CHECK(config_of(k_base).log.format == relay::config::LogFormat::text);
  CHECK(config_of(with(k_base, "[log]\n", "[log]\nformat = \"json\"\n")).log.format ==
        relay::config::LogFormat::json);
  const std::string error = relay::test::error_of(with(k_base, "[log]\n", "[log]\nformat = \"xml\"\n"));
  CHECK(error == R"(relay.toml:10: log.format: unknown format "xml" (expected "text" or "json"))");
}

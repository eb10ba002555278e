// Defaults, and how each key's value is read and checked.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "config/loader.hpp"
#include "config_test_support.hpp"

namespace {

using relay::config::AuthMode;
using relay::config::Config;
using relay::config::ConfigError;

// The smallest valid [bot]; tests append the sections they are about.
const std::string k_bot =
    "[bot]\n"
    "app_id = \"102000000\"\n"
    "client_secret = \"change-me\"\n"
    "intents = [\"GUILDS\"]\n";

using relay::test::config_of;
using relay::test::error_of;

}  // namespace

TEST_CASE("omitted tables and keys take their defaults", "[config][values]") {
  const Config config = config_of(k_bot);
  CHECK(config.source_path == "relay.toml");
  CHECK(config.bot.app_id == "102000000");
  CHECK(config.bot.auth == AuthMode::AccessToken);
  CHECK(config.bot.client_secret == "change-me");
  CHECK(config.bot.token.empty());
  CHECK(config.bot.intents == 1u);
  CHECK(config.gateway.enabled);
  CHECK(config.gateway.api_base == "https://api.sgroup.qq.com");
  CHECK(config.gateway.token_url == "https://bots.qq.com/app/getAppAccessToken");
  CHECK_FALSE(config.gateway.shards.has_value());
  CHECK(config.gateway.max_frame_bytes == 1048576u);
  CHECK(config.gateway.identify_window_ms == 5250u);
  CHECK(config.publish.endpoints == std::vector<std::string>{"tcp://127.0.0.1:5555"});
  CHECK(config.publish.topic_prefix.empty());
  CHECK(config.publish.sndhwm == 100000);
  CHECK(config.state.directory == "/var/lib/qq-gateway-relay");
  CHECK(config.log.level == "info");
}

TEST_CASE("every key can be set", "[config][values]") {
  const std::string path = std::string(RELAY_TEST_DATA_DIR) + "/config/full.toml";
  auto result = relay::config::load_file(path);
  if (!result) {
    FAIL(result.error().message);
  }
  const Config& config = *result;
  CHECK(config.source_path == path);
  CHECK(config.bot.app_id == "102000123");
  CHECK(config.bot.intents == ((1u << 0) | (1u << 30) | (1u << 25)));
  CHECK_FALSE(config.gateway.enabled);
  CHECK(config.gateway.api_base == "http://127.0.0.1:18081");
  CHECK(config.gateway.token_url == "http://127.0.0.1:18081/app/getAppAccessToken");
  CHECK(config.gateway.shards == 4u);
  CHECK(config.gateway.max_frame_bytes == 65536u);
  CHECK(config.gateway.identify_window_ms == 1500u);
  CHECK(config.publish.endpoints ==
        std::vector<std::string>{"tcp://0.0.0.0:6000", "ipc:///run/relay/events"});
  CHECK(config.publish.topic_prefix == "qq.");
  CHECK(config.publish.sndhwm == 0);
  CHECK(config.state.directory == "/tmp/relay-state");
  CHECK(config.log.level == "debug");
}

TEST_CASE("intents are names or one positive integer", "[config][values][intents]") {
  const auto with_intents = [](const std::string& value) {
    return "[bot]\napp_id = \"102000000\"\nclient_secret = \"change-me\"\nintents = " + value + "\n";
  };
  CHECK(
      config_of(with_intents(R"(["GUILDS", "PUBLIC_GUILD_MESSAGES", "GROUP_AND_C2C_EVENT"])")).bot.intents ==
      ((1u << 0) | (1u << 30) | (1u << 25)));
  // Aliases map to the same bit, and repeating a bit is harmless.
  CHECK(config_of(with_intents(R"(["AT_MESSAGES", "PUBLIC_GUILD_MESSAGES"])")).bot.intents == (1u << 30));
  CHECK(config_of(with_intents("1073741825")).bot.intents == 1073741825u);
  CHECK(config_of(with_intents("4294967295")).bot.intents == 4294967295u);

  CHECK(error_of(with_intents("0")) ==
        "relay.toml:4: bot.intents: expected an integer from 1 to 4294967295, got 0");
  CHECK(error_of(with_intents("-1")) ==
        "relay.toml:4: bot.intents: expected an integer from 1 to 4294967295, got -1");
  CHECK(error_of(with_intents("4294967296")) ==
        "relay.toml:4: bot.intents: expected an integer from 1 to 4294967295, got 4294967296");
  CHECK(error_of(with_intents("[]")) == "relay.toml:4: bot.intents: must list at least one intent");
  CHECK(error_of(with_intents(R"("GUILDS")")) ==
        "relay.toml:4: bot.intents: expected an array of intent names or an integer, got a string");
  CHECK(error_of(with_intents(R"(["GUILDS", 2])")) ==
        "relay.toml:4: bot.intents: expected intent names (strings), got an integer in the array");
  CHECK(error_of(with_intents(R"(["guilds"])")) ==
        "relay.toml:4: bot.intents: unknown intent \"guilds\" (did you mean \"GUILDS\"?)");
  CHECK(error_of(with_intents(R"(["EVERYTHING_PLEASE"])")) ==
        "relay.toml:4: bot.intents: unknown intent \"EVERYTHING_PLEASE\"");
}

TEST_CASE("shards is \"auto\" or a count from 1 to 4096", "[config][values]") {
  CHECK_FALSE(config_of(k_bot + "[gateway]\nshards = \"auto\"\n").gateway.shards.has_value());
  CHECK(config_of(k_bot + "[gateway]\nshards = 1\n").gateway.shards == 1u);
  CHECK(config_of(k_bot + "[gateway]\nshards = 4096\n").gateway.shards == 4096u);
  CHECK(error_of(k_bot + "[gateway]\nshards = 4097\n") ==
        "relay.toml:6: gateway.shards: expected \"auto\" or an integer from 1 to 4096, got 4097");
  CHECK(error_of(k_bot + "[gateway]\nshards = \"many\"\n") ==
        "relay.toml:6: gateway.shards: expected \"auto\" or an integer from 1 to 4096, got \"many\"");
  CHECK(error_of(k_bot + "[gateway]\nshards = true\n") ==
        "relay.toml:6: gateway.shards: expected \"auto\" or an integer from 1 to 4096, got a boolean");
}

TEST_CASE("publish endpoints must be tcp:// or ipc://, non-empty and distinct", "[config][values]") {
  CHECK(config_of(k_bot + "[publish]\nendpoints = [\"ipc:///run/relay.sock\", \"tcp://*:5556\"]\n")
            .publish.endpoints == std::vector<std::string>{"ipc:///run/relay.sock", "tcp://*:5556"});
  CHECK(error_of(k_bot + "[publish]\nendpoints = []\n") ==
        "relay.toml:6: publish.endpoints: must list at least one endpoint");
  CHECK(error_of(k_bot + "[publish]\nendpoints = [\"tcp://\"]\n") ==
        "relay.toml:6: publish.endpoints: \"tcp://\" is not a tcp:// or ipc:// endpoint");
  CHECK(error_of(k_bot + "[publish]\nendpoints = [\"inproc://x\"]\n") ==
        "relay.toml:6: publish.endpoints: \"inproc://x\" is not a tcp:// or ipc:// endpoint");
  CHECK(error_of(k_bot + "[publish]\nendpoints = [\"tcp://*:1\", \"tcp://*:1\"]\n") ==
        "relay.toml:6: publish.endpoints: \"tcp://*:1\" is listed twice");
  CHECK(error_of(k_bot + "[publish]\nendpoints = [\"tcp://*:1\", 5]\n") ==
        "relay.toml:6: publish.endpoints: expected an array of strings, got an integer in it");
}

TEST_CASE("URLs must be http:// or https://, api_base loses its trailing slash", "[config][values]") {
  CHECK(
      config_of(k_bot + "[gateway]\napi_base = \"https://sandbox.api.sgroup.qq.com/\"\n").gateway.api_base ==
      "https://sandbox.api.sgroup.qq.com");
  CHECK(config_of(k_bot + "[gateway]\napi_base = \"http://127.0.0.1:8080//\"\n").gateway.api_base ==
        "http://127.0.0.1:8080");
  CHECK(error_of(k_bot + "[gateway]\napi_base = \"ftp://example.com\"\n") ==
        "relay.toml:6: gateway.api_base: \"ftp://example.com\" is not an http:// or https:// URL");
  CHECK(error_of(k_bot + "[gateway]\napi_base = \"https://\"\n") ==
        "relay.toml:6: gateway.api_base: \"https://\" is not an http:// or https:// URL");
  CHECK(error_of(k_bot + "[gateway]\ntoken_url = \"bots.qq.com/app/getAppAccessToken\"\n") ==
        "relay.toml:6: gateway.token_url: \"bots.qq.com/app/getAppAccessToken\" is not an http:// or "
        "https:// URL");
}

TEST_CASE("numeric limits are range-checked", "[config][values]") {
  CHECK(config_of(k_bot + "[gateway]\nmax_frame_bytes = 1024\n").gateway.max_frame_bytes == 1024u);
  CHECK(config_of(k_bot + "[gateway]\nmax_frame_bytes = 67108864\n").gateway.max_frame_bytes == 67108864u);
  CHECK(error_of(k_bot + "[gateway]\nmax_frame_bytes = 1023\n") ==
        "relay.toml:6: gateway.max_frame_bytes: expected an integer from 1024 to 67108864, got 1023");
  CHECK(config_of(k_bot + "[gateway]\nidentify_window_ms = 10\n").gateway.identify_window_ms == 10u);
  CHECK(error_of(k_bot + "[gateway]\nidentify_window_ms = 60001\n") ==
        "relay.toml:6: gateway.identify_window_ms: expected an integer from 10 to 60000, got 60001");
  CHECK(config_of(k_bot + "[publish]\nsndhwm = 0\n").publish.sndhwm == 0);
  CHECK(config_of(k_bot + "[publish]\nsndhwm = 10000000\n").publish.sndhwm == 10000000);
  CHECK(error_of(k_bot + "[publish]\nsndhwm = -1\n") ==
        "relay.toml:6: publish.sndhwm: expected an integer from 0 to 10000000, got -1");
}

TEST_CASE("log level is one of spdlog's names", "[config][values]") {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    CHECK(config_of(k_bot + "[log]\nlevel = \"" + level + "\"\n").log.level == level);
  }
  CHECK(error_of(k_bot + "[log]\nlevel = \"warning\"\n") ==
        "relay.toml:6: log.level: unknown level \"warning\" (did you mean \"warn\"?)");
  CHECK(error_of(k_bot + "[log]\nlevel = \"INFO\"\n") ==
        "relay.toml:6: log.level: unknown level \"INFO\" (did you mean \"info\"?)");
}

TEST_CASE("strings that must say something cannot be empty", "[config][values]") {
  CHECK(error_of("[bot]\napp_id = \"\"\nclient_secret = \"change-me\"\nintents = [\"GUILDS\"]\n") ==
        "relay.toml:2: bot.app_id: must not be empty");
  CHECK(error_of(k_bot + "[state]\ndirectory = \"\"\n") ==
        "relay.toml:6: state.directory: must not be empty");
  // An empty topic prefix is the default and means "no prefix".
  CHECK(config_of(k_bot + "[publish]\ntopic_prefix = \"\"\n").publish.topic_prefix.empty());
}

TEST_CASE("values are quoted safely in messages", "[config][values]") {
  CHECK(error_of(k_bot + "[log]\nlevel = \"a\\\"b\\nc\"\n") ==
        "relay.toml:6: log.level: unknown level \"a\\\"b\\x0ac\" (expected trace, debug, info, warn, error, "
        "critical or off)");
}

TEST_CASE("inline tables and dotted keys are accepted like headers", "[config][values]") {
  const Config config = config_of(
      "bot = { app_id = \"102000000\", client_secret = \"change-me\", intents = 1 }\n"
      "gateway.shards = 2\n");
  CHECK(config.bot.intents == 1u);
  CHECK(config.gateway.shards == 2u);
}

TEST_CASE("summary is one line with the essentials", "[config][summary]") {
  Config config = config_of(
      "[bot]\napp_id = \"102000000\"\nclient_secret = \"change-me\"\n"
      "intents = [\"GUILDS\", \"PUBLIC_GUILD_MESSAGES\"]\n");
  CHECK(relay::config::summary(config) ==
        "config ok: app_id=102000000 auth=access-token intents=GUILDS|PUBLIC_GUILD_MESSAGES (1073741825) "
        "shards=auto endpoints=tcp://127.0.0.1:5555 state=/var/lib/qq-gateway-relay");

  config = config_of(
      "[bot]\napp_id = \"7\"\ntoken = \"t\"\nintents = 3\n"
      "[gateway]\nenabled = false\nshards = 2\n"
      "[publish]\nendpoints = [\"tcp://*:1\", \"ipc:///tmp/x\"]\n[state]\ndirectory = \"/s\"\n");
  CHECK(relay::config::summary(config) ==
        "config ok: app_id=7 auth=static-token intents=GUILDS|GUILD_MEMBERS (3) shards=2 gateway=disabled "
        "endpoints=tcp://*:1,ipc:///tmp/x state=/s");
}

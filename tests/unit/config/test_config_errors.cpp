// Every error kind, asserted verbatim: operators see these messages, so their wording is part of the
// interface.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "config/loader.hpp"
#include "config_test_support.hpp"

namespace {

using relay::config::ConfigError;

using relay::test::error_of;

}  // namespace

TEST_CASE("a syntax error names the line and keeps toml++'s description", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"\n") ==
        "relay.toml:4: syntax error: Error while parsing array: encountered end-of-file");
  CHECK(error_of("[bot]\napp_id = \n") ==
        "relay.toml:2: syntax error: Error while parsing key-value pair: expected value, saw '\\n'");
}

TEST_CASE("an unknown key suggests the closest known key", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "\n"
                 "[gateway]\n"
                 "shard = 2\n") == "relay.toml:7: gateway.shard: unknown key (did you mean gateway.shards?)");
}

TEST_CASE("an unknown key without a close match gets no suggestion", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[gateway]\n"
                 "frobnicate = true\n") == "relay.toml:6: gateway.frobnicate: unknown key");
}

TEST_CASE("a misspelt required key is reported as a typo, not as missing", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "App_ID = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n") ==
        "relay.toml:2: bot.App_ID: unknown key (did you mean bot.app_id?)");
}

TEST_CASE("a key from another section points to where it belongs", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[gateway]\n"
                 "level = \"debug\"\n") ==
        "relay.toml:6: gateway.level: unknown key (did you mean log.level?)");
  CHECK(error_of("app_id = \"102000000\"\n") ==
        "relay.toml:1: app_id: unknown key (did you mean bot.app_id?)");
  CHECK(error_of("colour = \"blue\"\n") == "relay.toml:1: colour: unknown key");
}

TEST_CASE("an unknown section suggests the closest known section", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "\n"
                 "[gateway]\n"
                 "shards = 2\n"
                 "\n"
                 "[gatway]\n"
                 "shards = 2\n") == "relay.toml:9: [gatway]: unknown section (did you mean [gateway]?)");
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[telemetry]\n") == "relay.toml:5: [telemetry]: unknown section");
}

TEST_CASE("a section that is not a table is a type error", "[config][errors]") {
  CHECK(error_of("log = \"debug\"\n") == "relay.toml:1: [log]: expected a table, got a string");
}

TEST_CASE("a value of the wrong type names both types", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "app_id = 102000000\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n") ==
        "relay.toml:2: bot.app_id: expected a string, got an integer");
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[gateway]\n"
                 "enabled = \"yes\"\n") == "relay.toml:6: gateway.enabled: expected a boolean, got a string");
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[publish]\n"
                 "sndhwm = 1.5\n") == "relay.toml:6: publish.sndhwm: expected an integer, got a float");
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[publish]\n"
                 "endpoints = \"tcp://127.0.0.1:5555\"\n") ==
        "relay.toml:6: publish.endpoints: expected an array of strings, got a string");
}

TEST_CASE("a bad value says what is wrong with it", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILD\"]\n") ==
        "relay.toml:4: bot.intents: unknown intent \"GUILD\" (did you mean \"GUILDS\"?)");
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[gateway]\n"
                 "shards = 0\n") ==
        "relay.toml:6: gateway.shards: expected \"auto\" or an integer from 1 to 4096, got 0");
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[publish]\n"
                 "endpoints = [\"http://x\"]\n") ==
        "relay.toml:6: publish.endpoints: \"http://x\" is not a tcp:// or ipc:// endpoint");
  CHECK(error_of("[bot]\n"
                 "app_id = \"10200a000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n") ==
        "relay.toml:2: bot.app_id: expected a string of digits, got \"10200a000\"");
}

TEST_CASE("an error in a multi-line array points at the element", "[config][errors]") {
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\n"
                 "  \"GUILDS\",\n"
                 "  \"PUBLIC_GUILD_MESAGES\",\n"
                 "]\n") ==
        "relay.toml:6: bot.intents: unknown intent \"PUBLIC_GUILD_MESAGES\" (did you mean "
        "\"PUBLIC_GUILD_MESSAGES\"?)");
}

TEST_CASE("a missing required key points at its section header, or line 1", "[config][errors]") {
  CHECK(error_of("") == "relay.toml:1: bot.app_id: required key is missing");
  CHECK(error_of("[log]\nlevel = \"info\"\n") == "relay.toml:1: bot.app_id: required key is missing");
  CHECK(error_of("# relay\n"
                 "\n"
                 "[bot]\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n") == "relay.toml:3: bot.app_id: required key is missing");
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n") == "relay.toml:1: bot.intents: required key is missing");
}

TEST_CASE("the first error in file order is reported, whatever the key order", "[config][errors]") {
  // toml++ iterates keys sorted by name ("bot" < "log"), so file order has to be restored explicitly.
  CHECK(error_of("[log]\n"
                 "level = \"loud\"\n"
                 "[bot]\n"
                 "app_id = 1\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n") ==
        "relay.toml:2: log.level: unknown level \"loud\" (expected trace, debug, info, warn, error, critical "
        "or "
        "off)");
  CHECK(error_of("[bot]\n"
                 "intents = [\"GUILDZ\"]\n"
                 "app_id = \"x\"\n"
                 "client_secret = \"change-me\"\n") ==
        "relay.toml:2: bot.intents: unknown intent \"GUILDZ\" (did you mean \"GUILDS\"?)");
  CHECK(error_of("[bot]\n"
                 "app_id = \"102000000\"\n"
                 "client_secret = \"change-me\"\n"
                 "intents = [\"GUILDS\"]\n"
                 "[gateway]\n"
                 "zzz = 1\n"
                 "aaa = 1\n") == "relay.toml:6: gateway.zzz: unknown key");
}

TEST_CASE("an unreadable file reports the path and the system error", "[config][errors]") {
  const std::string missing = std::string(RELAY_TEST_DATA_DIR) + "/config/does-not-exist.toml";
  auto result = relay::config::load_file(missing);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message == missing + ": cannot read: No such file or directory");

  const std::string directory = std::string(RELAY_TEST_DATA_DIR) + "/config";
  result = relay::config::load_file(directory);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message == directory + ": cannot read: Is a directory");
}

TEST_CASE("errors from a file carry the file's path", "[config][errors]") {
  const std::string path = std::string(RELAY_TEST_DATA_DIR) + "/config/unknown_section.toml";
  auto result = relay::config::load_file(path);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message == path + ":8: [gatway]: unknown section (did you mean [gateway]?)");
}

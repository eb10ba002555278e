// The shipped example and the reference must keep up with the key table.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.hpp"
#include "config/reload.hpp"
#include "protocol/intents.hpp"

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(const std::string& line) {
  const auto begin = line.find_first_not_of(" \t");
  if (begin == std::string::npos) {
    return {};
  }
  return line.substr(begin, line.find_last_not_of(" \t\r") - begin + 1);
}

// True when the example has `key = ...` (active or commented out with "# ") inside [section].
bool example_has(const std::string& example, const std::string& section, const std::string& key) {
  std::istringstream lines(example);
  std::string line;
  bool in_section = false;
  while (std::getline(lines, line)) {
    line = trim(line);
    if (line.starts_with("[")) {
      in_section = line == "[" + section + "]";
      continue;
    }
    if (line.starts_with("#")) {
      line = trim(line.substr(1));
    }
    if (in_section && line.starts_with(key) && trim(line.substr(key.size())).starts_with("=")) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("the example config loads as shipped", "[config][docs]") {
  // The example names client_secret inline, so a CREDENTIALS_DIRECTORY in the environment does not matter.
  const std::string path = std::string(RELAY_SOURCE_DIR) + "/config/relay.example.toml";
  auto result = relay::config::load_file(path);
  if (!result) {
    FAIL(result.error().message);
  }
  const relay::config::Config& config = *result;
  CHECK(relay::config::summary(config) ==
        "config ok: app_id=102000000 auth=access-token "
        "intents=GUILDS|GROUP_AND_C2C_EVENT|PUBLIC_GUILD_MESSAGES "
        "(1107296257) shards=auto endpoints=tcp://127.0.0.1:5555 state=/var/lib/qq-gateway-relay");
}

TEST_CASE("every key is in the example config", "[config][docs]") {
  const std::string example = read_text(std::string(RELAY_SOURCE_DIR) + "/config/relay.example.toml");
  for (const std::string& name : relay::config::known_keys()) {
    const auto dot = name.find('.');
    INFO(name);
    CHECK(example_has(example, name.substr(0, dot), name.substr(dot + 1)));
  }
}

TEST_CASE("every key is in the configuration reference", "[config][docs]") {
  const std::string reference = read_text(std::string(RELAY_SOURCE_DIR) + "/docs/configuration.md");
  for (const std::string& name : relay::config::known_keys()) {
    INFO(name);
    CHECK(reference.find("`" + name + "`") != std::string::npos);
  }
}

TEST_CASE("known_keys lists section.key names in table order", "[config][docs]") {
  const auto keys = relay::config::known_keys();
  REQUIRE(keys.size() >= 15);
  CHECK(keys.front() == "bot.app_id");
  CHECK(keys.back() == "log.format");
}

TEST_CASE("every intent name is in the configuration reference", "[config][docs]") {
  const std::string reference = read_text(std::string(RELAY_SOURCE_DIR) + "/docs/configuration.md");
  for (const auto& intent : relay::protocol::intent_table()) {
    INFO(intent.name);
    CHECK(reference.find("`" + std::string(intent.name) + "`") != std::string::npos);
  }
}

TEST_CASE("the reference's \"change needs\" column says which keys apply on SIGHUP", "[config][docs]") {
  const std::string reference = read_text(std::string(RELAY_SOURCE_DIR) + "/docs/configuration.md");
  for (const std::string& name : relay::config::known_keys()) {
    INFO(name);
    const auto row = reference.find("| `" + name + "` |");
    REQUIRE(row != std::string::npos);
    const auto line_end = reference.find('\n', row);
    const std::string line = reference.substr(row, line_end - row);
    const auto last_cell = line.rfind('|', line.size() - 2);
    const std::string change = trim(line.substr(last_cell + 1, line.size() - last_cell - 2));
    CHECK(change.starts_with("reload") == relay::config::applies_on_reload(name));
  }
}

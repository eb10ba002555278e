// Credential sources, their conflicts, and the guarantee that secrets never reach a message.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "config/loader.hpp"
#include "config_test_support.hpp"

namespace {

using relay::config::AuthMode;
using relay::config::Config;
using relay::config::ConfigError;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "relay-config-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    m_path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& content) const {
    const std::filesystem::path file = m_path / name;
    std::ofstream(file) << content;
    return file.string();
  }
  std::string path() const { return m_path.string(); }

 private:
  std::filesystem::path m_path;
};

using relay::test::config_of;
using relay::test::error_of;
using relay::test::ScopedEnv;

std::string bot_with(const std::string& credentials) {
  return "[bot]\napp_id = \"102000000\"\n" + credentials + "intents = [\"GUILDS\"]\n";
}

}  // namespace

TEST_CASE("an inline client_secret selects access-token auth", "[config][credentials]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const Config config = config_of(bot_with("client_secret = \"inline-secret\"\n"));
  CHECK(config.bot.auth == AuthMode::AccessToken);
  CHECK(config.bot.client_secret == "inline-secret");
  CHECK(config.bot.token.empty());
}

TEST_CASE("a token selects the legacy static-token auth", "[config][credentials]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const Config config = config_of(bot_with("token = \"static-token\"\n"));
  CHECK(config.bot.auth == AuthMode::StaticToken);
  CHECK(config.bot.token == "static-token");
  CHECK(config.bot.client_secret.empty());
}

TEST_CASE("client_secret_file is read, trailing whitespace trimmed", "[config][credentials]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string file = dir.write("secret", "from-file secret\r\n\n");
  const Config config = config_of(bot_with("client_secret_file = \"" + file + "\"\n"));
  CHECK(config.bot.auth == AuthMode::AccessToken);
  CHECK(config.bot.client_secret == "from-file secret");
}

TEST_CASE("a relative client_secret_file is relative to the config file", "[config][credentials]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  auto result = relay::config::load_file(std::string(RELAY_TEST_DATA_DIR) + "/config/with_secret_file.toml");
  if (!result) {
    FAIL(result.error().message);
  }
  CHECK(result->bot.client_secret == "secret-from-data-dir");
}

TEST_CASE("a missing or empty client_secret_file is an error naming the path", "[config][credentials]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string missing = dir.path() + "/nope";
  CHECK(error_of(bot_with("client_secret_file = \"" + missing + "\"\n")) ==
        "relay.toml:3: bot.client_secret_file: cannot read \"" + missing + "\": No such file or directory");
  const std::string empty = dir.write("empty", "\n");
  CHECK(error_of(bot_with("client_secret_file = \"" + empty + "\"\n")) ==
        "relay.toml:3: bot.client_secret_file: \"" + empty + "\" is empty");
}

TEST_CASE("the systemd credential is the fallback when the file names no source", "[config][credentials]") {
  const TempDir dir;
  dir.write("client_secret", "from-systemd\n");
  const ScopedEnv credentials("CREDENTIALS_DIRECTORY", dir.path().c_str());

  const Config config = config_of(bot_with(""));
  CHECK(config.bot.auth == AuthMode::AccessToken);
  CHECK(config.bot.client_secret == "from-systemd");

  // An explicit source in the file wins over the credential.
  CHECK(config_of(bot_with("client_secret = \"inline\"\n")).bot.client_secret == "inline");
  CHECK(config_of(bot_with("token = \"t\"\n")).bot.auth == AuthMode::StaticToken);
}

TEST_CASE("an empty systemd credential is an error", "[config][credentials]") {
  const TempDir dir;
  dir.write("client_secret", "");
  const ScopedEnv credentials("CREDENTIALS_DIRECTORY", dir.path().c_str());
  CHECK(error_of(bot_with("")) ==
        "relay.toml:1: bot.client_secret: systemd credential: \"" + dir.path() + "/client_secret\" is empty");
}

TEST_CASE("no credential at all is an error", "[config][credentials]") {
  const std::string required =
      "relay.toml:1: bot.client_secret: required (or client_secret_file, token, or a systemd credential "
      "named "
      "client_secret)";
  {
    const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    CHECK(error_of(bot_with("")) == required);
  }
  {
    // A credentials directory without our credential (another service's, say) is not a source.
    const TempDir dir;
    const ScopedEnv credentials("CREDENTIALS_DIRECTORY", dir.path().c_str());
    CHECK(error_of(bot_with("")) == required);
  }
}

TEST_CASE("two credential sources conflict, the later one is blamed", "[config][credentials]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  CHECK(error_of(bot_with("client_secret = \"a\"\ntoken = \"b\"\n")) ==
        "relay.toml:4: bot.token: conflicts with bot.client_secret (set only one of client_secret, "
        "client_secret_file or token)");
  CHECK(error_of(bot_with("token = \"b\"\nclient_secret = \"a\"\n")) ==
        "relay.toml:4: bot.client_secret: conflicts with bot.token (set only one of client_secret, "
        "client_secret_file or token)");
  CHECK(error_of(bot_with("client_secret_file = \"/x\"\nclient_secret = \"a\"\n")) ==
        "relay.toml:4: bot.client_secret: conflicts with bot.client_secret_file (set only one of "
        "client_secret, "
        "client_secret_file or token)");
}

TEST_CASE("empty secrets are rejected", "[config][credentials]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  CHECK(error_of(bot_with("client_secret = \"\"\n")) == "relay.toml:3: bot.client_secret: must not be empty");
  CHECK(error_of(bot_with("token = \"\"\n")) == "relay.toml:3: bot.token: must not be empty");
}

TEST_CASE("secrets never appear in error messages or the summary", "[config][credentials][secrets]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const std::string secret = "Zq7-SECRET-do-not-print-4e1f";
  const std::string numeric_secret = "98765432109876543210987";  // too big for TOML's 64-bit integers
  const TempDir dir;
  const std::string secret_file = dir.write("secret", secret + "\n");

  const std::vector<std::string> bad_configs{
      // Conflicts mention the other key, not its value.
      bot_with("client_secret = \"" + secret + "\"\ntoken = \"" + secret + "\"\n"),
      bot_with("token = \"" + secret + "\"\nclient_secret = \"" + secret + "\"\n"),
      bot_with("client_secret_file = \"" + secret_file + "\"\ntoken = \"" + secret + "\"\n"),
      // Some other key is wrong while a secret is set.
      bot_with("client_secret = \"" + secret + "\"\n") + "[log]\nlevel = \"" + secret.substr(0, 3) + "\"\n",
      bot_with("client_secret = \"" + secret + "\"\n") + "[gateway]\nshards = 0\n",
      // Syntax errors on the secret's own line; toml++ likes to quote the offending text.
      bot_with("client_secret = \"" + secret + "\n"),
      bot_with("client_secret = " + secret + "\n"),
      bot_with("token = " + numeric_secret + "\n"),
      bot_with("bot.token = " + numeric_secret + "\n"),
      "bot = { app_id = \"1\", token = " + numeric_secret + " }\n",
      bot_with("token = \"" + secret + "\\q\"\n"),
      bot_with("client_secret = '''" + secret + "\n"),
      // A misspelt secret key inside [bot] is still treated as secret.
      bot_with("client_secrt = " + numeric_secret + "\n"),
      // Wrong type: the message says "an integer", not which one.
      bot_with("token = " + numeric_secret.substr(0, 15) + "\n"),
  };
  for (const std::string& text : bad_configs) {
    INFO(text);
    const std::string message = error_of(text);
    INFO(message);
    CHECK(message.find(secret) == std::string::npos);
    CHECK(message.find(secret.substr(0, 10)) == std::string::npos);
    CHECK(message.find(numeric_secret.substr(0, 10)) == std::string::npos);
  }

  // The syntax error keeps its shape; only the quoted text goes.
  CHECK(error_of(bot_with("token = " + numeric_secret + "\n")) ==
        "relay.toml:3: syntax error: Error while parsing decimal integer: '<redacted>' is not representable "
        "in 64 "
        "bits");

  // Key names are not secret and stay, so a duplicate key is still named.
  CHECK(error_of(bot_with("token = \"" + secret + "\"\ntoken = \"" + secret + "\"\n")) ==
        "relay.toml:4: syntax error: Error while parsing key-value pair: cannot redefine existing string "
        "'token'");

  for (const std::string& text :
       {bot_with("client_secret = \"" + secret + "\"\n"), bot_with("token = \"" + secret + "\"\n"),
        bot_with("client_secret_file = \"" + secret_file + "\"\n")}) {
    const std::string line = relay::config::summary(config_of(text));
    CHECK(line.find(secret) == std::string::npos);
    CHECK(line.find(secret_file) == std::string::npos);
  }
}

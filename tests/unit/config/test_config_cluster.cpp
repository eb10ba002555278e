// [cluster]: defaults, every validation error with its line, the Redis password's three sources and their
// conflicts, the gateway.shards rule, and that the password never reaches a message or the summary.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <climits>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../support/temp_dir.hpp"
#include "config/loader.hpp"
#include "config/reload.hpp"
#include "config_test_support.hpp"

namespace {

using relay::config::Config;
using relay::test::config_of;
using relay::test::error_of;
using relay::test::ScopedEnv;
using relay::test::TempDir;

// Lines 1 to 6; [cluster] is line 7, so its first key is on line 8.
constexpr std::string_view k_head =
    "[bot]\napp_id = \"102000000\"\nclient_secret = \"x\"\nintents = 1\n[gateway]\nshards = 2\n";

std::string with_cluster(const std::string& keys) {
  return std::string(k_head) + "[cluster]\n" + keys;
}

// A file in `dir`, for password files and credentials directories.
std::string write(const TempDir& dir, const std::string& name, const std::string& content) {
  const std::filesystem::path file = dir.path / name;
  std::ofstream(file) << content;
  return file.string();
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  REQUIRE(::gethostname(name, sizeof name - 1) == 0);
  return name;
}

}  // namespace

TEST_CASE("cluster keys left out take their defaults", "[config][cluster]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const Config config = config_of(k_head);
  const auto& cluster = config.cluster;
  CHECK_FALSE(cluster.enabled);
  CHECK(cluster.redis == "redis://127.0.0.1:6379/0");
  CHECK(cluster.redis_url.host == "127.0.0.1");
  CHECK(cluster.redis_url.port == 6379);
  CHECK(cluster.redis_url.db == 0);
  CHECK(cluster.redis_url.password.empty());
  CHECK(cluster.password_file.empty());
  CHECK(cluster.node == host_name());
  CHECK(cluster.lease_ms == 10000);
  CHECK(cluster.key_prefix == "qq-relay:");
  CHECK(cluster.dedupe_ms == 600000);
  // Enabled with everything else left out: the same defaults.
  const Config enabled = config_of(with_cluster("enabled = true\n"));
  CHECK(enabled.cluster.enabled);
  CHECK(enabled.cluster.node == host_name());
  CHECK(enabled.cluster.redis_url.host == "127.0.0.1");
  CHECK(enabled.cluster.redis_url.password.empty());
}

TEST_CASE("every cluster key can be set", "[config][cluster]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const Config config = config_of(with_cluster(
      "enabled = true\nredis = \"redis://[::1]:6380/3\"\nnode = \"relay-1.b_2\"\nlease_ms = 1000\n"
      "key_prefix = \"bot7:\"\ndedupe_ms = 86400000\n"));
  const auto& cluster = config.cluster;
  CHECK(cluster.enabled);
  CHECK(cluster.redis == "redis://[::1]:6380/3");
  CHECK(cluster.redis_url.host == "::1");
  CHECK(cluster.redis_url.port == 6380);
  CHECK(cluster.redis_url.db == 3);
  CHECK(cluster.node == "relay-1.b_2");
  CHECK(cluster.lease_ms == 1000);
  CHECK(cluster.key_prefix == "bot7:");
  CHECK(cluster.dedupe_ms == 86400000);

  const Config upper = config_of(
      with_cluster("lease_ms = 600000\ndedupe_ms = 1000\nnode = \"" + std::string(64, 'n') + "\"\n"));
  CHECK(upper.cluster.lease_ms == 600000);
  CHECK(upper.cluster.dedupe_ms == 1000);
  CHECK(upper.cluster.node == std::string(64, 'n'));
}

TEST_CASE("cluster.redis is a redis:// URL, and rediss:// is refused", "[config][cluster][errors]") {
  CHECK(error_of(with_cluster("enabled = false\nredis = \"rediss://h:6380\"\n")) ==
        "relay.toml:9: cluster.redis: rediss:// is not supported: TLS needs hiredis >= 1.0, which Debian 12 "
        "does not have");
  CHECK(error_of(with_cluster("redis = \"http://h\"\n")) ==
        "relay.toml:8: cluster.redis: a Redis URL starts with redis://");
  CHECK(error_of(with_cluster("redis = \"redis://h:0\"\n")) ==
        "relay.toml:8: cluster.redis: the port in a Redis URL is 1..65535");
  CHECK(error_of(with_cluster("redis = \"redis://h/x\"\n")) ==
        "relay.toml:8: cluster.redis: the database in a Redis URL is a number (redis://host:port/db)");
  CHECK(error_of(with_cluster("redis = 6379\n")) ==
        "relay.toml:8: cluster.redis: expected a string, got an integer");
}

TEST_CASE("cluster.node is 1 to 64 of A-Z a-z 0-9 . _ -", "[config][cluster][errors]") {
  const std::string rule = "relay.toml:8: cluster.node: expected 1 to 64 of A-Z a-z 0-9 . _ -, got ";
  CHECK(error_of(with_cluster("node = \"\"\n")) == rule + "\"\"");
  CHECK(error_of(with_cluster("node = \"relay 1\"\n")) == rule + "\"relay 1\"");
  CHECK(error_of(with_cluster("node = \"relay/1\"\n")) == rule + "\"relay/1\"");
  CHECK(error_of(with_cluster("node = \"r:1\"\n")) == rule + "\"r:1\"");
  const std::string long_name(65, 'n');
  CHECK(error_of(with_cluster("node = \"" + long_name + "\"\n")) == rule + "\"" + long_name + "\"");
}

TEST_CASE("cluster durations are range-checked", "[config][cluster][errors]") {
  CHECK(error_of(with_cluster("lease_ms = 999\n")) ==
        "relay.toml:8: cluster.lease_ms: expected an integer from 1000 to 600000, got 999");
  CHECK(error_of(with_cluster("lease_ms = 600001\n")) ==
        "relay.toml:8: cluster.lease_ms: expected an integer from 1000 to 600000, got 600001");
  CHECK(error_of(with_cluster("enabled = true\ndedupe_ms = 999\n")) ==
        "relay.toml:9: cluster.dedupe_ms: expected an integer from 1000 to 86400000, got 999");
  CHECK(error_of(with_cluster("dedupe_ms = 86400001\n")) ==
        "relay.toml:8: cluster.dedupe_ms: expected an integer from 1000 to 86400000, got 86400001");
  CHECK(error_of(with_cluster("lease_ms = \"10s\"\n")) ==
        "relay.toml:8: cluster.lease_ms: expected an integer, got a string");
}

TEST_CASE("cluster.key_prefix is non-empty, without spaces or control characters",
          "[config][cluster][errors]") {
  CHECK(error_of(with_cluster("key_prefix = \"\"\n")) ==
        "relay.toml:8: cluster.key_prefix: must not be empty");
  CHECK(error_of(with_cluster("key_prefix = \"qq relay:\"\n")) ==
        "relay.toml:8: cluster.key_prefix: expected no spaces or control characters, got \"qq relay:\"");
  CHECK(error_of(with_cluster("key_prefix = \"qq\\trelay:\"\n")) ==
        "relay.toml:8: cluster.key_prefix: expected no spaces or control characters, got \"qq\\x09relay:\"");
  CHECK(error_of(with_cluster("key_prefix = \"qq\\u007f\"\n")) ==
        "relay.toml:8: cluster.key_prefix: expected no spaces or control characters, got \"qq\\x7f\"");
}

TEST_CASE("cluster.enabled with the gateway needs gateway.shards set to a number",
          "[config][cluster][errors]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const std::string bot = "[bot]\napp_id = \"1\"\nclient_secret = \"x\"\nintents = 1\n";
  const std::string needs =
      ": cluster.enabled: needs gateway.shards set to a number, not \"auto\": set gateway.shards to the same "
      "value on every relay (shard leases are keyed by [index, count])";
  // Left out, and written as "auto": the error points at cluster.enabled's line.
  CHECK(error_of(bot + "[cluster]\nnode = \"a\"\nenabled = true\n") == "relay.toml:7" + needs);
  CHECK(error_of(bot + "[gateway]\nshards = \"auto\"\n[cluster]\nenabled = true\n") ==
        "relay.toml:8" + needs);
  // A number, the gateway off, or the cluster off: fine.
  CHECK(config_of(bot + "[gateway]\nshards = 4\n[cluster]\nenabled = true\n").gateway.shards == 4u);
  CHECK(config_of(bot + "[gateway]\nenabled = false\n[cluster]\nenabled = true\n").cluster.enabled);
  CHECK_FALSE(config_of(bot + "[cluster]\nenabled = false\n").cluster.enabled);
}

TEST_CASE("the Redis password comes from the URL", "[config][cluster][password]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const Config config =
      config_of(with_cluster("enabled = true\nredis = \"redis://:pa:ss@redis.lan:7000/2\"\n"));
  CHECK(config.cluster.redis_url.password == "pa:ss");
  CHECK(config.cluster.redis_url.host == "redis.lan");
  CHECK(config.cluster.redis == "redis://:***@redis.lan:7000/2");
}

TEST_CASE("cluster.password_file is read, trailing whitespace trimmed, relative to the config",
          "[config][cluster][password]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string file = write(dir, "redis-password", "from file\r\n\n");
  CHECK(config_of(with_cluster("enabled = true\npassword_file = \"" + file + "\"\n"))
            .cluster.redis_url.password == "from file");
  const Config relative = config_of(with_cluster("enabled = true\npassword_file = \"redis-password\"\n"),
                                    dir.path.string() + "/relay.toml");
  CHECK(relative.cluster.redis_url.password == "from file");
  CHECK(relative.cluster.password_file == "redis-password");
  // Not read while the cluster is off, so a staged config with a file still to come loads.
  CHECK(config_of(with_cluster("password_file = \"" + dir.path.string() + "/nope\"\n"))
            .cluster.redis_url.password.empty());
}

TEST_CASE("a missing or empty cluster.password_file is an error naming the path",
          "[config][cluster][password]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string missing = dir.path.string() + "/nope";
  CHECK(error_of(with_cluster("enabled = true\npassword_file = \"" + missing + "\"\n")) ==
        "relay.toml:9: cluster.password_file: cannot read \"" + missing + "\": No such file or directory");
  const std::string empty = write(dir, "empty", " \n");
  CHECK(error_of(with_cluster("enabled = true\npassword_file = \"" + empty + "\"\n")) ==
        "relay.toml:9: cluster.password_file: \"" + empty + "\" is empty");
  CHECK(error_of(with_cluster("password_file = \"\"\n")) ==
        "relay.toml:8: cluster.password_file: must not be empty");
}

TEST_CASE("the systemd credential redis_password is used when no password_file is set",
          "[config][cluster][password]") {
  const TempDir credentials;
  write(credentials, "redis_password", "from-systemd\n");
  const ScopedEnv env("CREDENTIALS_DIRECTORY", credentials.path.string().c_str());
  CHECK(config_of(with_cluster("enabled = true\n")).cluster.redis_url.password == "from-systemd");

  // password_file wins over the credential.
  const TempDir dir;
  const std::string file = write(dir, "redis-password", "from-file\n");
  CHECK(config_of(with_cluster("enabled = true\npassword_file = \"" + file + "\"\n"))
            .cluster.redis_url.password == "from-file");
  // Not read while the cluster is off.
  CHECK(config_of(with_cluster("enabled = false\n")).cluster.redis_url.password.empty());
}

TEST_CASE("a credentials directory without redis_password gives no password", "[config][cluster][password]") {
  const TempDir credentials;
  write(credentials, "client_secret", "for the bot\n");
  const ScopedEnv env("CREDENTIALS_DIRECTORY", credentials.path.string().c_str());
  CHECK(config_of(with_cluster("enabled = true\n")).cluster.redis_url.password.empty());
}

TEST_CASE("an empty redis_password credential is an error", "[config][cluster][password]") {
  const TempDir credentials;
  write(credentials, "redis_password", "\n");
  const ScopedEnv env("CREDENTIALS_DIRECTORY", credentials.path.string().c_str());
  CHECK(error_of(with_cluster("enabled = true\n")) ==
        "relay.toml:7: cluster.password_file: systemd credential: \"" + credentials.path.string() +
            "/redis_password\" is empty");
}

TEST_CASE("a Redis password given two ways is an error naming both", "[config][cluster][password]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string file = write(dir, "redis-password", "from-file\n");
  const std::string url = "redis = \"redis://:in-url@h\"\n";
  const std::string password_file = "password_file = \"" + file + "\"\n";
  CHECK(error_of(with_cluster("enabled = true\n" + url + password_file)) ==
        "relay.toml:10: cluster.password_file: conflicts with the password in cluster.redis (give the Redis "
        "password one way only)");
  CHECK(
      error_of(with_cluster("enabled = true\n" + password_file + url)) ==
      "relay.toml:10: cluster.redis: has a password, and cluster.password_file gives one too (give the Redis "
      "password one way only)");

  const TempDir credentials;
  write(credentials, "redis_password", "from-systemd\n");
  const ScopedEnv env("CREDENTIALS_DIRECTORY", credentials.path.string().c_str());
  CHECK(
      error_of(with_cluster("enabled = true\n" + url)) ==
      "relay.toml:9: cluster.redis: has a password, and the systemd credential redis_password gives one too "
      "(give the Redis password one way only)");
}

TEST_CASE("the Redis password never appears in a message, the summary or the reload record",
          "[config][cluster][secrets]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const std::string password = "Rq9-REDIS-do-not-print-77a";
  const TempDir dir;
  const std::string file = write(dir, "redis-password", password + "\n");
  const std::string url = "redis = \"redis://:" + password + "@redis.lan:6379/1\"\n";

  const std::vector<std::string> bad_configs{
      // The URL is wrong elsewhere: the message says what, without the URL.
      with_cluster("redis = \"redis://:" + password + "@redis.lan:0\"\n"),
      with_cluster("redis = \"redis://:" + password + "@redis.lan:6379/x\"\n"),
      with_cluster("redis = \"redis://:" + password + "@\"\n"),
      with_cluster("redis = \"rediss://:" + password + "@redis.lan\"\n"),
      with_cluster("redis = \"redis://:" + password + "@redis lan\"\n"),
      // Two ways.
      with_cluster("enabled = true\n" + url + "password_file = \"" + file + "\"\n"),
      // Another key is wrong while the URL holds the password.
      with_cluster(url + "lease_ms = 1\n"),
      // Syntax errors on the URL's line.
      with_cluster("redis = \"redis://:" + password + "@redis.lan\n"),
      with_cluster("redis = redis://:" + password + "@redis.lan\n"),
  };
  for (const std::string& text : bad_configs) {
    INFO(text);
    const std::string message = error_of(text);
    INFO(message);
    CHECK(message.find(password.substr(0, 10)) == std::string::npos);
  }

  for (const std::string& text : {with_cluster("enabled = true\n" + url),
                                  with_cluster("enabled = true\npassword_file = \"" + file + "\"\n")}) {
    INFO(text);
    const Config config = config_of(text);
    REQUIRE(config.cluster.redis_url.password == password);
    const std::string line = relay::config::summary(config);
    INFO(line);
    CHECK(line.find(password.substr(0, 10)) == std::string::npos);
    CHECK(line.find(" cluster=" + config.cluster.node + " redis=redis://") != std::string::npos);
    CHECK(config.cluster.redis.find(password.substr(0, 10)) == std::string::npos);
    for (const auto& [key, written] : config.written) {
      CHECK(written.find(password.substr(0, 10)) == std::string::npos);
    }
  }
  CHECK(relay::config::summary(config_of(with_cluster("enabled = true\n" + url)))
            .ends_with(" redis=redis://:***@redis.lan:6379/1"));
}

TEST_CASE("the summary names the cluster only when it is enabled", "[config][cluster]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  CHECK(relay::config::summary(config_of(with_cluster("node = \"n1\"\n"))).find("cluster") ==
        std::string::npos);
  CHECK(relay::config::summary(config_of(with_cluster("enabled = true\nnode = \"n1\"\n")))
            .ends_with(" cluster=n1 redis=redis://127.0.0.1:6379/0"));
}

TEST_CASE("no cluster key applies on SIGHUP", "[config][cluster][reload]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string file = write(dir, "redis-password", "one\n");
  const std::string before_text =
      with_cluster("enabled = true\npassword_file = \"" + file + "\"\nnode = \"a\"\n");
  const Config before = config_of(before_text);
  const std::string other_file = write(dir, "other-password", "one\n");
  const Config changed =
      config_of(with_cluster("enabled = false\nredis = \"redis://h\"\npassword_file = \"" + other_file +
                             "\"\nnode = \"b\"\nlease_ms = 2000\nkey_prefix = \"x:\"\ndedupe_ms = 2000\n"));
  const auto plan = relay::config::plan_reload(before, changed);
  CHECK(plan.live.empty());
  CHECK(plan.need_restart ==
        std::vector<std::string>{"cluster.enabled", "cluster.redis", "cluster.password_file", "cluster.node",
                                 "cluster.lease_ms", "cluster.key_prefix", "cluster.dedupe_ms"});
  for (const std::string& name : plan.need_restart) {
    CHECK_FALSE(relay::config::applies_on_reload(name));
  }
  // The file's content is part of password_file's value.
  write(dir, "redis-password", "two\n");
  CHECK(relay::config::plan_reload(before, config_of(before_text)).need_restart ==
        std::vector<std::string>{"cluster.password_file"});
}

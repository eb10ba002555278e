// The [webhook] section: values, defaults, and errors that name the file, the line and the key.
#include <catch2/catch.hpp>
#include <string>

#include "config/loader.hpp"
#include "config_test_support.hpp"

namespace {

using relay::config::Config;

const std::string k_bot =
    "[bot]\n"
    "app_id = \"102000000\"\n"
    "client_secret = \"change-me\"\n"
    "intents = [\"GUILDS\"]\n";

// An absolute path, so that relative key files resolve to a known directory.
const std::string k_path = "/etc/relay/relay.toml";

std::string error_of(const std::string& text) {
  return relay::test::error_of(text, k_path);
}

Config config_of(const std::string& text) {
  return relay::test::config_of(text, k_path);
}

}  // namespace

TEST_CASE("webhook defaults: off, loopback port 8080, /qq/webhook", "[config][webhook]") {
  const Config config = config_of(k_bot);
  CHECK_FALSE(config.webhook.enabled);
  CHECK(config.webhook.host == "127.0.0.1");
  CHECK(config.webhook.port == 8080);
  CHECK(config.webhook.path == "/qq/webhook");
  CHECK(config.webhook.max_body == 1048576);
  CHECK(config.webhook.max_clock_skew == 300);
}

TEST_CASE("webhook listen takes IPv4, IPv6 in brackets and host names", "[config][webhook]") {
  CHECK(config_of(k_bot + "[webhook]\nlisten = \"[::]:8443\"\n").webhook.host == "::");
  CHECK(config_of(k_bot + "[webhook]\nlisten = \"[::1]:8443\"\n").webhook.port == 8443);
  CHECK(config_of(k_bot + "[webhook]\nlisten = \"localhost:80\"\n").webhook.host == "localhost");
  CHECK(error_of(k_bot + "[webhook]\nenabled = true\nlisten = \"8080\"\n") ==
        "/etc/relay/relay.toml:7: webhook.listen: expected \"address:port\" (e.g. \"127.0.0.1:8080\" or "
        "\"[::]:8443\"), got \"8080\"");
  CHECK(error_of(k_bot + "[webhook]\nlisten = \"::1:8080\"\n").find("webhook.listen: expected") !=
        std::string::npos);
  CHECK(error_of(k_bot + "[webhook]\nlisten = \"127.0.0.1:70000\"\n").find("webhook.listen") !=
        std::string::npos);
}

TEST_CASE("webhook path, body limit and clock skew are checked", "[config][webhook]") {
  CHECK(error_of(k_bot + "[webhook]\npath = \"qq\"\n") ==
        "/etc/relay/relay.toml:6: webhook.path: expected an absolute URL path such as \"/qq/webhook\", got "
        "\"qq\"");
  CHECK(error_of(k_bot + "[webhook]\nmax_body = 10\n").find("/etc/relay/relay.toml:6: webhook.max_body:") ==
        0);
  CHECK(error_of(k_bot + "[webhook]\nmax_clock_skew = 0\n")
            .find("/etc/relay/relay.toml:6: webhook.max_clock_skew:") == 0);
}

TEST_CASE("webhook TLS needs both files, readable", "[config][webhook]") {
  CHECK(error_of(k_bot + "[webhook]\ntls_cert = \"/etc/hostname\"\n") ==
        "/etc/relay/relay.toml:6: webhook.tls_cert: needs webhook.tls_key as well");
  CHECK(error_of(k_bot + "[webhook]\ntls_key = \"/etc/hostname\"\n") ==
        "/etc/relay/relay.toml:6: webhook.tls_key: needs webhook.tls_cert as well");
  CHECK(error_of(k_bot + "[webhook]\ntls_cert = \"/etc/hostname\"\ntls_key = \"missing.key\"\n") ==
        "/etc/relay/relay.toml:7: webhook.tls_key: cannot read \"/etc/relay/missing.key\"");
  const Config config =
      config_of(k_bot + "[webhook]\ntls_cert = \"/etc/hostname\"\ntls_key = \"/etc/hostname\"\n");
  CHECK(config.webhook.tls_cert == "/etc/hostname");
}

TEST_CASE("a webhook needs the AppSecret to check signatures", "[config][webhook]") {
  CHECK(error_of("[bot]\napp_id = \"1\"\ntoken = \"t\"\nintents = 1\n[webhook]\nenabled = true\n") ==
        "/etc/relay/relay.toml:6: webhook.enabled: webhook signatures need the AppSecret: set "
        "bot.client_secret "
        "(or client_secret_file) instead of bot.token");
}

TEST_CASE("connection caps: defaults, ranges, and metrics.max_connections in any order with listen",
          "[config][webhook][metrics]") {
  const Config defaults = config_of(k_bot);
  CHECK(defaults.webhook.max_connections == 256);
  CHECK(defaults.metrics.max_connections == 16);
  CHECK(config_of(k_bot + "[webhook]\nmax_connections = 1\n").webhook.max_connections == 1);
  CHECK(error_of(k_bot + "[webhook]\nmax_connections = 0\n")
            .find("/etc/relay/relay.toml:6: webhook.max_connections:") == 0);
  CHECK(error_of(k_bot + "[webhook]\nmax_connections = 65537\n").find("webhook.max_connections:") !=
        std::string::npos);
  CHECK(error_of(k_bot + "[metrics]\nmax_connections = 1025\n")
            .find("/etc/relay/relay.toml:6: metrics.max_connections:") == 0);
  const Config before = config_of(k_bot + "[metrics]\nmax_connections = 3\nlisten = \"127.0.0.1:9464\"\n");
  CHECK(before.metrics.max_connections == 3);
  CHECK(before.metrics.port == 9464);
  const Config after = config_of(k_bot + "[metrics]\nlisten = \"[::1]:9464\"\nmax_connections = 4\n");
  CHECK(after.metrics.max_connections == 4);
  CHECK(after.metrics.host == "::1");
}

// The [api] section: defaults, the clients file read at load time, and errors that name the file, the line
// and the key.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "../support/temp_dir.hpp"
#include "config/loader.hpp"
#include "config_test_support.hpp"

namespace {

using relay::config::Config;

const std::string k_bot =
    "[bot]\n"
    "app_id = \"102000000\"\n"
    "client_secret = \"change-me\"\n"
    "intents = [\"GUILDS\"]\n";

}  // namespace

TEST_CASE("api defaults: off, loopback port 8081, 16 MiB bodies, 64 in flight", "[config][api]") {
  const Config config = relay::test::config_of(k_bot, "/etc/relay/relay.toml");
  CHECK_FALSE(config.api.enabled);
  CHECK(config.api.host == "127.0.0.1");
  CHECK(config.api.port == 8081);
  CHECK(config.api.max_body == 16777216);
  CHECK(config.api.upstream_timeout == 30);
  CHECK(config.api.request_timeout == 30);
  CHECK(config.api.max_in_flight == 64);
  CHECK(config.api.max_queued == 1024);
  CHECK(config.api.clients.empty());
  CHECK(config.api.public_url.empty());
  CHECK(config.api.gateway_shards == 1);
  CHECK(config.api.heartbeat_interval == 41250);
  CHECK(config.api.max_client_buffer == 8388608);
  CHECK(config.api.request_timeout == 30);
}

TEST_CASE("api.request_timeout: 1 to 300 seconds", "[config][api]") {
  CHECK(relay::test::config_of(k_bot + "[api]\nrequest_timeout = 1\n", "/etc/relay/relay.toml")
            .api.request_timeout == 1);
  CHECK(relay::test::config_of(k_bot + "[api]\nrequest_timeout = 300\n", "/etc/relay/relay.toml")
            .api.request_timeout == 300);
  CHECK(relay::test::error_of(k_bot + "[api]\nrequest_timeout = 0\n", "/etc/relay/relay.toml")
            .find("/etc/relay/relay.toml:6: api.request_timeout:") == 0);
  CHECK(relay::test::error_of(k_bot + "[api]\nrequest_timeout = 301\n", "/etc/relay/relay.toml")
            .find("api.request_timeout:") != std::string::npos);
}

TEST_CASE("the served gateway's keys are read and checked", "[config][api]") {
  const Config config = relay::test::config_of(k_bot +
                                               "[api]\npublic_url = \"https://relay.example.com\"\n"
                                               "gateway_shards = 4\nheartbeat_interval = 5000\n"
                                               "max_client_buffer = 65536\n");
  CHECK(config.api.public_url == "https://relay.example.com");
  CHECK(config.api.gateway_shards == 4);
  CHECK(config.api.heartbeat_interval == 5000);
  CHECK(config.api.max_client_buffer == 65536);
  CHECK(relay::test::error_of(k_bot + "[api]\npublic_url = \"relay.example.com\"\n")
            .find(":6: api.public_url: must be") != std::string::npos);
  CHECK(relay::test::error_of(k_bot + "[api]\npublic_url = \"https://\"\n").find(":6: api.public_url:") !=
        std::string::npos);
  CHECK(relay::test::error_of(k_bot + "[api]\ngateway_shards = 0\n").find(":6: api.gateway_shards:") !=
        std::string::npos);
  CHECK(relay::test::error_of(k_bot + "[api]\nheartbeat_interval = 999\n")
            .find(":6: api.heartbeat_interval:") != std::string::npos);
  CHECK(relay::test::error_of(k_bot + "[api]\nmax_client_buffer = 1\n").find(":6: api.max_client_buffer:") !=
        std::string::npos);
}

TEST_CASE("an enabled api reads its clients file, relative to the config file", "[config][api]") {
  relay::test::TempDir dir;
  const std::string key(40, 'k');
  std::ofstream(dir.path / "clients") << "# local bots\necho " << key << "\n";
  const std::string path = (dir.path / "relay.toml").string();
  const Config config = relay::test::config_of(
      k_bot + "[api]\nenabled = true\nlisten = \"[::1]:9000\"\nclients_file = \"clients\"\n", path);
  CHECK(config.api.enabled);
  CHECK(config.api.host == "::1");
  CHECK(config.api.clients_file == (dir.path / "clients").string());
  REQUIRE(config.api.clients.size() == 1);
  CHECK(config.api.clients[0].name == "echo");
}

TEST_CASE("api mistakes name the file, the line and the key, and never quote a client key", "[config][api]") {
  relay::test::TempDir dir;
  const std::string path = (dir.path / "relay.toml").string();
  const auto error_of = [&](const std::string& text) { return relay::test::error_of(text, path); };
  CHECK(
      error_of(k_bot + "[api]\nenabled = true\n") ==
      path +
          ":6: api.clients_file: is required with api.enabled: the local clients allowed to call the OpenAPI "
          "(`qq-gateway-relay api-key NAME` makes a line)");
  CHECK(error_of(k_bot + "[api]\nenabled = true\nclients_file = \"missing\"\n") ==
        path + ":7: api.clients_file: " + (dir.path / "missing").string() + ": cannot be read");
  std::ofstream(dir.path / "bad") << "echo " << std::string(40, 'k') << "\nshort tooshort-secret-value\n";
  const std::string bad = error_of(k_bot + "[api]\nenabled = true\nclients_file = \"bad\"\n");
  CHECK(bad.starts_with(path + ":7: api.clients_file: " + (dir.path / "bad").string() +
                        ":2: client short: a key"));
  CHECK(bad.find("tooshort") == std::string::npos);
  std::ofstream(dir.path / "ok") << "echo " << std::string(40, 'k') << "\n";
  CHECK(error_of(k_bot + "[webhook]\nenabled = true\nlisten = \"127.0.0.1:8081\"\n[api]\nenabled = true\n"
                         "clients_file = \"ok\"\n") ==
        path + ":9: api.listen: is the same address as webhook.listen; each listener needs its own port");
  CHECK(error_of("[bot]\napp_id = \"1\"\ntoken = \"t\"\nintents = [\"GUILDS\"]\n[api]\nenabled = true\n")
            .find("api.enabled: forwarding needs access tokens") != std::string::npos);
  CHECK(error_of(k_bot + "[api]\nmax_in_flight = 0\n").find(":6: api.max_in_flight:") != std::string::npos);
  CHECK(error_of(k_bot + "[api]\nmax_body = 10\n").find(":6: api.max_body:") != std::string::npos);
}

TEST_CASE("api TLS needs both files, readable, relative to the config file", "[config][api]") {
  relay::test::TempDir dir;
  const std::string path = (dir.path / "relay.toml").string();
  std::ofstream(dir.path / "api.crt") << "cert";
  std::ofstream(dir.path / "api.key") << "key";
  CHECK(relay::test::error_of(k_bot + "[api]\ntls_cert = \"api.crt\"\n", path) ==
        path + ":6: api.tls_cert: needs api.tls_key as well");
  CHECK(relay::test::error_of(k_bot + "[api]\ntls_cert = \"api.crt\"\ntls_key = \"none.key\"\n", path) ==
        path + ":7: api.tls_key: cannot read \"" + (dir.path / "none.key").string() + "\"");
  const Config config =
      relay::test::config_of(k_bot + "[api]\ntls_cert = \"api.crt\"\ntls_key = \"api.key\"\n", path);
  CHECK(config.api.tls_cert == (dir.path / "api.crt").string());
  CHECK(config.api.tls_key == (dir.path / "api.key").string());
}

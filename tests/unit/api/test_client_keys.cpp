#include <string>

#include <catch2/catch.hpp>

#include "api/client_keys.hpp"

using relay::api::generate_client_key;
using relay::api::parse_client_keys;

namespace {
const std::string k_key_a(32, 'a');
const std::string k_key_b = "0123456789abcdefghijklmnopqrstuvwxyz";
}  // namespace

TEST_CASE("a clients file lists name and key per line, with comments and blank lines") {
  const auto clients = parse_client_keys(
      "# bots on this host\n\necho-bot " + k_key_a + "\r\n  reporter\t" + k_key_b + "  \n", "c");
  REQUIRE(clients);
  REQUIRE(clients->size() == 2);
  CHECK(clients->at(0).name == "echo-bot");
  CHECK(clients->at(0).key == k_key_a);
  CHECK(clients->at(1).name == "reporter");
  CHECK(clients->at(1).key == k_key_b);
  CHECK(parse_client_keys("", "c")->empty());
}

TEST_CASE("a mistake in the clients file names the line and never quotes the key") {
  const auto error_of = [](const std::string& text) {
    const auto parsed = parse_client_keys(text, "/etc/qq/clients");
    REQUIRE_FALSE(parsed);
    return parsed.error();
  };
  CHECK(error_of("\nlonely\n") == "/etc/qq/clients:2: expected `name key`, found one word");
  CHECK(error_of("bad/name " + k_key_a).starts_with("/etc/qq/clients:1: a client name is"));
  const std::string short_key = error_of("bot shortkey");
  CHECK(short_key.starts_with("/etc/qq/clients:1: client bot: a key is at least 32"));
  CHECK(short_key.find("shortkey") == std::string::npos);
  CHECK(error_of("bot " + k_key_a + " extra").find("more after the key") != std::string::npos);
  CHECK(error_of("a " + k_key_a + "\na " + k_key_b) == "/etc/qq/clients:2: client a is listed twice");
  CHECK(error_of("a " + k_key_a + "\nb " + k_key_a) ==
        "/etc/qq/clients:2: client b has the same key as an earlier client");
  CHECK(error_of("bot " + std::string(31, 'x') + "\x7f").find(":1: client bot: a key") != std::string::npos);
  // Key and name swapped: the key is in the name's place, and is never shown.
  const std::string swapped = error_of(k_key_a + " bot");
  CHECK(swapped.starts_with("/etc/qq/clients:1: the client: a key is at least 32"));
  CHECK(swapped.find(k_key_a) == std::string::npos);
}

TEST_CASE("a missing clients file is an error, not an empty list") {
  const auto parsed = relay::api::read_client_keys("/nonexistent/clients");
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error() == "/nonexistent/clients: cannot be read");
}

TEST_CASE("generated keys are 43 URL-safe characters, different each time, and pass the check") {
  const std::string first = generate_client_key();
  const std::string second = generate_client_key();
  CHECK(first.size() == 43);
  CHECK(first != second);
  CHECK(first.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  CHECK(parse_client_keys("bot " + first, "c"));
}

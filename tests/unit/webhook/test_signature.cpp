#include <fstream>
#include <sstream>

#include <simdjson.h>
#include <catch2/catch.hpp>

#include "webhook/signature.hpp"

using relay::webhook::seed_from_secret;
using relay::webhook::SignatureError;
using relay::webhook::WebhookKey;

namespace {

simdjson::dom::element load(simdjson::dom::parser& parser, const std::string& name) {
  return parser.load(std::string(RELAY_TEST_DATA_DIR) + "/fixtures/" + name);
}

std::string hex(const std::array<std::uint8_t, 32>& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto byte : bytes) {
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("every signature vector verifies as the fixture expects") {
  simdjson::dom::parser parser;
  const auto fixture = load(parser, "webhook_signature_vector.json");
  int checked = 0;
  for (simdjson::dom::element vector : fixture["vectors"].get_array()) {
    const std::string_view name = vector["name"].get_string();
    INFO(name);
    const std::string_view secret = vector["secret"].get_string();
    const std::string_view seed = vector["seed"].get_string();
    const auto derived = seed_from_secret(secret);
    REQUIRE(std::string_view(reinterpret_cast<const char*>(derived.data()), derived.size()) == seed);
    const auto key = WebhookKey::from_secret(secret);
    REQUIRE(key);
    REQUIRE(hex(key->public_key()) == std::string_view(vector["public_key_hex"].get_string()));
    const std::string_view timestamp = vector["headers"]["X-Signature-Timestamp"].get_string();
    const std::string_view signature = vector["headers"]["X-Signature-Ed25519"].get_string();
    const std::string_view body = vector["body"].get_string();
    const bool expected = vector["expected_valid"].get_bool();
    const auto result = key->verify(signature, timestamp, body);
    REQUIRE(result == (expected ? SignatureError::none : SignatureError::mismatch));
    ++checked;
  }
  REQUIRE(checked == 3);
}

TEST_CASE("the validation vector signs event_ts followed by plain_token") {
  simdjson::dom::parser parser;
  const auto fixture = load(parser, "webhook_validation_vector.json");
  const auto key = WebhookKey::from_secret(std::string_view(fixture["secret"].get_string()));
  REQUIRE(key);
  REQUIRE(hex(key->public_key()) == std::string_view(fixture["public_key_hex"].get_string()));
  const std::string_view expected = fixture["expected_response"]["signature"].get_string();
  REQUIRE(key->sign_hex("1725442341", "Arq0D5A61EgUu4OxUvOp") == expected);
  REQUIRE(key->verify(expected, "1725442341", "Arq0D5A61EgUu4OxUvOp") == SignatureError::none);
}

TEST_CASE("malformed signature headers are told apart from wrong signatures") {
  const auto key = WebhookKey::from_secret("123456abcdef");
  const std::string good = key->sign_hex("1728981195", "{}");
  REQUIRE(key->verify(good, "1728981195", "{}") == SignatureError::none);
  std::string upper = good;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  REQUIRE(key->verify(upper, "1728981195", "{}") == SignatureError::none);
  REQUIRE(key->verify(good, "1728981196", "{}") == SignatureError::mismatch);
  REQUIRE(key->verify(good, "1728981195", "{} ") == SignatureError::mismatch);
  REQUIRE(key->verify("", "1728981195", "{}") == SignatureError::malformed);
  REQUIRE(key->verify(good.substr(2), "1728981195", "{}") == SignatureError::malformed);
  REQUIRE(key->verify(good + "00", "1728981195", "{}") == SignatureError::malformed);
  std::string not_hex = good;
  not_hex[10] = 'g';
  REQUIRE(key->verify(not_hex, "1728981195", "{}") == SignatureError::malformed);
  // S with any of its top three bits set is not canonical, whatever the rest says.
  std::string high_s = good;
  high_s[126] = 'e';
  REQUIRE(key->verify(high_s, "1728981195", "{}") == SignatureError::malformed);
}

TEST_CASE("secrets of any length give a 32-byte seed, an empty secret gives no key") {
  REQUIRE_FALSE(WebhookKey::from_secret(""));
  const auto short_seed = seed_from_secret("ab");
  REQUIRE(std::string(short_seed.begin(), short_seed.end()) == "abababababababababababababababab");
  const std::string longer(40, 'z');
  const auto long_seed = seed_from_secret(longer + "tail");
  REQUIRE(std::string(long_seed.begin(), long_seed.end()) == std::string(32, 'z'));
}

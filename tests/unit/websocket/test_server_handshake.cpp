// The server's side of the opening handshake (RFC 6455 section 4.2), over requests as the HTTP server has
// parsed them.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "websocket/handshake.hpp"
#include "websocket/server_handshake.hpp"

using namespace relay::websocket;

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view k_rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";

// The handshake of RFC 6455 section 1.2, as a browser sends it today.
Fields browser_fields(std::string_view key = k_rfc_key) {
  return {{"host", "relay.example:8081"},
          {"connection", "keep-alive, Upgrade"},
          {"upgrade", "websocket"},
          {"origin", "http://example.com"},
          {"sec-websocket-version", "13"},
          {"sec-websocket-key", std::string(key)},
          {"sec-websocket-extensions", "permessage-deflate; client_max_window_bits"},
          {"sec-websocket-protocol", "chat, superchat"}};
}

UpgradeAnswer answer(const Fields& fields, std::string_view method = "GET", bool http_1_0 = false) {
  return answer_upgrade(ClientUpgrade{method, http_1_0, fields});
}

Fields without(Fields fields, std::string_view name) {
  std::erase_if(fields, [&](const auto& field) { return field.first == name; });
  return fields;
}

Fields with(Fields fields, std::string_view name, std::string_view value) {
  fields = without(std::move(fields), name);
  fields.emplace_back(name, value);
  return fields;
}

// `text`, a request as the relay's own client writes it, cut into the fields an HTTP server would parse.
Fields parse_fields(const std::string& text) {
  Fields fields;
  std::size_t at = text.find("\r\n") + 2;
  for (std::size_t end; (end = text.find("\r\n", at)) != at; at = end + 2) {
    const std::string line = text.substr(at, end - at);
    const std::size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    fields.emplace_back(name, line.substr(colon + 2));
  }
  return fields;
}

}  // namespace

TEST_CASE("RFC 6455's sample key is answered with its accept value, and nothing is chosen from the offers") {
  const UpgradeAnswer accepted = answer(browser_fields());
  REQUIRE(accepted.accepted);
  REQUIRE(accepted.response ==
          "HTTP/1.1 101 Switching Protocols\r\n"
          "Upgrade: websocket\r\n"
          "Connection: Upgrade\r\n"
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
          "\r\n");
  REQUIRE(accepted.status == 0);
  REQUIRE(accepted.headers.empty());
}

TEST_CASE("the upgrade tokens are found in any case, in comma lists and in repeated fields") {
  for (const Fields& fields : {
           with(browser_fields(), "upgrade", "WebSocket"),
           with(browser_fields(), "upgrade", "h2c, websocket"),
           with(browser_fields(), "connection", "upgrade"),
           with(browser_fields(), "connection", "UPGRADE,keep-alive"),
           with(with(browser_fields(), "connection", "keep-alive"), "connection", "Upgrade"),
           without(without(browser_fields(), "sec-websocket-extensions"), "sec-websocket-protocol"),
       }) {
    const UpgradeAnswer result = answer(fields);
    INFO(result.reason);
    REQUIRE(result.accepted);
  }
}

TEST_CASE("the relay's own client and the server handshake agree") {
  std::array<unsigned char, 16> nonce{};
  for (unsigned i = 0; i < nonce.size(); ++i) {
    nonce[i] = static_cast<unsigned char>(0xF0 + i);
  }
  const UpgradeRequest request = make_upgrade_request("127.0.0.1:8081", "/websocket", nonce);
  const UpgradeAnswer result = answer(parse_fields(request.text));
  REQUIRE(result.accepted);
  UpgradeResponse response(request.key);
  std::size_t used = 0;
  REQUIRE(response.feed(result.response.data(), result.response.size(), used) ==
          UpgradeResponse::Result::accepted);
  REQUIRE(used == result.response.size());
}

TEST_CASE("a malformed upgrade is refused with 400 and why") {
  const auto refusal = [](const UpgradeAnswer& result) {
    REQUIRE_FALSE(result.accepted);
    REQUIRE(result.response.empty());
    REQUIRE(result.status == 400);
    REQUIRE(result.headers.empty());
    return result.reason;
  };
  REQUIRE(refusal(answer(browser_fields(), "POST")) == "a WebSocket upgrade with method POST instead of GET");
  REQUIRE(refusal(answer(browser_fields(), "get")) == "a WebSocket upgrade with method get instead of GET");
  REQUIRE(refusal(answer(browser_fields(), "GET", true)) ==
          "a WebSocket upgrade over HTTP/1.0 (it needs HTTP/1.1)");
  REQUIRE(refusal(answer(without(browser_fields(), "upgrade"))) == "no Upgrade: websocket");
  REQUIRE(refusal(answer(with(browser_fields(), "upgrade", "h2c"))) == "no Upgrade: websocket");
  REQUIRE(refusal(answer(with(browser_fields(), "upgrade", "websockets"))) == "no Upgrade: websocket");
  REQUIRE(refusal(answer(without(browser_fields(), "connection"))) == "no Connection: Upgrade");
  REQUIRE(refusal(answer(with(browser_fields(), "connection", "keep-alive"))) == "no Connection: Upgrade");
  REQUIRE(refusal(answer(with(browser_fields(), "connection", "upgraded"))) == "no Connection: Upgrade");
  REQUIRE(refusal(answer(without(browser_fields(), "sec-websocket-key"))) == "no Sec-WebSocket-Key");
  Fields two_keys = browser_fields();
  two_keys.emplace_back("sec-websocket-key", k_rfc_key);
  REQUIRE(refusal(answer(two_keys)) == "more than one Sec-WebSocket-Key");
  for (const std::string_view key : {
           "",
           "dGhlIHNhbXBsZSBub25jZQ",      // no padding
           "dGhlIHNhbXBsZSBub25jZQ=",     // one '=' short
           "dGhlIHNhbXBsZSBub25j",        // 15 bytes
           "dGhlIHNhbXBsZSBub25jZQ==AA",  // more after the padding
           "dGhlIHNhbXBsZSBub25jZQ4=",    // 17 bytes
           "dGhlIHNhbXBsZSBub25jZQ4x",    // 18 bytes
           "dGhlIHNhbXBsZSBub25jZ-==",    // base64url, not base64
           "dGhlIHNhbXBsZ SBub25jZ==",    // a space inside
       }) {
    INFO(key);
    REQUIRE(refusal(answer(with(browser_fields(), "sec-websocket-key", key))) ==
            "a Sec-WebSocket-Key that is not the base64 of 16 bytes");
  }
  REQUIRE(answer(with(browser_fields(), "sec-websocket-key", "AQIDBAUGBwgJCgsMDQ4PEA==")).accepted);
  REQUIRE(answer(with(browser_fields(), "sec-websocket-key", "+/+/+/+/+/+/+/+/+/+/+w==")).accepted);
}

TEST_CASE("a version other than 13 is refused with 426 and the version the relay speaks") {
  const auto upgrade_required = [](const Fields& fields) {
    const UpgradeAnswer result = answer(fields);
    REQUIRE_FALSE(result.accepted);
    REQUIRE(result.status == 426);
    REQUIRE(result.headers == Fields{{"Sec-WebSocket-Version", "13"}});
    return result.reason;
  };
  REQUIRE(upgrade_required(with(browser_fields(), "sec-websocket-version", "8")) ==
          "Sec-WebSocket-Version other than 13 (only 13 is spoken)");
  REQUIRE(upgrade_required(with(browser_fields(), "sec-websocket-version", "13, 8")) ==
          "Sec-WebSocket-Version other than 13 (only 13 is spoken)");
  REQUIRE(upgrade_required(without(browser_fields(), "sec-websocket-version")) == "no Sec-WebSocket-Version");
  Fields twice = browser_fields();
  twice.emplace_back("sec-websocket-version", "13");
  upgrade_required(twice);
}

TEST_CASE("a request asks for a WebSocket when its Upgrade lists websocket") {
  REQUIRE(asks_for_websocket(browser_fields()));
  REQUIRE(asks_for_websocket(Fields{{"upgrade", "WEBSOCKET"}}));
  REQUIRE(asks_for_websocket(Fields{{"upgrade", "h2c"}, {"upgrade", "foo, websocket"}}));
  REQUIRE_FALSE(asks_for_websocket(Fields{}));
  REQUIRE_FALSE(asks_for_websocket(Fields{{"upgrade", "h2c"}, {"connection", "Upgrade"}}));
  REQUIRE_FALSE(asks_for_websocket(Fields{{"x-upgrade", "websocket"}}));
}

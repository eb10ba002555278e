#include <catch2/catch.hpp>

#include "downstream/gateway_info.hpp"

using namespace relay::downstream;

TEST_CASE("the gateway URL is the one the client reached, or the public one") {
  CHECK(gateway_url("", "127.0.0.1:8081", false, "0.0.0.0:8081") == "ws://127.0.0.1:8081/websocket");
  CHECK(gateway_url("", "[::1]:9000", true, "[::1]:9000") == "wss://[::1]:9000/websocket");
  CHECK(gateway_url("", "relay.lan", false, "10.0.0.1:80") == "ws://relay.lan/websocket");
  CHECK(gateway_url("", "", false, "127.0.0.1:8081") == "ws://127.0.0.1:8081/websocket");
  CHECK(gateway_url("", "evil\"/x", false, "127.0.0.1:8081") == "ws://127.0.0.1:8081/websocket");
  CHECK(gateway_url("https://relay.example.com/", "127.0.0.1:8081", false, "") ==
        "wss://relay.example.com/websocket");
  CHECK(gateway_url("http://relay.example.com:8080", "x", true, "") ==
        "ws://relay.example.com:8080/websocket");
  CHECK(gateway_url("wss://relay.example.com", "x", false, "") == "wss://relay.example.com/websocket");
}

TEST_CASE("GET /gateway/bot never runs out of session starts") {
  CHECK(gateway_body("ws://h/websocket") == R"({"url":"ws://h/websocket"})");
  CHECK(gateway_bot_body("ws://h/websocket", 4) ==
        R"({"url":"ws://h/websocket","shards":4,"session_start_limit":{"total":1000000,"remaining":1000000,)"
        R"("reset_after":86400000,"max_concurrency":4}})");
}

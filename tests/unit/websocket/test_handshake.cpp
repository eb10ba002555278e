#include <catch2/catch.hpp>

#include "websocket/frame_writer.hpp"
#include "websocket/handshake.hpp"

using namespace relay::websocket;

namespace {

std::string response_for(const std::string& key, std::string_view status = "101 Switching Protocols",
                         std::string_view extra = "") {
  return "HTTP/1.1 " + std::string(status) +
         "\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: " +
         expected_accept(key) + "\r\n" + std::string(extra) + "\r\n";
}

}  // namespace

TEST_CASE("the accept value is the one of RFC 6455's example") {
  REQUIRE(expected_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("the upgrade request carries the host, the path and a base64 key of the nonce") {
  std::array<unsigned char, 16> nonce{};
  for (unsigned i = 0; i < nonce.size(); ++i) {
    nonce[i] = static_cast<unsigned char>(i + 1);
  }
  const UpgradeRequest request = make_upgrade_request("api.sgroup.qq.com", "/websocket", nonce);
  REQUIRE(request.key == "AQIDBAUGBwgJCgsMDQ4PEA==");
  REQUIRE(request.text.rfind("GET /websocket HTTP/1.1\r\nHost: api.sgroup.qq.com\r\n", 0) == 0);
  REQUIRE(request.text.find("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n") != std::string::npos);
  REQUIRE(request.text.find("\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n") != std::string::npos);
  REQUIRE(request.text.find("\r\nSec-WebSocket-Version: 13\r\n\r\n") != std::string::npos);
  REQUIRE(make_upgrade_request("h", "", nonce).text.rfind("GET / HTTP/1.1\r\n", 0) == 0);
}

TEST_CASE("a 101 response is accepted, and the bytes after it are left for the frames") {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  const std::string response = response_for(key);
  const std::string input = response + "\x81\x02hi";
  SECTION("in one piece") {
    UpgradeResponse reader(key);
    std::size_t used = 0;
    REQUIRE(reader.feed(input.data(), input.size(), used) == UpgradeResponse::Result::accepted);
    REQUIRE(used == response.size());
  }
  SECTION("a byte at a time") {
    UpgradeResponse reader(key);
    std::size_t total = 0;
    for (std::size_t i = 0; i < response.size(); ++i) {
      std::size_t used = 0;
      const auto result = reader.feed(input.data() + i, 1, used);
      REQUIRE(used == 1);
      total += used;
      REQUIRE(result == (i + 1 == response.size() ? UpgradeResponse::Result::accepted
                                                  : UpgradeResponse::Result::incomplete));
    }
    REQUIRE(total == response.size());
  }
}

TEST_CASE("an upgrade response that is not a valid 101 is refused with the reason") {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  const auto refusal = [&](const std::string& response) {
    UpgradeResponse reader(key);
    std::size_t used = 0;
    REQUIRE(reader.feed(response.data(), response.size(), used) == UpgradeResponse::Result::refused);
    return reader.error();
  };
  REQUIRE(refusal("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n") ==
          "HTTP 403 Forbidden instead of 101 Switching Protocols");
  REQUIRE(refusal(response_for("c29tZSBvdGhlciBrZXkgISE=")) ==
          "Sec-WebSocket-Accept does not match the key sent");
  REQUIRE(refusal("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " + expected_accept(key) +
                  "\r\n\r\n") == "101 without Upgrade: websocket and Connection: Upgrade");
  REQUIRE(refusal(response_for(key, "101 Switching Protocols",
                               "Sec-WebSocket-Extensions: permessage-deflate\r\n"))
              .find("extension that was not offered") != std::string::npos);
  REQUIRE(refusal("SSH-2.0-OpenSSH_9.2\r\n\r\n").rfind("not an HTTP response", 0) == 0);
  REQUIRE(refusal("HTTP/1.1 101 OK\r\n" + std::string(UpgradeResponse::k_max_bytes, 'x')) ==
          "the upgrade response's headers are larger than 16 KiB");
}

TEST_CASE("client frames are masked, with the shortest length encoding") {
  const std::array<unsigned char, 4> mask{0x12, 0x34, 0x56, 0x78};
  const auto unmasked_payload = [&](const std::string& frame, std::size_t header) {
    REQUIRE(frame.substr(header - 4, 4) == std::string(reinterpret_cast<const char*>(mask.data()), 4));
    std::string payload = frame.substr(header);
    for (std::size_t i = 0; i < payload.size(); ++i) {
      payload[i] = static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask[i % 4]);
    }
    return payload;
  };
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{125}, std::size_t{126}, std::size_t{65'535}, std::size_t{65'536}}) {
    const std::string payload(size, 'z');
    std::string frame;
    append_client_frame(frame, Opcode::text, payload, mask);
    const std::size_t header = size < 126 ? 6 : size <= 65'535 ? 8 : 14;
    INFO("payload of " << size);
    REQUIRE(frame.size() == header + size);
    REQUIRE(static_cast<unsigned char>(frame[0]) == 0x81);
    REQUIRE((static_cast<unsigned char>(frame[1]) & 0x80) == 0x80);
    REQUIRE(unmasked_payload(frame, header) == payload);
  }
  std::string close;
  append_client_frame(close, Opcode::close, close_payload(4000, std::string(200, 'r')), mask);
  REQUIRE(static_cast<unsigned char>(close[0]) == 0x88);
  REQUIRE(close.size() == 6 + 125);
  REQUIRE(unmasked_payload(close, 6).substr(0, 2) == "\x0f\xa0");
}

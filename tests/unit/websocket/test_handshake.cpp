#include <catch2/catch.hpp>

#include <vector>

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

TEST_CASE("the upgrade response must be exactly HTTP/1.1 101 with well-formed header lines") {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  const std::string accept = "Sec-WebSocket-Accept: " + expected_accept(key) + "\r\n";
  const std::string fields = "Upgrade: websocket\r\nConnection: Upgrade\r\n" + accept;
  const auto result = [&](const std::string& response, std::string* error = nullptr) {
    UpgradeResponse reader(key);
    std::size_t used = 0;
    const auto outcome = reader.feed(response.data(), response.size(), used);
    if (error) {
      *error = reader.error();
    }
    return outcome;
  };
  const auto refusal = [&](const std::string& response) {
    std::string error;
    REQUIRE(result(response, &error) == UpgradeResponse::Result::refused);
    return error;
  };
  using Result = UpgradeResponse::Result;
  SECTION("accepted: a reason of any printable text, or none after the space; optional whitespace") {
    REQUIRE(result("HTTP/1.1 101 Switching Protocols\r\n" + fields + "\r\n") == Result::accepted);
    REQUIRE(result("HTTP/1.1 101 \r\n" + fields + "\r\n") == Result::accepted);
    REQUIRE(result("HTTP/1.1 101 Web\tSocket \xE5\x8D\x8F\xE8\xAE\xAE\r\n" + fields + "\r\n") ==
            Result::accepted);
    REQUIRE(result("HTTP/1.1 101 OK\r\nUpgrade:websocket\r\nConnection: \t Upgrade \t\r\n" + accept +
                   "X-Custom!#$%&'*+-.^_`|~: v\r\nX-Empty:\r\n\r\n") == Result::accepted);
    REQUIRE(
        result("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n" +
               accept + "\r\n") == Result::accepted);
  }
  SECTION("the status line: HTTP/1.1, SP, exactly three digits, SP") {
    for (const std::string status :
         {"HTTP/1.1 1010 Switching\r\n", "HTTP/1.1 101\r\n", "HTTP/1.1  101 OK\r\n", "HTTP/1.1 10 OK\r\n",
          "HTTP/1.1 1O1 OK\r\n", "HTTP/1.1\t101 OK\r\n", "HTTP/11 101 OK\r\n", "http/1.1 101 OK\r\n",
          "HTTP/1.1 101 OK\x01\r\n", " HTTP/1.1 101 OK\r\n", "HTTP/1.1 101 O\nK\r\n"}) {
      INFO(status);
      REQUIRE(refusal(status + fields + "\r\n").rfind("not an HTTP response: ", 0) == 0);
    }
    REQUIRE(refusal("HTTP/1.0 101 Switching Protocols\r\n" + fields + "\r\n") ==
            "HTTP/1.0 101 (a WebSocket upgrade needs HTTP/1.1)");
    REQUIRE(refusal("HTTP/2.0 101 Switching Protocols\r\n" + fields + "\r\n") ==
            "HTTP/2.0 101 (a WebSocket upgrade needs HTTP/1.1)");
    REQUIRE(refusal("HTTP/1.1 100 Continue\r\n\r\n") ==
            "HTTP 100 Continue instead of 101 Switching Protocols");
  }
  SECTION("header lines: obs-fold, names that are not tokens, whitespace before the colon, no colon") {
    for (const std::string& line :
         std::vector<std::string>{" folded\r\n", "\tfolded\r\n", "Name : value\r\n", "Name\t: value\r\n",
                                  ": value\r\n", "no colon\r\n", "Na me: value\r\n", "Name(x): value\r\n",
                                  "N\xC3\xA4me: value\r\n", std::string("Name: va\0lue\r\n", 14),
                                  "Name: va\rlue\r\n", "Name: va\nlue\r\n", "Name: \x7F\r\n"}) {
      INFO(line);
      REQUIRE(refusal("HTTP/1.1 101 OK\r\n" + fields + line + "\r\n").find("in the upgrade response: ") !=
              std::string::npos);
      REQUIRE(refusal("HTTP/1.1 101 OK\r\n" + line + fields + "\r\n").find("in the upgrade response: ") !=
              std::string::npos);
    }
    // A folded Upgrade value would read as "websocket" to a client that unfolds; it is refused all the same.
    REQUIRE(result("HTTP/1.1 101 OK\r\nUpgrade:\r\n websocket\r\nConnection: Upgrade\r\n" + accept +
                   "\r\n") == Result::refused);
    REQUIRE(result("HTTP/1.1 101 OK\r\nUpgrade : websocket\r\nConnection: Upgrade\r\n" + accept + "\r\n") ==
            Result::refused);
  }
  SECTION("a subprotocol or an extension, never offered, and a second accept value") {
    REQUIRE(refusal("HTTP/1.1 101 OK\r\n" + fields + "Sec-WebSocket-Protocol: chat\r\n\r\n") ==
            "the server chose a subprotocol that was not offered: chat");
    REQUIRE(refusal("HTTP/1.1 101 OK\r\n" + fields + "sec-websocket-protocol:\r\n\r\n") ==
            "the server chose a subprotocol that was not offered: ");
    REQUIRE(refusal("HTTP/1.1 101 OK\r\n" + fields + "Sec-WebSocket-Extensions: \r\n\r\n") ==
            "the server chose an extension that was not offered: ");
    REQUIRE(refusal("HTTP/1.1 101 OK\r\n" + fields + accept + "\r\n") ==
            "more than one Sec-WebSocket-Accept");
  }
}

TEST_CASE("a close payload never carries a code invalid on the wire nor a reason that is not UTF-8") {
  REQUIRE(close_payload(4000, "bye") == std::string("\x0f\xa0"
                                                    "bye",
                                                    5));
  REQUIRE(close_payload(1005, "x").empty());
  REQUIRE(close_payload(1006, "x").empty());
  REQUIRE(close_payload(999, "").empty());
  REQUIRE(close_payload(1002, "bad \xFF") == std::string("\x03\xea", 2));
  // 122 ASCII bytes then a 3-byte character: the cut at 123 would split it, so the character goes.
  const std::string reason = std::string(122, 'r') + "\xE2\x9C\x93" + "tail";
  REQUIRE(close_payload(1000, reason) == std::string("\x03\xe8", 2) + std::string(122, 'r'));
  REQUIRE(close_payload(1000, std::string(120, 'r') + "\xE2\x9C\x93" + "tail").size() == 2 + 123);
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

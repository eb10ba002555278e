// The opening handshake of the gateway the relay serves to SDK bots: a request read by the [api] listener's
// reader (`http/request_reader`), then judged by `websocket/server_handshake`. No crash; an accepted upgrade
// is a GET over HTTP/1.1 with exactly one Sec-WebSocket-Key that is the base64 of 16 bytes, and its answer is
// a 101 whose Sec-WebSocket-Accept is computed here again with OpenSSL, whose lines are CRLF-terminated and
// carry no control characters, and which accepts no sub-protocol and no extension; a refusal is 400 or 426.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/request_reader.hpp"
#include "websocket/server_handshake.hpp"

namespace {

std::string expected_accept(std::string_view key) {
  const std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int length = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(length));
}

bool decodes_to_16_bytes(std::string_view key) {
  if (key.size() != 24 || !key.ends_with("==")) {
    return false;
  }
  unsigned char out[24];
  return EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(key.data()), 24) == 18;
}

void check_lines(std::string_view response) {
  FUZZ_CHECK(response.ends_with("\r\n\r\n"));
  for (std::size_t i = 0; i < response.size(); ++i) {
    const auto byte = static_cast<unsigned char>(response[i]);
    if (byte == '\r') {
      FUZZ_CHECK(i + 1 < response.size() && response[i + 1] == '\n');
    } else if (byte == '\n') {
      FUZZ_CHECK(i > 0 && response[i - 1] == '\r');
    } else {
      FUZZ_CHECK(byte >= 0x20 && byte != 0x7F);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  relay::http::RequestReader reader;
  reader.feed(std::string_view(reinterpret_cast<const char*>(data), size));
  if (reader.state() != relay::http::RequestReader::State::complete &&
      reader.state() != relay::http::RequestReader::State::body) {
    return 0;
  }
  const relay::http::ServerRequest& request = reader.request();
  const bool asks = relay::websocket::asks_for_websocket(request.headers);
  const auto answer = relay::websocket::answer_upgrade({request.method, request.http_1_0, request.headers});
  if (!answer.accepted) {
    FUZZ_CHECK(answer.status == 400 || answer.status == 426);
    FUZZ_CHECK(!answer.reason.empty());
    return 0;
  }
  FUZZ_CHECK(asks);
  FUZZ_CHECK(request.method == "GET" && !request.http_1_0);
  std::string key;
  int keys = 0;
  for (const auto& [name, value] : request.headers) {
    if (name == "sec-websocket-key") {
      key = value;
      ++keys;
    }
  }
  FUZZ_CHECK(keys == 1);
  FUZZ_CHECK(decodes_to_16_bytes(key));
  const std::string_view response = answer.response;
  FUZZ_CHECK(response.starts_with("HTTP/1.1 101 "));
  check_lines(response);
  FUZZ_CHECK(response.find("\r\nSec-WebSocket-Accept: " + expected_accept(key) + "\r\n") !=
             std::string::npos);
  FUZZ_CHECK(response.find("Sec-WebSocket-Protocol") == std::string::npos);
  FUZZ_CHECK(response.find("Sec-WebSocket-Extensions") == std::string::npos);
  return 0;
}

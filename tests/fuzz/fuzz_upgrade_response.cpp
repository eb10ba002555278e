// UpgradeResponse (the server's answer to the WebSocket upgrade): whatever the bytes, fed in one piece or cut
// anywhere, the parser reaches the same verdict with the same error, and on acceptance claims exactly the
// same bytes as the response (the rest are frames).
#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "split_input.hpp"
#include "websocket/handshake.hpp"

namespace {

using relay::websocket::UpgradeResponse;

// The key of the seed corpus's responses: their Sec-WebSocket-Accept is expected_accept of it.
constexpr std::string_view k_key = "dGhlIHNhbXBsZSBub25jZQ==";

struct Outcome {
  UpgradeResponse::Result result = UpgradeResponse::Result::incomplete;
  std::size_t consumed = 0;  // bytes of the input that belonged to the response, when accepted
  std::string error;
  int status = 0;
};

Outcome parse(const std::vector<std::string_view>& pieces, std::size_t total) {
  UpgradeResponse response{std::string(k_key)};
  Outcome outcome;
  std::size_t offset = 0;
  for (const std::string_view piece : pieces) {
    std::size_t used = 0;
    outcome.result = response.feed(piece.data(), piece.size(), used);
    FUZZ_CHECK(used <= piece.size());
    if (outcome.result != UpgradeResponse::Result::incomplete) {
      outcome.consumed = offset + used;
      break;
    }
    offset += piece.size();
  }
  FUZZ_CHECK(outcome.consumed <= total);
  FUZZ_CHECK(outcome.consumed <= UpgradeResponse::k_max_bytes);
  outcome.error = response.error();
  outcome.status = response.status();
  FUZZ_CHECK((outcome.result == UpgradeResponse::Result::refused) == !outcome.error.empty());
  if (outcome.result == UpgradeResponse::Result::accepted) {
    FUZZ_CHECK(outcome.status == 101);
  }
  // The error goes to the log: no control characters from the response in it.
  for (const char c : outcome.error) {
    FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const relay::fuzz::SplitInput input = relay::fuzz::split_input(data, size);
  const Outcome whole = parse({input.payload}, input.payload.size());
  const Outcome pieces = parse(input.pieces, input.payload.size());
  FUZZ_CHECK(whole.result == pieces.result);
  FUZZ_CHECK(whole.error == pieces.error);
  FUZZ_CHECK(whole.status == pieces.status);
  if (whole.result == UpgradeResponse::Result::accepted) {
    FUZZ_CHECK(whole.consumed == pieces.consumed);
    // The response ends with its blank line, is a 101 over HTTP/1.1, and every header line is "name:" with
    // no whitespace before the colon or at the start (obs-fold); nothing was negotiated that was not offered.
    const std::string_view head = input.payload.substr(0, whole.consumed);
    FUZZ_CHECK(head.ends_with("\r\n\r\n"));
    FUZZ_CHECK(head.starts_with("HTTP/1.1 101 "));
    std::string_view lines = head.substr(head.find("\r\n") + 2);
    lines.remove_suffix(2);
    while (!lines.empty()) {
      const std::string_view line = lines.substr(0, lines.find("\r\n"));
      lines.remove_prefix(line.size() + 2);
      const std::size_t colon = line.find(':');
      FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
      FUZZ_CHECK(line[0] != ' ' && line[0] != '\t' && line[colon - 1] != ' ' && line[colon - 1] != '\t');
      std::string name(line.substr(0, colon));
      for (char& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      FUZZ_CHECK(name != "sec-websocket-extensions" && name != "sec-websocket-protocol");
    }
  }
  return 0;
}

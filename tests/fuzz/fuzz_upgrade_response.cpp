// UpgradeResponse (the server's answer to the WebSocket upgrade): whatever the bytes, fed in one piece or cut
// anywhere, the parser reaches the same verdict with the same error, and on acceptance claims exactly the
// same bytes as the response (the rest are frames).
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
    // The response ends with its blank line.
    FUZZ_CHECK(input.payload.substr(0, whole.consumed).ends_with("\r\n\r\n"));
  }
  return 0;
}

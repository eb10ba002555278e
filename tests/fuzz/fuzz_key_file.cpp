// A CURVE key file (publish.curve_* files, read from disk at start): no crash; every key accepted is one that
// libzmq's own Z85 decoder turns into 32 bytes, and one per line that holds a key; an error names
// "path:line:" and never quotes a key (no word of the input as long as a key appears in it).
#include <zmq.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "util/key_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = relay::util::parse_key_file(text, "keys");
  if (!parsed) {
    FUZZ_CHECK(parsed.error().starts_with("keys:"));
    // A key holds no white space: no word of the input as long as a key appears in the message.
    relay::fuzz::for_each_word(text, [&](std::string_view word) {
      FUZZ_CHECK(word.size() < 40 || parsed.error().find(word) == std::string::npos);
    });
    return 0;
  }
  for (const std::string& key : *parsed) {
    FUZZ_CHECK(key.size() == 40);
    std::uint8_t decoded[32];
    FUZZ_CHECK(zmq_z85_decode(decoded, key.c_str()) != nullptr);
    FUZZ_CHECK(text.find(key) != std::string_view::npos);
  }
  return 0;
}

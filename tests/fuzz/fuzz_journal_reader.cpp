// decode_segment (the journal's segment files, read back at start): no crash whatever the bytes, and the
// records it hands over are exactly the input's leading bytes, record for record, as append_record writes
// them.
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "publish/journal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string rewritten;
  std::size_t records = 0;
  const bool intact =
      relay::publish::decode_segment(bytes, [&](const relay::publish::RetainedMessage& message) {
        FUZZ_CHECK(std::size_t{message.topic_size} + message.body_size <= message.frames.size());
        relay::publish::append_record(rewritten, message.relay_seq, message.topic(), message.body(),
                                      message.metadata());
        ++records;
      });
  FUZZ_CHECK(bytes.starts_with(rewritten));
  // An intact segment leaves at most a torn header behind; 28 bytes is a record header.
  if (intact) {
    FUZZ_CHECK(bytes.size() - rewritten.size() < 28);
  } else {
    FUZZ_CHECK(bytes.size() > rewritten.size());
  }
  FUZZ_CHECK(records <= bytes.size() / 28);
  return 0;
}

// ResponseReader (every byte the platform's API sends back to the forwarder): no crash, bounded, and the same
// answers and the same failure whether the bytes come at once or one at a time. The first byte, when odd,
// reads every answer as the answer to a HEAD.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "http/response_reader.hpp"

namespace {

struct Outcome {
  std::vector<std::string> answers;  // status, keep-alive, body of each complete answer
  std::string failure;
};

Outcome read_all(std::string_view bytes, std::size_t step, bool head) {
  relay::http::ResponseLimits limits;
  limits.max_head = 512;
  limits.max_body = 4096;
  relay::http::ResponseReader reader(limits);
  reader.reset(head);
  Outcome outcome;
  std::size_t used = 0;
  auto take_complete = [&] {
    FUZZ_CHECK(reader.body().size() <= limits.max_body);
    FUZZ_CHECK(reader.status() >= 200 && reader.status() <= 999);
    outcome.answers.push_back(std::to_string(reader.status()) + (reader.keep_alive() ? " k " : " c ") +
                              reader.body());
  };
  while (used < bytes.size()) {
    const std::size_t n = reader.feed(bytes.substr(used, std::min(step, bytes.size() - used)));
    used += n;
    if (reader.state() == relay::http::ResponseReader::State::complete) {
      take_complete();
      reader.reset(head);
    } else if (reader.state() == relay::http::ResponseReader::State::failed) {
      outcome.failure = reader.error();
      FUZZ_CHECK(!outcome.failure.empty());
      return outcome;
    } else if (n == 0) {
      FUZZ_CHECK(false);  // a reader that takes nothing and wants more would spin the connection
    }
  }
  if (reader.started()) {
    reader.end_of_stream();
    if (reader.state() == relay::http::ResponseReader::State::complete) {
      take_complete();
    } else {
      FUZZ_CHECK(reader.state() == relay::http::ResponseReader::State::failed);
      outcome.failure = reader.error();
    }
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool head = (data[0] & 1) != 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = read_all(bytes, bytes.size() + 1, head);
  const Outcome bytewise = read_all(bytes, 1, head);
  FUZZ_CHECK(whole.answers == bytewise.answers);
  FUZZ_CHECK(whole.failure == bytewise.failure);
  return 0;
}

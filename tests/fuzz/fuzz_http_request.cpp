// RequestReader (every byte a client sends to the relay's HTTP listeners): no crash, bounded, and the same
// requests and the same failure whether the bytes come at once or one at a time.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "http/request_reader.hpp"

namespace {

struct Outcome {
  std::vector<std::string> requests;  // method, target, body of each complete request
  int failure = 0;
};

Outcome read_all(std::string_view bytes, std::size_t step) {
  relay::http::ReaderLimits limits;
  limits.max_head = 512;
  limits.max_body = 4096;
  relay::http::RequestReader reader(limits);
  Outcome outcome;
  std::size_t used = 0;
  while (used < bytes.size()) {
    const std::size_t n = reader.feed(bytes.substr(used, std::min(step, bytes.size() - used)));
    used += n;
    if (reader.state() == relay::http::RequestReader::State::complete) {
      auto& request = reader.request();
      FUZZ_CHECK(request.body.size() <= limits.max_body);
      outcome.requests.push_back(request.method + " " + request.target + " " + request.body);
      reader.reset();
    } else if (reader.state() == relay::http::RequestReader::State::failed) {
      outcome.failure = reader.error_status();
      FUZZ_CHECK(outcome.failure >= 400 && outcome.failure < 600);
      break;
    } else {
      FUZZ_CHECK(n > 0 || step == 0);
      if (n == 0) {
        break;
      }
    }
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Outcome whole = read_all(bytes, bytes.size() + 1);
  const Outcome bytewise = read_all(bytes, 1);
  FUZZ_CHECK(whole.requests == bytewise.requests);
  FUZZ_CHECK(whole.failure == bytewise.failure);
  return 0;
}

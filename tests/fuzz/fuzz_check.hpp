#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// A property every input must keep. Aborts, so libFuzzer records the input as a crash and the corpus replay
// test fails.
#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)

namespace relay::fuzz {

// Calls `visit` with every run of bytes between spaces, tabs, CRs and LFs: the words a secret could be (keys
// hold no white space), for oracles that check an error message quotes none of them.
template <typename Visit>
void for_each_word(std::string_view text, Visit&& visit) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t start = text.find_first_not_of(" \t\r\n", at);
    if (start == std::string_view::npos) {
      break;
    }
    const std::size_t end = std::min(text.find_first_of(" \t\r\n", start), text.size());
    visit(text.substr(start, end - start));
    at = end;
  }
}

}  // namespace relay::fuzz

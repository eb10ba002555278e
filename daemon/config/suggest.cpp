#include "config/suggest.hpp"

#include <algorithm>
#include <cctype>

#include "util/strings.hpp"

namespace relay::config::detail {
namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view suggest(std::string_view word, std::span<const std::string_view> candidates) {
  for (const std::string_view candidate : candidates) {
    if (equal_ignoring_case(word, candidate)) {
      return candidate;
    }
  }
  if (const std::string_view close = util::closest_match(word, candidates); !close.empty()) {
    return close;
  }
  // Require a few characters so that "a" does not "mean" every name starting with a.
  constexpr std::size_t k_min_prefix = 3;
  for (const std::string_view candidate : candidates) {
    if (candidate.size() >= k_min_prefix && word.size() > candidate.size() &&
        equal_ignoring_case(word.substr(0, candidate.size()), candidate)) {
      return candidate;
    }
  }
  return {};
}

}  // namespace relay::config::detail

#pragma once

#include <span>
#include <string>
#include <string_view>

namespace relay::util {

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or an empty view when none is close enough to be a plausible typo.
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace relay::util

#pragma once

#include <span>
#include <string_view>

namespace relay::config::detail {

// The candidate the user most likely meant by `word`, or an empty view. Beyond util::closest_match's typo
// distance it catches the two slips config files see most: wrong case ("guilds") and a longer spelling of
// the name ("warning" for "warn").
std::string_view suggest(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace relay::config::detail

#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace relay::protocol {

struct IntentName {
  std::string_view name;
  std::uint32_t bit;
};

// Every intent name of SPEC section 8, with the aliases the SDKs use.
std::span<const IntentName> intent_table();

// The bit of an intent name (case-sensitive, as written in the docs), or nullopt.
std::optional<std::uint32_t> intent_bit(std::string_view name);

// "GUILDS|PUBLIC_GUILD_MESSAGES", with unnamed bits as "1<<n"; for operator-facing messages.
std::string describe_intents(std::uint32_t bits);

}  // namespace relay::protocol

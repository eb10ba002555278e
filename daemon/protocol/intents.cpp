#include "protocol/intents.hpp"

#include <array>

namespace relay::protocol {
namespace {

constexpr std::array k_intents{
    IntentName{"GUILDS", 1u << 0},
    IntentName{"GUILD_MEMBERS", 1u << 1},
    IntentName{"GUILD_MESSAGES", 1u << 9},
    IntentName{"GUILD_MESSAGE_REACTIONS", 1u << 10},
    IntentName{"DIRECT_MESSAGE", 1u << 12},
    IntentName{"OPEN_FORUMS_EVENT", 1u << 18},
    IntentName{"AUDIO_OR_LIVE_CHANNEL_MEMBER", 1u << 19},
    IntentName{"ENTER_AIO", 1u << 23},
    IntentName{"GROUP_MEMBERS", 1u << 24},
    IntentName{"GROUP_AND_C2C_EVENT", 1u << 25},
    IntentName{"INTERACTION", 1u << 26},
    IntentName{"MESSAGE_AUDIT", 1u << 27},
    IntentName{"FORUMS_EVENT", 1u << 28},
    IntentName{"AUDIO_ACTION", 1u << 29},
    IntentName{"PUBLIC_GUILD_MESSAGES", 1u << 30},
    // Older names for the same bits (D-2022 and the SDKs).
    IntentName{"FORUM_EVENT", 1u << 28},
    IntentName{"AT_MESSAGES", 1u << 30},
    IntentName{"PUBLIC_MESSAGES", 1u << 25},
};

}  // namespace

std::span<const IntentName> intent_table() {
  return k_intents;
}

std::optional<std::uint32_t> intent_bit(std::string_view name) {
  for (const auto& entry : k_intents) {
    if (entry.name == name) {
      return entry.bit;
    }
  }
  return std::nullopt;
}

std::string describe_intents(std::uint32_t bits) {
  std::string out;
  for (unsigned bit = 0; bit < 32; ++bit) {
    const std::uint32_t mask = 1u << bit;
    if ((bits & mask) == 0) {
      continue;
    }
    if (!out.empty()) {
      out += '|';
    }
    std::string_view name;
    for (const auto& entry : k_intents) {
      if (entry.bit == mask) {
        name = entry.name;
        break;
      }
    }
    out += name.empty() ? "1<<" + std::to_string(bit) : std::string(name);
  }
  return out.empty() ? "0" : out;
}

}  // namespace relay::protocol

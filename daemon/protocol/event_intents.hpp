#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace relay::protocol {

struct EventIntent {
  std::string_view event;  // the Dispatch's `t`
  std::uint32_t bit;       // the intent that enables it
};

// Which intent enables each event type (SPEC section 8, "Events enabled"), as data: what a gateway served to
// SDK bots uses to send a session only the events of the intents it identified with.
std::span<const EventIntent> event_intent_table();

// The intent bit of an event type, or nothing for an event no intent lists (READY and RESUMED, which every
// session gets, and types the platform may add later).
std::optional<std::uint32_t> intent_of_event(std::string_view event_type);

}  // namespace relay::protocol

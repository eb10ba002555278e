#include "protocol/event_intents.hpp"

#include <array>

namespace relay::protocol {
namespace {

constexpr std::uint32_t k_guilds = 1u << 0;
constexpr std::uint32_t k_guild_members = 1u << 1;
constexpr std::uint32_t k_guild_messages = 1u << 9;
constexpr std::uint32_t k_guild_message_reactions = 1u << 10;
constexpr std::uint32_t k_direct_message = 1u << 12;
constexpr std::uint32_t k_open_forums = 1u << 18;
constexpr std::uint32_t k_audio_or_live_member = 1u << 19;
constexpr std::uint32_t k_enter_aio = 1u << 23;
constexpr std::uint32_t k_group_members = 1u << 24;
constexpr std::uint32_t k_group_and_c2c = 1u << 25;
constexpr std::uint32_t k_interaction = 1u << 26;
constexpr std::uint32_t k_message_audit = 1u << 27;
constexpr std::uint32_t k_forums = 1u << 28;
constexpr std::uint32_t k_audio_action = 1u << 29;
constexpr std::uint32_t k_public_guild_messages = 1u << 30;

// SPEC section 8. GROUP_MESSAGE_CREATE and SUBSCRIBE_MESSAGE_STATUS are listed by some SDKs only; they go
// with GROUP_AND_C2C_EVENT as those SDKs do.
constexpr std::array k_events{
    EventIntent{"GUILD_CREATE", k_guilds},
    EventIntent{"GUILD_UPDATE", k_guilds},
    EventIntent{"GUILD_DELETE", k_guilds},
    EventIntent{"CHANNEL_CREATE", k_guilds},
    EventIntent{"CHANNEL_UPDATE", k_guilds},
    EventIntent{"CHANNEL_DELETE", k_guilds},
    EventIntent{"GUILD_MEMBER_ADD", k_guild_members},
    EventIntent{"GUILD_MEMBER_UPDATE", k_guild_members},
    EventIntent{"GUILD_MEMBER_REMOVE", k_guild_members},
    EventIntent{"MESSAGE_CREATE", k_guild_messages},
    EventIntent{"MESSAGE_DELETE", k_guild_messages},
    EventIntent{"MESSAGE_REACTION_ADD", k_guild_message_reactions},
    EventIntent{"MESSAGE_REACTION_REMOVE", k_guild_message_reactions},
    EventIntent{"DIRECT_MESSAGE_CREATE", k_direct_message},
    EventIntent{"DIRECT_MESSAGE_DELETE", k_direct_message},
    EventIntent{"OPEN_FORUM_THREAD_CREATE", k_open_forums},
    EventIntent{"OPEN_FORUM_THREAD_UPDATE", k_open_forums},
    EventIntent{"OPEN_FORUM_THREAD_DELETE", k_open_forums},
    EventIntent{"OPEN_FORUM_POST_CREATE", k_open_forums},
    EventIntent{"OPEN_FORUM_POST_DELETE", k_open_forums},
    EventIntent{"OPEN_FORUM_REPLY_CREATE", k_open_forums},
    EventIntent{"OPEN_FORUM_REPLY_DELETE", k_open_forums},
    EventIntent{"AUDIO_OR_LIVE_CHANNEL_MEMBER_ENTER", k_audio_or_live_member},
    EventIntent{"AUDIO_OR_LIVE_CHANNEL_MEMBER_EXIT", k_audio_or_live_member},
    EventIntent{"ENTER_AIO", k_enter_aio},
    EventIntent{"GROUP_MEMBER_ADD", k_group_members},
    EventIntent{"GROUP_MEMBER_REMOVE", k_group_members},
    EventIntent{"C2C_MESSAGE_CREATE", k_group_and_c2c},
    EventIntent{"FRIEND_ADD", k_group_and_c2c},
    EventIntent{"FRIEND_DEL", k_group_and_c2c},
    EventIntent{"C2C_MSG_REJECT", k_group_and_c2c},
    EventIntent{"C2C_MSG_RECEIVE", k_group_and_c2c},
    EventIntent{"GROUP_AT_MESSAGE_CREATE", k_group_and_c2c},
    EventIntent{"GROUP_MESSAGE_CREATE", k_group_and_c2c},
    EventIntent{"GROUP_ADD_ROBOT", k_group_and_c2c},
    EventIntent{"GROUP_DEL_ROBOT", k_group_and_c2c},
    EventIntent{"GROUP_MSG_REJECT", k_group_and_c2c},
    EventIntent{"GROUP_MSG_RECEIVE", k_group_and_c2c},
    EventIntent{"SUBSCRIBE_MESSAGE_STATUS", k_group_and_c2c},
    EventIntent{"INTERACTION_CREATE", k_interaction},
    EventIntent{"MESSAGE_AUDIT_PASS", k_message_audit},
    EventIntent{"MESSAGE_AUDIT_REJECT", k_message_audit},
    EventIntent{"FORUM_THREAD_CREATE", k_forums},
    EventIntent{"FORUM_THREAD_UPDATE", k_forums},
    EventIntent{"FORUM_THREAD_DELETE", k_forums},
    EventIntent{"FORUM_POST_CREATE", k_forums},
    EventIntent{"FORUM_POST_DELETE", k_forums},
    EventIntent{"FORUM_REPLY_CREATE", k_forums},
    EventIntent{"FORUM_REPLY_DELETE", k_forums},
    EventIntent{"FORUM_PUBLISH_AUDIT_RESULT", k_forums},
    EventIntent{"AUDIO_START", k_audio_action},
    EventIntent{"AUDIO_FINISH", k_audio_action},
    EventIntent{"AUDIO_ON_MIC", k_audio_action},
    EventIntent{"AUDIO_OFF_MIC", k_audio_action},
    EventIntent{"AT_MESSAGE_CREATE", k_public_guild_messages},
    EventIntent{"PUBLIC_MESSAGE_DELETE", k_public_guild_messages},
};

}  // namespace

std::span<const EventIntent> event_intent_table() {
  return k_events;
}

std::optional<std::uint32_t> intent_of_event(std::string_view event_type) {
  for (const auto& entry : k_events) {
    if (entry.event == event_type) {
      return entry.bit;
    }
  }
  return std::nullopt;
}

}  // namespace relay::protocol

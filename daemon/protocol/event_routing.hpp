#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace relay::protocol {

// What an event is about, for spreading events over the shards of a gateway served to SDK bots so that one
// conversation always lands on one bot process: a guild (its numeric id), or a group or a user (an openid).
struct GuildKey {
  std::uint64_t guild_id = 0;
};
struct OpenidKey {
  std::string openid;
};
using RoutingKey = std::variant<std::monostate, GuildKey, OpenidKey>;

// From a Dispatch's `t` and the raw text of its `d`: `d.guild_id` (or `d.id` of GUILD_CREATE / GUILD_UPDATE /
// GUILD_DELETE), else `d.group_openid`, else the user's openid (`d.author.user_openid`, `d.openid`,
// `d.user_openid`). Nothing (std::monostate) when `d` has none of them or is not a JSON object.
RoutingKey routing_key(std::string_view event_type, std::string_view d);

// The shard of `count` a key goes to: a guild as the platform shards guilds (SPEC section 10:
// `(guild_id >> 22) % count`), an openid by its 64-bit FNV-1a hash (the platform says nothing for openids),
// and an event without a key to shard 0.
unsigned shard_of(const RoutingKey& key, unsigned count);

}  // namespace relay::protocol

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::publish {

// Where a message came from; frame 3's "source".
enum class Source { gateway, webhook, relay };
std::string_view to_string(Source source);

struct ShardPosition {
  unsigned index;
  unsigned count;
};

// Everything frame 3 says about one message except relay_seq, which the publisher assigns.
struct MessageInfo {
  Source source = Source::gateway;
  std::optional<ShardPosition> shard;
  std::string_view session_id;  // empty: null
  std::optional<std::uint64_t> seq;
  std::string_view event_id;  // empty: null
  std::int64_t received_at_us = 0;
};

// The version of the three-frame contract (docs/subscribing.md). 2 added "node" at the end; every field of
// version 1 is unchanged and in the same place, so a version-1 reader that ignores unknown keys still works.
inline constexpr int k_contract_version = 2;

// Writes frame 3 into `out` (cleared first): {"v":2,"app_id":..,"source":..,"shard":[i,n]|null,
// "session_id":..|null,"seq":..|null,"event_id":..|null,"relay_seq":N,"received_at_us":T,"node":..}.
// `node` names the relay that numbered the message: in a cluster each relay has its own relay_seq stream.
void encode_metadata(std::string& out, std::string_view app_id, std::string_view node,
                     const MessageInfo& info, std::uint64_t relay_seq);

// The same frame 3, with the parts that never change between messages (app_id, node, as JSON) written once:
// the publish stage encodes one per message.
class MetadataEncoder {
 public:
  MetadataEncoder(std::string_view app_id, std::string_view node);
  void encode(std::string& out, const MessageInfo& info, std::uint64_t relay_seq) const;

 private:
  std::string m_head;  // {"v":2,"app_id":"...","source":"
  std::string m_tail;  // ,"node":"..."}
};

}  // namespace relay::publish

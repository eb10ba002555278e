#pragma once

#include <string_view>

namespace relay::api {

// Where a passive reply goes, for its msg_seq rules (OPENAPI.md section 2).
enum class ReplyScene { none, c2c, group, channel, dm };

struct Route {
  // The path template ("/v2/groups/{group_openid}/messages"): a metric label that never holds an id. "other"
  // for paths the relay does not know (still forwarded).
  std::string_view name = "other";
  // A message-sending endpoint, where a POST with msg_id or event_id is a passive reply.
  ReplyScene scene = ReplyScene::none;
};

// The route of `path` (without the query). Segments in braces match any one non-empty segment; where two
// templates match, the one with more literal segments wins.
Route match_route(std::string_view path);

}  // namespace relay::api

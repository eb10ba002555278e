#include "api/routes.hpp"

#include <array>

namespace relay::api {
namespace {

struct Template {
  std::string_view path;
  ReplyScene scene;
};

// The OpenAPI paths bots call (OPENAPI.md sections 1 and 4), plus the relay's own token endpoint.
constexpr std::array k_templates{
    Template{"/v2/users/{openid}/messages", ReplyScene::c2c},
    Template{"/v2/groups/{group_openid}/messages", ReplyScene::group},
    Template{"/channels/{channel_id}/messages", ReplyScene::channel},
    Template{"/dms/{guild_id}/messages", ReplyScene::dm},
    Template{"/v2/users/{openid}/messages/{message_id}", ReplyScene::none},
    Template{"/v2/groups/{group_openid}/messages/{message_id}", ReplyScene::none},
    Template{"/channels/{channel_id}/messages/{message_id}", ReplyScene::none},
    Template{"/dms/{guild_id}/messages/{message_id}", ReplyScene::none},
    Template{"/v2/users/{openid}/files", ReplyScene::none},
    Template{"/v2/groups/{group_openid}/files", ReplyScene::none},
    Template{"/v2/users/{openid}/upload_prepare", ReplyScene::none},
    Template{"/v2/groups/{group_openid}/upload_prepare", ReplyScene::none},
    Template{"/v2/users/{openid}/upload_part_finish", ReplyScene::none},
    Template{"/v2/groups/{group_openid}/upload_part_finish", ReplyScene::none},
    Template{"/v2/groups/{group_openid}/members", ReplyScene::none},
    Template{"/users/@me", ReplyScene::none},
    Template{"/users/@me/dms", ReplyScene::none},
    Template{"/users/@me/guilds", ReplyScene::none},
    Template{"/interactions/{interaction_id}", ReplyScene::none},
    Template{"/gateway", ReplyScene::none},
    Template{"/gateway/bot", ReplyScene::none},
    Template{"/guilds/{guild_id}", ReplyScene::none},
    Template{"/guilds/{guild_id}/channels", ReplyScene::none},
    Template{"/guilds/{guild_id}/members", ReplyScene::none},
    Template{"/guilds/{guild_id}/members/{user_id}", ReplyScene::none},
    Template{"/guilds/{guild_id}/roles", ReplyScene::none},
    Template{"/guilds/{guild_id}/roles/{role_id}/members", ReplyScene::none},
    Template{"/guilds/{guild_id}/api_permission", ReplyScene::none},
    Template{"/guilds/{guild_id}/message/setting", ReplyScene::none},
    Template{"/channels/{channel_id}", ReplyScene::none},
    Template{"/channels/{channel_id}/members/{user_id}/permissions", ReplyScene::none},
    Template{"/app/getAppAccessToken", ReplyScene::none},
};

// The next segment of `path` after a '/', advancing it; empty when there is none.
std::string_view next_segment(std::string_view& path) {
  if (path.empty() || path.front() != '/') {
    path = {};
    return {};
  }
  path.remove_prefix(1);
  const auto end = path.find('/');
  const std::string_view segment = path.substr(0, end);
  path = end == std::string_view::npos ? std::string_view{} : path.substr(end);
  return segment;
}

// How many literal segments matched, or -1 when `path` does not fit `pattern`.
int literal_matches(std::string_view pattern, std::string_view path) {
  int literals = 0;
  for (;;) {
    const bool pattern_done = pattern.empty();
    const bool path_done = path.empty();
    if (pattern_done || path_done) {
      return pattern_done && path_done ? literals : -1;
    }
    const std::string_view want = next_segment(pattern);
    const std::string_view have = next_segment(path);
    if (have.empty()) {
      return -1;
    }
    if (want.front() == '{') {
      continue;
    }
    if (want != have) {
      return -1;
    }
    ++literals;
  }
}

}  // namespace

Route match_route(std::string_view path) {
  if (const auto query = path.find('?'); query != std::string_view::npos) {
    path = path.substr(0, query);
  }
  if (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  Route best;
  int best_literals = -1;
  for (const Template& candidate : k_templates) {
    const int literals = literal_matches(candidate.path, path);
    if (literals > best_literals) {
      best_literals = literals;
      best = Route{candidate.path, candidate.scene};
    }
  }
  return best;
}

}  // namespace relay::api

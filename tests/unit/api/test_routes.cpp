#include <catch2/catch.hpp>

#include "api/routes.hpp"

using relay::api::match_route;
using relay::api::ReplyScene;

TEST_CASE("a path maps to its template, ids never in the name") {
  CHECK(match_route("/v2/users/ABCDEF0123/messages").name == "/v2/users/{openid}/messages");
  CHECK(match_route("/v2/users/ABCDEF0123/messages").scene == ReplyScene::c2c);
  CHECK(match_route("/v2/groups/G1/messages").scene == ReplyScene::group);
  CHECK(match_route("/channels/123/messages").scene == ReplyScene::channel);
  CHECK(match_route("/dms/9/messages").scene == ReplyScene::dm);
  CHECK(match_route("/v2/groups/G1/messages/M1").name == "/v2/groups/{group_openid}/messages/{message_id}");
  CHECK(match_route("/v2/groups/G1/messages/M1").scene == ReplyScene::none);
  CHECK(match_route("/channels/123/messages/99?hidetip=false").name ==
        "/channels/{channel_id}/messages/{message_id}");
  CHECK(match_route("/v2/users/U/files").name == "/v2/users/{openid}/files");
}

TEST_CASE("literal segments win over placeholders") {
  CHECK(match_route("/users/@me").name == "/users/@me");
  CHECK(match_route("/users/@me/dms").name == "/users/@me/dms");
  CHECK(match_route("/gateway/bot").name == "/gateway/bot");
  CHECK(match_route("/guilds/1/message/setting").name == "/guilds/{guild_id}/message/setting");
  CHECK(match_route("/guilds/1/members/2").name == "/guilds/{guild_id}/members/{user_id}");
}

TEST_CASE("unknown paths, empty segments and odd shapes are other") {
  CHECK(match_route("/v2/users//messages").name == "other");
  CHECK(match_route("/nothing/here").name == "other");
  CHECK(match_route("").name == "other");
  CHECK(match_route("v2/users/U/messages").name == "other");
  CHECK(match_route("/v2/users/U/messages/").name == "/v2/users/{openid}/messages");
  CHECK(match_route("/v2/users/U/messages/M/extra").name == "other");
}

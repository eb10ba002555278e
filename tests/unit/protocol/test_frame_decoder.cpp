#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "protocol/frame.hpp"
#include "protocol/messages.hpp"
#include "protocol/responses.hpp"

using namespace relay::protocol;
namespace fs = std::filesystem;

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream in(fs::path(RELAY_TEST_DATA_DIR) / "fixtures" / name, std::ios::binary);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("every gateway fixture decodes, with its op, t and the raw bytes of d") {
  FrameDecoder decoder;
  int decoded = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(RELAY_TEST_DATA_DIR) / "fixtures")) {
    const std::string text = read_fixture(entry.path().filename().string());
    if (entry.path().extension() != ".json" || text.find("\"op\"") == std::string::npos) {
      continue;  // HTTP bodies and signature vectors are not gateway frames
    }
    INFO(entry.path().filename().string());
    const auto result = decoder.decode(text);
    REQUIRE(result.frame);
    REQUIRE_FALSE(result.frame->fault);
    if (result.frame->op == k_op_dispatch) {
      REQUIRE_FALSE(result.frame->t.empty());
      // d is kept exactly as written, so nothing is re-serialised on the way to subscribers.
      REQUIRE(text.find(result.frame->d_raw) != std::string::npos);
    }
    ++decoded;
  }
  REQUIRE(decoded >= 45);
}

TEST_CASE("Chinese text and ids above 2^53 pass through untouched") {
  FrameDecoder decoder;
  const std::string ready = read_fixture("ready.json");
  auto result = decoder.decode(ready);
  REQUIRE(result.frame);
  REQUIRE(result.frame->t == "READY");
  REQUIRE(result.frame->session_id == "082ee18c-0be3-491b-9d8b-fbd95c51673a");
  REQUIRE(result.frame->d_raw.find("群pro测试机器人") != std::string_view::npos);

  const std::string forum = read_fixture("forum_thread_create.json");
  result = decoder.decode(forum);
  REQUIRE(result.frame);
  REQUIRE(result.frame->d_raw.find("144115218182563108") != std::string_view::npos);
}

TEST_CASE("Hello gives the heartbeat interval, op 9 and op 7 give their boolean") {
  FrameDecoder decoder;
  auto hello = decoder.decode(read_fixture("hello.json"));
  REQUIRE(hello.frame);
  REQUIRE(hello.frame->heartbeat_interval_ms == 45000u);
  auto invalid = decoder.decode(read_fixture("invalid_session.json"));
  REQUIRE(invalid.frame);
  REQUIRE(invalid.frame->d_bool == false);
  auto resumed = decoder.decode(read_fixture("resumed.json"));
  REQUIRE(resumed.frame);
  REQUIRE(resumed.frame->s == 2002u);
  REQUIRE(resumed.frame->d_raw == R"("")");
  auto ack = decoder.decode(R"({"op":11})");
  REQUIRE(ack.frame);
  REQUIRE(ack.frame->d_raw.empty());
}

TEST_CASE("bad frames are told apart") {
  FrameDecoder decoder;
  REQUIRE(decoder.decode("{not json").error == DecodeError::not_json);
  REQUIRE(decoder.decode("[1,2]").error == DecodeError::not_json);
  REQUIRE(decoder.decode(R"({"d":{}})").error == DecodeError::missing_op);
  REQUIRE(decoder.decode(R"({"op":"zero"})").error == DecodeError::missing_op);
  REQUIRE(decoder.decode(R"({"op":99})").error == DecodeError::unknown_op);
  REQUIRE(decoder.decode(R"({"op":0,"s":"1","t":"X"})").error == DecodeError::bad_field);
  REQUIRE(decoder.decode(R"({"op":10,"d":{}})").error == DecodeError::bad_field);
  REQUIRE(decoder.decode(R"({"op":0,"s":null,"t":"X","d":{}})").frame);
  // A cast to int would make these 13 and 0.
  REQUIRE(decoder.decode(R"({"op":4294967309})").error == DecodeError::unknown_op);
  REQUIRE(decoder.decode(R"({"op":-4294967296})").error == DecodeError::unknown_op);
  REQUIRE(decoder.decode(R"({"op":256})").error == DecodeError::unknown_op);
}

TEST_CASE("a frame that is not exactly one JSON document in UTF-8 decodes leniently, with its fault") {
  FrameDecoder decoder;
  // Each of these was once published byte for byte.
  for (const std::string text : {
           R"({"op":0,"s":7,"t":"X","d":{}} more bytes)",
           R"({"op":0,"s":7,"t":"X","d":{"a":f}})",
           R"({"op":0,"s":7,"t":"X","d":{"a":01}})",
           R"({"op":0,"s":7,"t":"X","d":{"a":1.}})",
           R"({"op":0,"s":7,"t":"X","d":{"a":"\x"}})",
           R"({"op":0,"s":7,"t":"X","d":{"a":"\ud800"}})",
           R"({"op":0,"s":7,"t":"X","d":{"a":nul}})",
           R"({"op":0,"s":7,"t":"X","d":{"a":tru}})",
           "{\"op\":0,\"s\":7,\"t\":\"X\",\"d\":{\"a\":\"\xff\"}}",
           R"({"op":0,"s":7,"t":"X","d":{"a":[1,]}})",
       }) {
    INFO(text);
    const auto result = decoder.decode(text);
    if (!result.frame) {
      continue;  // refused outright is fine too; what matters is that nothing passes as well-formed
    }
    REQUIRE(result.frame->fault);
    REQUIRE(result.frame->op == k_op_dispatch);
  }
  // The lenient read still finds s, so that the shard can pass the frame.
  const auto trailing = decoder.decode(R"({"op":0,"s":7,"t":"X","d":{}} more bytes)");
  REQUIRE(trailing.frame);
  REQUIRE(trailing.frame->s == 7u);
  REQUIRE(trailing.frame->fault->what == "more bytes after the document");
  const auto stray = decoder.decode("{\"op\":0,\"s\":8,\"t\":\"X\",\"d\":{\"a\":\"\xed\xa0\x80\"}}");
  REQUIRE(stray.frame);
  REQUIRE(stray.frame->s == 8u);
  REQUIRE(stray.frame->fault->what == "not UTF-8");
}

namespace {

// Everything a result says, as text.
std::string summary(const DecodeResult& result) {
  if (!result.frame) {
    return "error " + std::string(describe(result.error));
  }
  const auto& frame = *result.frame;
  return "op " + std::to_string(frame.op) + " s " + (frame.s ? std::to_string(*frame.s) : "-") + " t " +
         std::string(frame.t) + " id " + std::string(frame.id) + " d " + std::string(frame.d_raw) + " hb " +
         (frame.heartbeat_interval_ms ? std::to_string(*frame.heartbeat_interval_ms) : "-") + " session " +
         std::string(frame.session_id) + " bool " + (frame.d_bool ? std::to_string(*frame.d_bool) : "-") +
         " fault " + (frame.fault ? std::string(frame.fault->what) : "-");
}

}  // namespace

TEST_CASE("an envelope read from the strict check's members reads as simdjson reads it") {
  FrameDecoder members;
  FrameDecoder simdjson_only(false);
  std::string many_members = R"({"op":0,"s":1,"t":"X")";
  for (int i = 0; i < 20; ++i) {
    many_members += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
  }
  many_members += R"(,"d":{"a":1}})";
  std::string deep = R"({"op":0,"s":1,"t":"X","d":)";
  deep += std::string(1100, '[') + std::string(1100, ']') + "}";
  for (const std::string& text : {
           std::string(
               R"({"op":0,"s":42,"t":"AT_MESSAGE_CREATE","id":"AT:1","d":{"content":"群 }{ \"x\""}})"),
           std::string(R"( { "op" : 0 , "s" : 1 , "t" : "X" , "d" : { "a" : [ 1 , { } ] } } )"),
           std::string(R"({"op":0,"s":null,"t":"X","d":{}})"),
           std::string(R"({"op":0,"s":5,"s":null,"t":"X","d":{}})"),
           std::string(R"({"op":0,"s":5,"s":6,"t":"X","t":"Y","d":{"a":1},"d":{"b":2}})"),
           std::string(R"({"op":-0,"s":0,"t":"X","d":{}})"),
           std::string(R"({"op":0,"s":-1,"t":"X","d":{}})"),
           std::string(R"({"op":0,"s":1.0,"t":"X","d":{}})"),
           std::string(R"({"op":0,"s":1e3,"t":"X","d":{}})"),
           std::string(R"({"op":0,"s":18446744073709551615,"t":"X","d":{}})"),
           std::string(R"({"op":0,"s":18446744073709551616,"t":"X","d":{}})"),
           std::string(R"({"op":1.0,"d":null})"),
           std::string(R"({"op":9223372036854775808})"),
           std::string(R"({"op":-9223372036854775808})"),
           std::string(R"({"op":0,"s":1,"t":"A\u0042","id":"\/x","d":{}})"),
           std::string(R"({"o\u0070":0,"s":1,"t":"X","d":{}})"),
           std::string(R"({"\u006fp":10,"d":{"heartbeat_interval":41250}})"),
           std::string(R"({"op":0,"s":1,"t":7,"d":{}})"),
           std::string(R"({"op":0,"s":1,"t":"X","id":null,"d":{}})"),
           std::string(R"({"op":0,"s":1,"t":"X","d":[1,2]})"),
           std::string(R"({"op":0,"s":1,"t":"X","d":"text"})"),
           std::string(R"({"op":0,"s":1,"t":"X","d":{}, "extra":[true,false,null,"\n",-1.5e-3]})"),
           std::string(R"({"op":0,"s":1,"t":"READY","d":{"session_id":"abc","shard":[0,1]}})"),
           std::string(R"({"op":0,"s":1,"t":"READY","d":{"user":{}}})"),
           std::string(R"({"op":10,"d":{"heartbeat_interval":41250}})"),
           std::string(R"({"op":10,"d":{"heartbeat_interval":"x"}})"),
           std::string(R"({"op":7,"d":true})"),
           std::string(R"({"op":9,"d":false})"),
           std::string(R"({"op":11})"),
           std::string(R"({"op":99,"d":{}})"),
           std::string(R"({"s":1,"d":{}})"),
           std::string(R"({})"),
           std::string(R"([{"op":0}])"),
           std::string(R"("op")"),
           std::string(R"({"op":0,"s":1,"t":"X","d":{}} trailing)"),
           many_members,
           deep,
       }) {
    INFO(text);
    const std::string read_from_members = summary(members.decode(text));
    REQUIRE(read_from_members == summary(simdjson_only.decode(text)));
  }
}

TEST_CASE("client frames are the documented JSON") {
  REQUIRE(resume_frame("QQBot t", "s-1", 42) ==
          R"({"op":6,"d":{"token":"QQBot t","session_id":"s-1","seq":42}})");
  REQUIRE(heartbeat_frame(std::nullopt) == R"({"op":1,"d":null})");
  REQUIRE(heartbeat_frame(251) == R"({"op":1,"d":251})");
}

TEST_CASE("token grants accept expires_in as a string or a number") {
  const auto text = parse_token_grant(read_fixture("access_token_response.json"));
  REQUIRE(text);
  REQUIRE(text->access_token == "ACCESS_TOKEN");
  REQUIRE(text->expires_in_s == 7200);
  const auto number = parse_token_grant(R"({"access_token":"x","expires_in":60})");
  REQUIRE(number);
  REQUIRE(number->expires_in_s == 60);
  REQUIRE_FALSE(parse_token_grant(R"({"code":100016,"message":"invalid appid or secret"})"));
  REQUIRE(parse_api_error(R"({"code":100016,"message":"invalid"})")->code == 100016);
}

TEST_CASE("a token that could split a header or an Identify is refused") {
  for (const std::string& token :
       {std::string("a\r\nX-Injected: 1"), std::string("a b"), std::string("a\tb"),
        std::string("\u00e9t\u00e9"), std::string("\u0000"), std::string(4097, 'x')}) {
    INFO(token);
    REQUIRE_FALSE(parse_token_grant(R"({"access_token":")" + token + R"(","expires_in":60})"));
  }
  REQUIRE(parse_token_grant(R"({"access_token":")" + std::string(4096, 'x') + R"(","expires_in":60})"));
  REQUIRE(parse_token_grant(R"({"access_token":"A-z_0.9+/=~","expires_in":60})"));
}

TEST_CASE("/gateway/bot's max_concurrency is at least 1 and at most the shard limit") {
  const std::string head =
      R"({"url":"wss://api.sgroup.qq.com/websocket","session_start_limit":{"max_concurrency":)";
  REQUIRE(parse_gateway_info(head + "4294967296}}")->max_concurrency == 4096);
  REQUIRE(parse_gateway_info(head + "18446744073709551615}}")->max_concurrency == 4096);
  REQUIRE(parse_gateway_info(head + "0}}")->max_concurrency == 1);
  REQUIRE(parse_gateway_info(head + "16}}")->max_concurrency == 16);
}

TEST_CASE("/gateway/bot gives the url, the shard count and the session start limit") {
  const auto info = parse_gateway_info(read_fixture("gateway_bot_response.json"));
  REQUIRE(info);
  REQUIRE(info->url == "wss://sandbox.api.sgroup.qq.com/websocket");
  REQUIRE(info->shards == 1);
  REQUIRE(info->remaining == 1000);
  REQUIRE(info->reset_after_ms == 86400000);
  REQUIRE(info->max_concurrency == 1);
}

TEST_CASE("/gateway/bot with a shard count out of range is refused with a reason") {
  const std::string head = R"({"url":"wss://api.sgroup.qq.com/websocket","shards":)";
  for (const std::string shards : {"0", "4097", "4294967297", "-1", "1.5", "\"2\"", "null"}) {
    INFO(shards);
    std::string problem;
    REQUIRE_FALSE(parse_gateway_info(head + shards + "}", &problem));
    REQUIRE_THAT(problem, Catch::Matchers::Contains("is not an integer from 1 to 4096"));
  }
  REQUIRE(parse_gateway_info(head + "4096}")->shards == 4096);
  REQUIRE(parse_gateway_info(head + "1}")->shards == 1);
  // /gateway (no /bot) sends no count: one shard.
  REQUIRE(parse_gateway_info(R"({"url":"wss://api.sgroup.qq.com/websocket"})")->shards == 1);
}

TEST_CASE("a gateway URL is used only as wss:// from an https:// API, and only when printable") {
  using relay::protocol::usable_gateway_url;
  std::string problem;
  REQUIRE(usable_gateway_url("wss://api.sgroup.qq.com/websocket", true, problem));
  REQUIRE(usable_gateway_url("wss://127.0.0.1:9/websocket", false, problem));
  // The local simulator behind an http:// API base serves ws://.
  REQUIRE(usable_gateway_url("ws://127.0.0.1:9/websocket", false, problem));
  REQUIRE_FALSE(usable_gateway_url("ws://api.sgroup.qq.com/websocket", true, problem));
  REQUIRE_THAT(problem, Catch::Matchers::Contains("in clear"));
  for (const char* url : {"https://api.sgroup.qq.com/websocket", "wss://api.sgroup.qq.com\r\nX: y/websocket",
                          "wss://api.sgroup.qq.com/web socket", "wss://api.sgroup.qq.com/websocket\n", ""}) {
    INFO(url);
    problem.clear();
    REQUIRE_FALSE(usable_gateway_url(url, true, problem));
    REQUIRE_FALSE(problem.empty());
  }
}

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>

#include <catch2/catch.hpp>

#include "sub/event_format.hpp"

using relay::sub::Frames;
using relay::sub::LineStyle;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(RELAY_TEST_DATA_DIR) + "/fixtures/" + name, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// 2023-11-06 05:37:18.123 UTC; the tests run with TZ=UTC.
constexpr std::string_view k_gateway_meta =
    R"({"v":1,"app_id":"102000000","source":"gateway","shard":[1,2],"session_id":"s","seq":3,)"
    R"("event_id":"x","relay_seq":28,"received_at_us":1699249038123456})";

struct UtcClock {
  UtcClock() {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

std::string line(std::string_view topic, std::string_view body, std::string_view meta = k_gateway_meta,
                 LineStyle style = {}) {
  static const UtcClock utc;
  return relay::sub::format_line(Frames{topic, body, meta}, style);
}

}  // namespace

TEST_CASE("a guild @-message shows guild, channel, the author's name and the text") {
  CHECK(line("AT_MESSAGE_CREATE", fixture("at_message_create.json")) ==
        "05:37:18.123 #28 AT_MESSAGE_CREATE shard 1/2 guild 18700000000001 channel 100010 abc: ndnnd");
}

TEST_CASE("a group @-message shows the group, the member's openid and the text as received") {
  CHECK(line("GROUP_AT_MESSAGE_CREATE", fixture("group_at_message_create.json")) ==
        "05:37:18.123 #28 GROUP_AT_MESSAGE_CREATE shard 1/2 group C9F778FE6ADF9D1D1DBE395BF744A33A "
        "E4F4AEA33253A2797FB897C50B81D7ED:  123");
}

TEST_CASE("Chinese text comes out as UTF-8, not escaped, and escapes in the body are decoded") {
  std::string body = fixture("c2c_message_create.json");
  body.replace(body.find("\"123\""), 5, R"("你好，机器人 \u4e16\u754c")");
  CHECK(line("C2C_MESSAGE_CREATE", body) ==
        "05:37:18.123 #28 C2C_MESSAGE_CREATE shard 1/2 E4F4AEA33253A2797FB897C50B81D7ED: 你好，机器人 世界");
}

TEST_CASE(
    "with a width, ids are shortened and the line is cut with an ellipsis, wide characters counted twice") {
  const std::string body =
      R"({"op":0,"s":2,"t":"C2C_MESSAGE_CREATE","d":{"author":{"user_openid":"E4F4AEA33253A2797FB897C50B81D7ED"},"content":"一二三四五六七八九十"}})";
  const std::string full = line("C2C_MESSAGE_CREATE", body, k_gateway_meta, LineStyle{200, false});
  CHECK(full == "05:37:18.123 #28 C2C_MESSAGE_CREATE shard 1/2 E4F4…D7ED: 一二三四五六七八九十");
  const std::size_t width = relay::sub::display_width(full);
  CHECK(width == 57 + 20);
  const std::string cut = line("C2C_MESSAGE_CREATE", body, k_gateway_meta, LineStyle{width - 5, false});
  CHECK(cut == "05:37:18.123 #28 C2C_MESSAGE_CREATE shard 1/2 E4F4…D7ED: 一二三四五六七…");
  CHECK(relay::sub::display_width(cut) <= width - 5);
}

TEST_CASE("a relay.shard message is a short state line") {
  constexpr std::string_view meta =
      R"({"v":1,"app_id":"1","source":"relay","shard":[0,2],"session_id":null,"seq":null,"event_id":null,"relay_seq":5,"received_at_us":1699249038000000})";
  CHECK(
      line(
          "relay.shard",
          R"({"shard":[0,2],"state":"ready","session_id":"s","close_code":0,"reason":"","will_resume":false})",
          meta) == "05:37:18.000 #5 relay.shard shard 0/2 ready");
  CHECK(
      line(
          "relay.shard",
          R"({"shard":[0,2],"state":"disconnected","session_id":"s","close_code":1006,"reason":"lost\nit","will_resume":true})",
          meta) == "05:37:18.000 #5 relay.shard shard 0/2 disconnected close 1006, will resume: lost it");
}

TEST_CASE("a webhook event says webhook where a gateway event has its shard") {
  constexpr std::string_view meta =
      R"({"v":1,"app_id":"1","source":"webhook","shard":null,"session_id":null,"seq":null,"event_id":"e","relay_seq":9,"received_at_us":1699249038000000})";
  CHECK(line("GROUP_AT_MESSAGE_CREATE", fixture("group_at_message_create.json"), meta) ==
        "05:37:18.000 #9 GROUP_AT_MESSAGE_CREATE webhook group C9F778FE6ADF9D1D1DBE395BF744A33A "
        "E4F4AEA33253A2797FB897C50B81D7ED:  123");
}

TEST_CASE("contract 2 metadata shows the relay's node before relay_seq, an empty node nothing") {
  constexpr std::string_view meta =
      R"({"v":2,"app_id":"1","source":"webhook","shard":null,"session_id":null,"seq":null,"event_id":"e","relay_seq":9,"received_at_us":1699249038000000,"node":"relay-b"})";
  CHECK(line("X", "{}", meta) == "05:37:18.000 relay-b #9 X webhook");
  constexpr std::string_view unnamed =
      R"({"v":2,"app_id":"1","source":"webhook","shard":null,"session_id":null,"seq":null,"event_id":"e","relay_seq":9,"received_at_us":1699249038000000,"node":""})";
  CHECK(line("X", "{}", unnamed) == "05:37:18.000 #9 X webhook");
}

TEST_CASE("node_of reads the metadata's node, empty for contract 1 or a bad frame") {
  CHECK(relay::sub::node_of(R"({"v":2,"relay_seq":1,"node":"relay-b"})") == "relay-b");
  CHECK(relay::sub::node_of(k_gateway_meta).empty());
  CHECK(relay::sub::node_of("not json").empty());
}

TEST_CASE("a malformed body or metadata still gives a line") {
  CHECK(line("X", "{\"op\":0,", k_gateway_meta) ==
        "05:37:18.123 #28 X shard 1/2 (body is not JSON, 8 bytes)");
  CHECK(line("X", "{}", "not json") == "--:--:--.--- #? X");
}

TEST_CASE("control characters cannot reach the terminal, and colours only when asked") {
  const std::string body = R"({"op":0,"t":"C2C_MESSAGE_CREATE","d":{"content":"a\u001b[31mb\r\nc"}})";
  CHECK(line("C2C_MESSAGE_CREATE", body).ends_with(" a [31mb  c"));
  const std::string coloured = line("C2C_MESSAGE_CREATE", body, k_gateway_meta, LineStyle{0, true});
  CHECK(coloured.starts_with("\x1b[2m05:37:18.123\x1b[0m\x1b[36m #28\x1b[0m"));
}

TEST_CASE("the --json form is one line: the body's own JSON, big ids exact, Chinese as is") {
  const std::string body =
      "{\"op\":0,\n  \"d\": {\"id\": 18446744073709551000, \"big\": 12345678901234567890123, \"content\": "
      "\"你好 \\\"x\\\"\"}}";
  const std::string out = relay::sub::format_json(Frames{"C2C_MESSAGE_CREATE", body, k_gateway_meta});
  CHECK(
      out ==
      R"({"topic":"C2C_MESSAGE_CREATE","body":{"op":0,"d":{"id":18446744073709551000,"big":12345678901234567890123,"content":"你好 \"x\""}},"meta":)" +
          std::string(k_gateway_meta) + "}");
  CHECK(out.find('\n') == std::string::npos);
  CHECK(relay::sub::format_json(Frames{"T", "not \"json\"\n", "{}"}) ==
        R"({"topic":"T","body":"not \"json\"\n","meta":{}})");
}

TEST_CASE("the --json form is valid JSON in UTF-8 whatever a publisher sends") {
  // Numbers simdjson's parser flags only as NUMBER_ERROR, and bytes that are not UTF-8, become strings.
  CHECK(relay::sub::format_json(Frames{"T", "01", "{\"a\":1.}"}) ==
        R"({"topic":"T","body":"01","meta":"{\"a\":1.}"})");
  CHECK(relay::sub::format_json(Frames{"T\xff", "\"\xc3\"", "{}"}) ==
        "{\"topic\":\"T\xef\xbf\xbd\",\"body\":\"\\\"\xef\xbf\xbd\\\"\",\"meta\":{}}");
}

TEST_CASE("C1 controls, bidirectional overrides and bytes that are not UTF-8 never reach the terminal") {
  // U+009B (CSI to some terminals), U+202E (right-to-left override), U+2066 (isolate), a lone 0x9B byte.
  const std::string body =
      "{\"op\":0,\"t\":\"C2C_MESSAGE_CREATE\",\"d\":{\"content\":\"a\\u009b31mb\\u202ec\\u2066d\"}}";
  CHECK(line("C2C_MESSAGE_CREATE", body).ends_with(" a 31mb c d"));
  CHECK(line("C\x9b"
             "31m",
             "{}")
            .find('\x9b') == std::string::npos);
}

TEST_CASE("relay_seq is read from the metadata") {
  CHECK(relay::sub::relay_seq_of(k_gateway_meta) == 28u);
  CHECK_FALSE(relay::sub::relay_seq_of("{}"));
  CHECK_FALSE(relay::sub::relay_seq_of("nope"));
}

TEST_CASE("display width and cutting") {
  CHECK(relay::sub::display_width("abc") == 3);
  CHECK(relay::sub::display_width("你好") == 4);
  CHECK(relay::sub::display_width("e\u0301") == 1);
  CHECK(relay::sub::cut_to_width("你好世界", 5) == "你好…");
  CHECK(relay::sub::cut_to_width("你好世界", 8) == "你好世界");
  CHECK(relay::sub::cut_to_width("abcdef", 4) == "abc…");
}

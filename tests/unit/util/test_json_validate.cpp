#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <simdjson.h>

#include "util/json_validate.hpp"

using relay::util::find_json_fault;
using relay::util::is_valid_json;

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// simdjson's DOM parser validates a whole document, UTF-8 included; its range and depth limits are not
// grammar.
enum class Oracle { valid, invalid, no_opinion };
Oracle simdjson_says(std::string_view text) {
  static simdjson::dom::parser parser;
  simdjson::dom::element element;
  switch (parser.parse(text.data(), text.size()).get(element)) {
    case simdjson::SUCCESS:
      return Oracle::valid;
    case simdjson::NUMBER_ERROR:
    case simdjson::DEPTH_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
      return Oracle::no_opinion;
    default:
      return Oracle::invalid;
  }
}

}  // namespace

TEST_CASE("is_valid_json accepts one strict JSON document") {
  for (const char* text :
       {"{}", "[]", "0", "-0", "-0.5e+10", "1E-2", "true", "false", "null", "\"\"",
        " \t\r\n{ \"a\" : [ 1 , 2 , { } , [ ] ] } \n",
        R"({"op":0,"s":1,"t":"X","d":{"content":"群 é 😀","esc":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}})",
        "[18446744073709551616, 1e400, 123456789012345678901234567890]"}) {
    INFO(text);
    CHECK(is_valid_json(text));
  }
}

TEST_CASE("is_valid_json refuses what the decoder used to let through, and says where") {
  struct Case {
    std::string text;
    std::size_t offset;
    std::string_view what;
  };
  const Case cases[] = {
      {R"({"op":0,"d":{}} trailing)", 16, "more bytes after the document"},
      {R"({"op":0,"d":{}}{"op":0})", 15, "more bytes after the document"},
      {R"({"d": f})", 6, "not true, false or null"},
      {R"({"d": tru})", 6, "not true, false or null"},
      {R"({"d": nul})", 6, "not true, false or null"},
      {R"({"d": 01})", 7, "expected ',' or '}'"},
      {R"({"d": 1.})", 8, "a fraction needs a digit"},
      {R"({"d": 1e})", 8, "an exponent needs a digit"},
      {R"({"d": -})", 7, "a number needs a digit"},
      {R"({"d": "\x"})", 8, "not a JSON escape"},
      {R"({"d": "\ud800"})", 13, "a high surrogate without a low one"},
      {R"({"d": "\ud800\u0041"})", 19, "a high surrogate without a low one"},
      {R"({"d": "\udc00"})", 13, "a low surrogate without a high one"},
      {R"({"d": "\u12"})", 9, "\\u needs four hex digits"},
      {"{\"d\": \"\xff\"}", 7, "not UTF-8"},
      {"{\"d\": \"\xed\xa0\x80\"}", 7, "not UTF-8"},
      {"{\"d\": \"\xc0\xaf\"}", 7, "not UTF-8"},
      {"{\"d\": \"a\nb\"}", 8, "a control character in a string"},
      {R"({"d": "open)", 11, "a string is not closed"},
      {R"({"d": [1,]})", 9, "expected a value"},
      {R"({"d": 1,})", 8, "expected a member name"},
      {R"({d: 1})", 1, "expected a member name"},
      {R"({"d" 1})", 5, "expected ':'"},
      {R"([1 2])", 3, "expected ',' or ']'"},
      {"", 0, "expected a value, found the end"},
      {"   ", 3, "expected a value, found the end"},
      {"{", 1, "expected a member name"},
      {"[", 1, "expected a value, found the end"},
      {"NaN", 0, "expected a value"},
      {"'x'", 0, "expected a value"},
      {"\xef\xbb\xbf{}", 0, "expected a value"},  // a byte order mark is not JSON whitespace
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto fault = find_json_fault(c.text);
    REQUIRE(fault);
    CHECK(fault->offset == c.offset);
    CHECK(fault->what == c.what);
    CHECK(simdjson_says(c.text) != Oracle::valid);
  }
}

TEST_CASE("is_valid_json limits nesting") {
  const std::size_t limit = relay::util::k_max_json_depth;
  CHECK(is_valid_json(std::string(limit, '[') + std::string(limit, ']')));
  const auto fault = find_json_fault(std::string(limit + 1, '[') + std::string(limit + 1, ']'));
  REQUIRE(fault);
  CHECK(fault->offset == limit);
}

TEST_CASE("is_valid_json agrees with simdjson on every fixture and on mutations of them") {
  std::mt19937 random(20261206);
  std::size_t compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(RELAY_TEST_DATA_DIR "/fixtures")) {
    if (entry.path().extension() != ".json") {
      continue;
    }
    const std::string fixture = read_file(entry.path());
    INFO(entry.path().filename().string());
    REQUIRE(is_valid_json(fixture));
    const std::string bytes = "{}[]\",:\\/-+.0123456789eEtfnulr \t\n\xc3\xa9\xed\xa0\x80\xff\x01u";
    for (int round = 0; round < 300; ++round) {
      std::string text = fixture;
      for (int edits = 1 + static_cast<int>(random() % 3); edits > 0 && !text.empty(); --edits) {
        const std::size_t at = random() % text.size();
        switch (random() % 3) {
          case 0:
            text[at] = bytes[random() % bytes.size()];
            break;
          case 1:
            text.erase(at, 1 + random() % 4);
            break;
          default:
            text.insert(at, 1, bytes[random() % bytes.size()]);
        }
      }
      const Oracle oracle = simdjson_says(text);
      if (oracle == Oracle::no_opinion) {
        continue;
      }
      INFO(text);
      CHECK(is_valid_json(text) == (oracle == Oracle::valid));
      ++compared;
    }
  }
  CHECK(compared > 10000);
}

TEST_CASE("the check lists the top-level object's members: names as written, values without whitespace") {
  relay::util::JsonTopMembers members;
  REQUIRE_FALSE(relay::util::find_json_fault(
      R"( { "op" : 0 , "d" : { "a" : [ 1 , {} ] } ,"t\u0041":"x\"y" } )", members));
  REQUIRE(members.is_object);
  REQUIRE_FALSE(members.too_many);
  REQUIRE(members.max_depth == 4);  // the object, d, the array, the empty object in it
  REQUIRE(members.count == 3);
  CHECK(members.members[0].key == "op");
  CHECK(members.members[0].value == "0");
  CHECK(members.members[1].key == "d");
  CHECK(members.members[1].value == R"({ "a" : [ 1 , {} ] })");
  CHECK(members.members[2].key == R"(t\u0041)");
  CHECK(members.members[2].value == R"("x\"y")");

  REQUIRE_FALSE(relay::util::find_json_fault("[1,{\"a\":2}]", members));
  CHECK_FALSE(members.is_object);
  CHECK(members.count == 0);

  REQUIRE_FALSE(relay::util::find_json_fault("{}", members));
  CHECK(members.count == 0);

  std::string many = "{";
  for (std::size_t i = 0; i <= relay::util::JsonTopMembers::k_max_members; ++i) {
    many += (i == 0 ? "\"k" : ",\"k") + std::to_string(i) + "\":" + std::to_string(i);
  }
  many += "}";
  REQUIRE_FALSE(relay::util::find_json_fault(many, members));
  CHECK(members.too_many);
  CHECK(members.count == relay::util::JsonTopMembers::k_max_members);

  // A document with a fault lists nothing.
  REQUIRE(relay::util::find_json_fault(R"({"op":0,"d":{}} x)", members));
  CHECK(members.count == 0);
  CHECK_FALSE(members.is_object);
}

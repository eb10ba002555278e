// scan_frame, append_with_seq and the routing key of every frame published to SDK bots (downstream/
// frame_layout, protocol/event_routing). The input is the frame. Whatever the bytes, no read out of bounds
// and every view points into the frame. When the frame is one valid JSON object (util::is_valid_json) that
// simdjson reads too, the views agree with simdjson: op, s and d are the raw text of the first member whose
// key is written exactly so, t and id that member's string without its quotes (empty when the first such
// member is not a string); append_with_seq gives valid JSON whose members are the frame's with the first "s"
// set to the number, or with "s" inserted first where there was none. routing_key(t, d) names a key that
// `d` holds, and shard_of() stays below the shard count.
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "downstream/frame_layout.hpp"
#include "fuzz_check.hpp"
#include "protocol/event_routing.hpp"
#include "util/json_validate.hpp"

namespace {

using relay::downstream::FrameLayout;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The top-level members of a JSON object: keys as written (escapes kept), values as simdjson's DOM minifies
// them, and a string value unescaped.
struct Member {
  std::string raw_key;
  std::string value;
  std::optional<std::string> string;
};

// Keys as written come from simdjson's On Demand API (which leaves keys escaped), values from its DOM.
std::optional<std::vector<Member>> members_of(std::string_view json) {
  simdjson::dom::parser dom;
  simdjson::dom::element root;
  simdjson::dom::object object;
  if (dom.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::vector<Member> members;
  for (const auto field : object) {
    Member member;
    member.value = simdjson::minify(field.value);
    std::string_view text;
    if (field.value.get_string().get(text) == simdjson::SUCCESS) {
      member.string = std::string(text);
    }
    members.push_back(std::move(member));
  }
  const simdjson::padded_string padded(json);
  simdjson::ondemand::parser on_demand;
  simdjson::ondemand::document document;
  simdjson::ondemand::object lazy;
  if (on_demand.iterate(padded).get(document) != simdjson::SUCCESS ||
      document.get_object().get(lazy) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::size_t i = 0;
  for (auto field : lazy) {
    simdjson::ondemand::raw_json_string key;
    if (field.key().get(key) != simdjson::SUCCESS || i >= members.size()) {
      return std::nullopt;
    }
    // The key's bytes up to its closing quote, in the valid (and padded) document.
    const char* end = key.raw();
    while (*end != '"') {
      end += *end == '\\' ? 2 : 1;
    }
    members[i++].raw_key.assign(key.raw(), end);
  }
  FUZZ_CHECK(i == members.size());
  return members;
}

std::optional<std::size_t> first(const std::vector<Member>& members, std::string_view key) {
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (members[i].raw_key == key) {
      return i;
    }
  }
  return std::nullopt;
}

std::optional<std::string> minified(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(json.data(), json.size()).get(element) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return simdjson::minify(element);
}

// A raw value view: the member's value exactly, without the whitespace around it.
void check_raw(std::string_view view, const std::vector<Member>& members, std::string_view key) {
  const auto at = first(members, key);
  if (!at) {
    FUZZ_CHECK(view.empty());
    return;
  }
  FUZZ_CHECK(!view.empty() && !is_space(view.front()) && !is_space(view.back()));
  FUZZ_CHECK(minified(view) == members[*at].value);
}

// A string view: the first member's string between its quotes, escapes as written.
void check_string(std::string_view view, const std::vector<Member>& members, std::string_view key) {
  const auto at = first(members, key);
  if (!at || !members[*at].string) {
    FUZZ_CHECK(view.empty());
    return;
  }
  FUZZ_CHECK(minified(fmt::format("\"{}\"", view)) == members[*at].value);
}

void check_append(std::string_view frame, const FrameLayout& layout, const std::vector<Member>& members,
                  std::uint64_t seq) {
  std::string out = "<";
  relay::downstream::append_with_seq(out, frame, layout, seq);
  FUZZ_CHECK(out.starts_with('<'));
  const std::string_view rewritten = std::string_view(out).substr(1);
  FUZZ_CHECK(relay::util::is_valid_json(rewritten));
  const auto after = members_of(rewritten);
  FUZZ_CHECK(after.has_value());
  std::vector<Member> expected = members;
  const std::string number = std::to_string(seq);
  if (const auto at = first(members, "s")) {
    expected[*at].value = number;
    expected[*at].string.reset();
  } else {
    expected.insert(expected.begin(), Member{"s", number, std::nullopt});
  }
  FUZZ_CHECK(after->size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    FUZZ_CHECK((*after)[i].raw_key == expected[i].raw_key);
    FUZZ_CHECK((*after)[i].value == expected[i].value);
  }
}

std::optional<std::string> string_member(simdjson::dom::element object, std::string_view key) {
  std::string_view text;
  if (object[key].get_string().get(text) == simdjson::SUCCESS) {
    return std::string(text);
  }
  return std::nullopt;
}

// The key names a member that `d` holds; an event without a key has none of the members a key comes from.
void check_routing(std::string_view type, std::string_view d) {
  using namespace relay::protocol;
  const RoutingKey key = routing_key(type, d);
  const RoutingKey again = routing_key(type, d);
  for (const unsigned count : {1u, 2u, 3u, 7u, 64u, 1024u, 65536u}) {
    FUZZ_CHECK(shard_of(key, count) < count);
    FUZZ_CHECK(shard_of(again, count) == shard_of(key, count));
  }
  FUZZ_CHECK(shard_of(key, 0) == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element object;
  const bool is_object =
      !d.empty() && parser.parse(d.data(), d.size()).get(object) == simdjson::SUCCESS && object.is_object();
  if (std::holds_alternative<std::monostate>(key)) {
    if (is_object) {
      for (const char* name : {"group_openid", "openid", "user_openid"}) {
        const auto text = string_member(object, name);
        FUZZ_CHECK(!text || text->empty());
      }
      simdjson::dom::element author;
      if (object["author"].get(author) == simdjson::SUCCESS && author.is_object()) {
        const auto text = string_member(author, "user_openid");
        FUZZ_CHECK(!text || text->empty());
      }
    }
    return;
  }
  FUZZ_CHECK(is_object);
  if (const auto* guild = std::get_if<GuildKey>(&key)) {
    const bool guild_event = type == "GUILD_CREATE" || type == "GUILD_UPDATE" || type == "GUILD_DELETE";
    simdjson::dom::element value;
    FUZZ_CHECK(object["guild_id"].get(value) == simdjson::SUCCESS ||
               (guild_event && object["id"].get(value) == simdjson::SUCCESS));
    std::uint64_t number = 0;
    std::string_view text;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
      FUZZ_CHECK(!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos);
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
      FUZZ_CHECK(ec == std::errc() && end == text.data() + text.size());
    } else {
      FUZZ_CHECK(value.get_uint64().get(number) == simdjson::SUCCESS);
    }
    FUZZ_CHECK(number == guild->guild_id);
    return;
  }
  const std::string& openid = std::get<OpenidKey>(key).openid;
  FUZZ_CHECK(!openid.empty());
  std::optional<std::string> author_openid;
  simdjson::dom::element author;
  if (object["author"].get(author) == simdjson::SUCCESS && author.is_object()) {
    author_openid = string_member(author, "user_openid");
  }
  FUZZ_CHECK(string_member(object, "group_openid") == openid || author_openid == openid ||
             string_member(object, "openid") == openid || string_member(object, "user_openid") == openid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  const FrameLayout layout = relay::downstream::scan_frame(frame);
  for (const std::string_view view : {layout.op, layout.s, layout.t, layout.id, layout.d}) {
    FUZZ_CHECK(inside(view, frame));
  }
  // The routing key of any bytes, as if they were a guild event's d.
  check_routing("GUILD_CREATE", frame);

  if (!relay::util::is_valid_json(frame)) {
    return 0;
  }
  const auto start = frame.find_first_not_of(" \t\r\n");
  FUZZ_CHECK(layout.object == (start != std::string_view::npos && frame[start] == '{'));
  const auto members = members_of(frame);
  if (!members) {
    return 0;  // beyond simdjson's number or depth limits
  }
  check_raw(layout.op, *members, "op");
  check_raw(layout.s, *members, "s");
  check_raw(layout.d, *members, "d");
  check_string(layout.t, *members, "t");
  check_string(layout.id, *members, "id");
  for (const std::uint64_t seq :
       {std::uint64_t{0}, std::uint64_t{2}, std::numeric_limits<std::uint64_t>::max()}) {
    check_append(frame, layout, *members, seq);
  }
  check_routing(layout.t, layout.d);
  return 0;
}

#include "sub/event_format.hpp"

#include <ctime>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "util/json_validate.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

namespace relay::sub {
namespace {

enum class Colour { plain, dim, seq, topic, where, author, good, bad };

struct Segment {
  std::string text;
  Colour colour = Colour::plain;
};

std::string_view ansi(Colour colour) {
  switch (colour) {
    case Colour::dim:
      return "\x1b[2m";
    case Colour::seq:
      return "\x1b[36m";
    case Colour::topic:
      return "\x1b[1;33m";
    case Colour::where:
      return "\x1b[34m";
    case Colour::author:
      return "\x1b[32m";
    case Colour::good:
      return "\x1b[1;32m";
    case Colour::bad:
      return "\x1b[1;31m";
    case Colour::plain:
      break;
  }
  return "";
}

// Control characters become spaces: C0 (newlines, tabs, ESC), DEL, C1 (U+0080..U+009F: U+009B is CSI to
// some terminals) and the bidirectional overrides and isolates (they reorder what the line shows). Bytes that
// are not UTF-8 become U+FFFD. One event stays on one line, and a message cannot move the cursor, change
// colours or disguise itself.
std::string printable(std::string_view text) {
  std::string valid;
  util::append_valid_utf8(valid, text);
  std::string out;
  out.reserve(valid.size());
  for (std::size_t at = 0; at < valid.size();) {
    const std::size_t length = util::utf8_sequence_length(std::string_view(valid).substr(at));
    const std::string_view character(valid.data() + at, length);
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(character[i]); };
    const bool c0_or_del = length == 1 && (byte(0) < 0x20 || byte(0) == 0x7F);
    const bool c1 = length == 2 && byte(0) == 0xC2 && byte(1) < 0xA0;
    const bool bidi = length == 3 && byte(0) == 0xE2 &&
                      ((byte(1) == 0x80 && byte(2) >= 0xAA && byte(2) <= 0xAE) ||
                       (byte(1) == 0x81 && byte(2) >= 0xA6 && byte(2) <= 0xA9));
    if (c0_or_del || c1 || bidi) {
      out += ' ';
    } else {
      out += character;
    }
    at += length;
  }
  return out;
}

// simdjson's parser must not be given a null pointer, which an empty frame may have.
simdjson::simdjson_result<simdjson::dom::element> parse_json(simdjson::dom::parser& parser,
                                                             std::string_view text) {
  if (text.empty()) {
    return simdjson::EMPTY;
  }
  return parser.parse(text.data(), text.size());
}

std::optional<std::string_view> string_at(simdjson::dom::element element, std::string_view key) {
  std::string_view value;
  if (element.is_object() && element[key].get_string().get(value) == simdjson::SUCCESS) {
    return value;
  }
  return std::nullopt;
}

// An id as the line shows it: whole without a width, else its first and last 4 characters (enough to tell
// ids apart at a glance, whichever end of them varies; --json has them whole).
std::string id_text(std::string_view id, const LineStyle& style) {
  if (style.width == 0 || id.size() <= 12) {
    return printable(id);
  }
  return printable(id.substr(0, 4)) + "\u2026" + printable(id.substr(id.size() - 4));
}

std::string render(const std::vector<Segment>& segments, const LineStyle& style) {
  std::size_t total = 0;
  for (const Segment& segment : segments) {
    total += display_width(segment.text);
  }
  std::size_t room = style.width == 0 || total <= style.width ? total : style.width;
  const bool cut = room < total;
  std::string line;
  for (const Segment& segment : segments) {
    if (room == 0) {
      break;
    }
    std::string text = segment.text;
    const std::size_t width = display_width(text);
    if (cut && width >= room) {
      text = cut_to_width(text + " ", room);  // the extra column forces the ellipsis when it fits exactly
      room = 0;
    } else {
      room -= width;
    }
    const bool coloured = style.color && segment.colour != Colour::plain;
    if (coloured) {
      line += ansi(segment.colour);
    }
    line += text;
    if (coloured) {
      line += "\x1b[0m";
    }
  }
  return line;
}

void describe_shard_state(std::vector<Segment>& segments, simdjson::dom::element body) {
  const std::string state(string_at(body, "state").value_or("?"));
  const bool down = state == "disconnected" || state == "stopped";
  segments.push_back({" " + printable(state), down ? Colour::bad : Colour::good});
  if (!down) {
    return;
  }
  std::int64_t code = 0;
  if (body["close_code"].get_int64().get(code) == simdjson::SUCCESS) {
    segments.push_back({fmt::format(" close {}", code)});
  }
  bool will_resume = false;
  if (body["will_resume"].get_bool().get(will_resume) == simdjson::SUCCESS) {
    segments.push_back({will_resume ? ", will resume" : ", new session"});
  }
  if (const auto reason = string_at(body, "reason"); reason && !reason->empty()) {
    segments.push_back({": " + printable(*reason)});
  }
}

// Where the event happened, who wrote it and what: the fields the QQ events carry (docs/subscribing.md).
void describe_event(std::vector<Segment>& segments, simdjson::dom::element body, const LineStyle& style) {
  const simdjson::dom::element data = body.is_object() ? body["d"].value_unsafe() : body;
  if (!body.is_object() || body["d"].error() != simdjson::SUCCESS || !data.is_object()) {
    return;
  }
  if (const auto group = string_at(data, "group_openid")) {
    segments.push_back({" group " + id_text(*group, style), Colour::where});
  }
  if (const auto guild = string_at(data, "guild_id")) {
    segments.push_back({" guild " + id_text(*guild, style), Colour::where});
  }
  if (const auto channel = string_at(data, "channel_id")) {
    segments.push_back({" channel " + id_text(*channel, style), Colour::where});
  }
  std::optional<std::string> author;
  if (data["author"].is_object()) {
    const simdjson::dom::element who = data["author"].value_unsafe();
    if (const auto name = string_at(who, "username")) {
      author = printable(*name);
    } else if (const auto member = string_at(who, "member_openid")) {
      author = id_text(*member, style);
    } else if (const auto user = string_at(who, "user_openid")) {
      author = id_text(*user, style);
    }
  }
  const auto content = string_at(data, "content");
  if (author) {
    segments.push_back({" " + *author + (content ? ":" : ""), Colour::author});
  }
  if (content) {
    segments.push_back({" " + printable(*content)});
  }
}

}  // namespace

std::string local_clock(std::int64_t unix_us) {
  const std::time_t seconds = static_cast<std::time_t>(unix_us / 1000000);
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) {
    return "--:--:--.---";
  }
  return fmt::format("{:02}:{:02}:{:02}.{:03}", local.tm_hour, local.tm_min, local.tm_sec,
                     (unix_us % 1000000) / 1000);
}

std::optional<std::uint64_t> relay_seq_of(std::string_view meta) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::uint64_t seq = 0;
  if (parse_json(parser, meta).get(doc) != simdjson::SUCCESS ||
      doc["relay_seq"].get_uint64().get(seq) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return seq;
}

std::string node_of(std::string_view meta) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view node;
  if (parse_json(parser, meta).get(doc) != simdjson::SUCCESS ||
      doc["node"].get_string().get(node) != simdjson::SUCCESS) {
    return {};
  }
  return std::string(node);
}

std::string format_line(const Frames& frames, const LineStyle& style) {
  simdjson::dom::parser meta_parser;
  simdjson::dom::parser body_parser;
  simdjson::dom::element meta;
  const bool meta_ok =
      parse_json(meta_parser, frames.meta).get(meta) == simdjson::SUCCESS && meta.is_object();
  std::vector<Segment> segments;
  std::int64_t received_us = 0;
  const bool timed = meta_ok && meta["received_at_us"].get_int64().get(received_us) == simdjson::SUCCESS;
  segments.push_back({timed ? local_clock(received_us) : "--:--:--.---", Colour::dim});
  std::uint64_t seq = 0;
  const bool sequenced = meta_ok && meta["relay_seq"].get_uint64().get(seq) == simdjson::SUCCESS;
  // Contract 2 names the relay (its node): in a cluster each relay numbers its own stream, so "a #28" and
  // "b #28" are two messages. Version 1 metadata has no node, and neither has an unnamed relay.
  if (const std::string node(meta_ok ? string_at(meta, "node").value_or("") : ""); !node.empty()) {
    segments.push_back({" " + printable(node), Colour::where});
  }
  segments.push_back({sequenced ? fmt::format(" #{}", seq) : " #?", Colour::seq});
  segments.push_back({" " + printable(frames.topic), Colour::topic});
  const std::string source(meta_ok ? string_at(meta, "source").value_or("") : "");
  if (source == "webhook") {
    segments.push_back({" webhook", Colour::where});
  } else if (simdjson::dom::array shard;
             meta_ok && meta["shard"].get_array().get(shard) == simdjson::SUCCESS && shard.size() == 2) {
    segments.push_back({fmt::format(" shard {}/{}", shard.at(0).get_int64().value_unsafe(),
                                    shard.at(1).get_int64().value_unsafe()),
                        Colour::where});
  }
  simdjson::dom::element body;
  if (parse_json(body_parser, frames.body).get(body) != simdjson::SUCCESS) {
    segments.push_back({fmt::format(" (body is not JSON, {} bytes)", frames.body.size()), Colour::bad});
  } else if (source == "relay" || frames.topic.ends_with("relay.shard")) {
    describe_shard_state(segments, body);
  } else {
    describe_event(segments, body, style);
  }
  return render(segments, style);
}

std::string format_json(const Frames& frames) {
  const auto quoted = [](std::string_view text) {
    std::string out;
    util::append_json_string(out, text);
    return out;
  };
  const auto value = [&](std::string_view json) {
    // The strict check, not simdjson's parser: that one lets numbers such as 01 or 1. through as NUMBER_ERROR
    // (which it also gives for integers beyond 64 bits, valid JSON that must pass unchanged).
    if (!util::is_valid_json(json)) {
      return quoted(json);
    }
    std::string out(json.size(), '\0');
    std::size_t length = 0;
    if (simdjson::minify(json.data(), json.size(), out.data(), length) != simdjson::SUCCESS) {
      return quoted(json);
    }
    out.resize(length);
    return out;
  };
  return "{\"topic\":" + quoted(frames.topic) + ",\"body\":" + value(frames.body) +
         ",\"meta\":" + value(frames.meta) + "}";
}

}  // namespace relay::sub

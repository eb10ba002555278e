#include "protocol/event_routing.hpp"

#include <charconv>
#include <optional>

#include <simdjson.h>

namespace relay::protocol {
namespace {

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const char c : text) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  return hash;
}

bool is_guild_event(std::string_view type) {
  return type == "GUILD_CREATE" || type == "GUILD_UPDATE" || type == "GUILD_DELETE";
}

std::optional<std::uint64_t> numeric_id(simdjson::dom::element value) {
  std::string_view text;
  std::uint64_t id = 0;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
      return id;
    }
    return std::nullopt;
  }
  if (value.get_uint64().get(id) == simdjson::SUCCESS) {
    return id;
  }
  return std::nullopt;
}

std::optional<std::string_view> text_of(simdjson::dom::element object, std::string_view key) {
  std::string_view text;
  if (object[key].get_string().get(text) == simdjson::SUCCESS && !text.empty()) {
    return text;
  }
  return std::nullopt;
}

}  // namespace

RoutingKey routing_key(std::string_view event_type, std::string_view d) {
  // One parser per thread, reused: it keeps its buffers, so an event costs no allocation.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element object;
  // An empty view may hold a null pointer (a frame without d), which the parser must not be given.
  if (d.empty() || parser.parse(d.data(), d.size()).get(object) != simdjson::SUCCESS || !object.is_object()) {
    return {};
  }
  simdjson::dom::element value;
  if (object["guild_id"].get(value) == simdjson::SUCCESS ||
      (is_guild_event(event_type) && object["id"].get(value) == simdjson::SUCCESS)) {
    if (const auto id = numeric_id(value)) {
      return GuildKey{*id};
    }
  }
  if (const auto group = text_of(object, "group_openid")) {
    return OpenidKey{std::string(*group)};
  }
  simdjson::dom::element author;
  if (object["author"].get(author) == simdjson::SUCCESS && author.is_object()) {
    if (const auto user = text_of(author, "user_openid")) {
      return OpenidKey{std::string(*user)};
    }
  }
  for (const std::string_view key : {"openid", "user_openid"}) {
    if (const auto user = text_of(object, key)) {
      return OpenidKey{std::string(*user)};
    }
  }
  return {};
}

unsigned shard_of(const RoutingKey& key, unsigned count) {
  if (count <= 1) {
    return 0;
  }
  if (const auto* guild = std::get_if<GuildKey>(&key)) {
    return static_cast<unsigned>((guild->guild_id >> 22) % count);
  }
  if (const auto* openid = std::get_if<OpenidKey>(&key)) {
    return static_cast<unsigned>(fnv1a(openid->openid) % count);
  }
  return 0;
}

}  // namespace relay::protocol

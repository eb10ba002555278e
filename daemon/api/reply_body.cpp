#include "api/reply_body.hpp"

#include <simdjson.h>

#include "util/json_validate.hpp"

namespace relay::api {
namespace {

// Where "msg_seq": null's null starts in the body, if it has one (the only null worth finding).
std::optional<std::size_t> null_msg_seq_offset(std::string_view body) {
  simdjson::padded_string padded(body);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document document;
  if (parser.iterate(padded).get(document) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  simdjson::ondemand::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    if (key != "msg_seq") {
      continue;
    }
    std::string_view raw;
    if (field.value().raw_json_token().get(raw) != simdjson::SUCCESS || !raw.starts_with("null")) {
      return std::nullopt;
    }
    return static_cast<std::size_t>(raw.data() - padded.data());
  }
  return std::nullopt;
}

}  // namespace

std::optional<ReplyFields> read_reply_fields(std::string_view body) {
  if (!util::is_valid_json(body)) {
    return std::nullopt;
  }
  simdjson::padded_string padded(body);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document document;
  simdjson::ondemand::object object;
  if (parser.iterate(padded).get(document) != simdjson::SUCCESS ||
      document.get_object().get(object) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  ReplyFields fields;
  std::string event_id;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    simdjson::ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    if (key != "msg_id" && key != "event_id" && key != "msg_seq") {
      continue;  // skipped unread by the iteration
    }
    bool is_null = false;
    if (value.is_null().get(is_null) == simdjson::SUCCESS && is_null) {
      continue;
    }
    if (key == "msg_seq") {
      fields.has_msg_seq = true;
      std::uint64_t seq = 0;
      if (value.get_uint64().get(seq) == simdjson::SUCCESS) {
        fields.msg_seq = seq;
      }
      continue;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS || text.empty()) {
      continue;
    }
    if (key == "msg_id") {
      fields.reply_to = text;
    } else {
      event_id = text;
    }
  }
  if (fields.reply_to.empty()) {
    fields.reply_to = std::move(event_id);
  }
  return fields;
}

std::string with_msg_seq(std::string_view body, std::uint64_t seq) {
  const std::string number = std::to_string(seq);
  if (const auto null_at = null_msg_seq_offset(body)) {
    std::string out(body.substr(0, *null_at));
    out += number;
    out += body.substr(*null_at + 4);
    return out;
  }
  // A new first member: the body is a valid object, so its first non-space byte is '{'.
  const std::size_t brace = body.find('{');
  const std::size_t first = body.find_first_not_of(" \t\r\n", brace + 1);
  const bool empty_object = first != std::string_view::npos && body[first] == '}';
  std::string out(body.substr(0, brace + 1));
  out += "\"msg_seq\":";
  out += number;
  if (!empty_object) {
    out += ',';
  }
  out += body.substr(brace + 1);
  return out;
}

}  // namespace relay::api

// The OpenAPI send endpoints: C2C and group messages with the passive-reply rules, rich-media uploads, guild
// channel and DM messages (JSON or multipart), /users/@me and DM sessions. Shapes: OPENAPI.md sections 1,
// 2, 4.
#include <algorithm>
#include <ctime>
#include <iterator>
#include <vector>

#include <fmt/format.h>

#include "multipart.hpp"
#include "openapi.hpp"
#include "util/json_writer.hpp"

namespace qqsim {

namespace {

using relay::util::append_json_string;

// Seconds a file_info stays usable, as "ttl" says (DOCS rich-media.md: 0 would mean long-lived).
constexpr std::int64_t k_file_ttl = 3600;
// The guild every channel belongs to: the simulator keeps no guilds.
constexpr std::string_view k_sim_guild_id = "5237615478283154023";
constexpr std::size_t k_max_dm_sessions = 10000;

// The simulator's own answer to a body it cannot read; the platform's code for it is unconfirmed.
HttpResponse bad_request(std::string_view message, std::string_view trace_id) {
  return api_error(400, 400, message, trace_id);
}

bool parse_body(const ApiCall& call, JsonObject& body, HttpResponse& error) {
  auto parsed = parse_json_object(call.request.body);
  if (!parsed) {
    error = bad_request("invalid request body: " + parsed.error(), call.trace_id);
    return false;
  }
  body = std::move(*parsed);
  return true;
}

bool present(const JsonObject& body, std::string_view key) {
  const JsonMember* m = body.find(key);
  return m != nullptr && m->kind != JsonKind::null;
}

}  // namespace

std::string OpenApi::new_message_id(bool v2) {
  return v2 ? "ROBOT1.0_" + random_.token(40) : random_.token(32);
}

std::string OpenApi::bot_user_id() const {
  // BOTPY does int(id) (OPENAPI.md section 4): the id must be a numeric string.
  const bool numeric = !opt_.app_id.empty() && std::all_of(opt_.app_id.begin(), opt_.app_id.end(),
                                                           [](char c) { return c >= '0' && c <= '9'; });
  return numeric ? opt_.app_id : "1";
}

HttpResponse OpenApi::send_v2(const ApiCall& call, bool group) {
  (void)group;  // C2C and group follow the same rules here; only their reply windows differ (not enforced)
  JsonObject body;
  HttpResponse error;
  if (!parse_body(call, body, error)) {
    return error;
  }
  // Passive when msg_id or event_id is given; the dedup key is msg_seq with either (BOTGO message_create.go).
  std::string reference;
  if (const auto id = body.get_string("msg_id"); id && !id->empty()) {
    reference = "msg_id:" + *id;
  } else if (const auto event = body.get_string("event_id"); event && !event->empty()) {
    reference = "event_id:" + *event;
  } else {
    // Active push is discontinued (DOCS send.md, 2025-04-21); the code as reported in HKUDS/nanobot#1307.
    return api_error(400, 40034102, "主动消息失败, 无权限", call.trace_id);
  }
  std::int64_t msg_seq = 1;  // "不填默认是1" (DOCS send.md)
  if (present(body, "msg_seq")) {
    const auto v = body.get_int("msg_seq");
    if (!v) {
      return bad_request("msg_seq must be an integer", call.trace_id);
    }
    msg_seq = *v;
  }
  switch (replies_.claim(reference, msg_seq)) {
    case ReplyLedger::Verdict::duplicate:
      return api_error(400, 40054005, "消息被去重，请检查请求msgseq", call.trace_id);
    case ReplyLedger::Verdict::exhausted:
      // Code 22009 as openclaw/openclaw#104634 cites the docs, the text as YesWeAreBot/YesImBot#141 saw it;
      // the HTTP status is unconfirmed.
      return api_error(400, 22009, "reply msg exceed limit", call.trace_id);
    case ReplyLedger::Verdict::ok:
      break;
  }
  HttpResponse r{200, R"({"id":)"};
  append_json_string(r.body, new_message_id(true));
  fmt::format_to(std::back_inserter(r.body), R"(,"timestamp":{}}})",
                 static_cast<std::int64_t>(std::time(nullptr)));
  return r;
}

HttpResponse OpenApi::upload_v2(const ApiCall& call) {
  JsonObject body;
  HttpResponse error;
  if (!parse_body(call, body, error)) {
    return error;
  }
  const auto file_type = body.get_int("file_type");
  if (!file_type || *file_type < 1 || *file_type > 4) {
    return bad_request("file_type must be 1 (image), 2 (video), 3 (voice) or 4 (file)", call.trace_id);
  }
  const bool has_url = body.get_string("url").has_value();
  const bool has_data = body.get_string("file_data").has_value();
  if (!has_url && !has_data) {
    return bad_request("url or file_data is required", call.trace_id);
  }
  if (present(body, "srv_send_msg") && !body.get_bool("srv_send_msg")) {
    return bad_request("srv_send_msg must be a boolean", call.trace_id);
  }
  std::string uuid = random_.uuid();
  uuid.erase(std::remove(uuid.begin(), uuid.end(), '-'), uuid.end());
  HttpResponse r{200, R"({"file_uuid":)"};
  append_json_string(r.body, uuid);
  r.body += R"(,"file_info":)";
  append_json_string(r.body, random_.token(96));
  fmt::format_to(std::back_inserter(r.body), R"(,"ttl":{})", k_file_ttl);
  if (body.get_bool("srv_send_msg").value_or(false)) {
    r.body += R"(,"id":)";
    append_json_string(r.body, new_message_id(true));
  }
  r.body += '}';
  return r;
}

HttpResponse OpenApi::send_guild(const ApiCall& call, bool dm) {
  // At least one of these (DOCS post_messages.md); file_image only in multipart.
  static constexpr std::string_view k_payload_fields[] = {"content", "embed",      "ark",
                                                          "image",   "file_image", "markdown"};
  std::string content;
  bool has_payload = false;
  const auto boundary = multipart_boundary(call.request.content_type.value_or(""));
  if (boundary) {
    std::vector<FormPart> parts;
    std::string why;
    if (!parse_multipart(call.request.body, *boundary, parts, why)) {
      return bad_request("invalid multipart body: " + why, call.trace_id);
    }
    for (const FormPart& part : parts) {
      if (part.name == "content") {
        content = part.data;
      }
      has_payload = has_payload || std::find(std::begin(k_payload_fields), std::end(k_payload_fields),
                                             part.name) != std::end(k_payload_fields);
    }
  } else {
    JsonObject body;
    HttpResponse error;
    if (!parse_body(call, body, error)) {
      return error;
    }
    content = body.get_string("content").value_or("");
    for (std::string_view field : k_payload_fields) {
      has_payload = has_payload || present(body, field);
    }
  }
  if (!has_payload) {
    return api_error(400, 50006, "CannotSendEmptyMessage", call.trace_id);
  }
  std::string channel_id = call.target;
  std::string guild_id(k_sim_guild_id);
  if (dm) {
    guild_id = call.target;
    const auto it = dm_channels_.find(call.target);
    channel_id = it != dm_channels_.end() ? it->second : call.target;
  }
  ++messages_;
  HttpResponse r{200, R"({"id":)"};
  append_json_string(r.body, new_message_id(false));
  r.body += R"(,"channel_id":)";
  append_json_string(r.body, channel_id);
  r.body += R"(,"guild_id":)";
  append_json_string(r.body, guild_id);
  r.body += R"(,"content":)";
  append_json_string(r.body, content);
  r.body += R"(,"timestamp":)";
  append_json_string(r.body, rfc3339_now());
  r.body += R"(,"tts":false,"mention_everyone":false,"author":{"id":)";
  append_json_string(r.body, bot_user_id());
  fmt::format_to(std::back_inserter(r.body),
                 R"(,"username":"sim-bot","avatar":"","bot":true}},"pinned":false,"type":0,"flags":0,)"
                 R"("seq_in_channel":"{}"}})",
                 messages_);
  return r;
}

HttpResponse OpenApi::me(const ApiCall& call) {
  (void)call;
  HttpResponse r{200, R"({"id":)"};
  append_json_string(r.body, bot_user_id());
  r.body += R"(,"username":"sim-bot","avatar":"","union_openid":"","union_user_account":""})";
  return r;
}

HttpResponse OpenApi::create_dms(const ApiCall& call) {
  JsonObject body;
  HttpResponse error;
  if (!parse_body(call, body, error)) {
    return error;
  }
  if (!body.get_string("recipient_id") || !body.get_string("source_guild_id")) {
    return bad_request("recipient_id and source_guild_id (strings) are required", call.trace_id);
  }
  ++dm_sessions_;
  const std::string guild_id = fmt::format("{}", 9'100'000'000'000'000'000ULL + dm_sessions_);
  const std::string channel_id = fmt::format("{}", 9'200'000'000'000'000'000ULL + dm_sessions_);
  if (dm_channels_.size() >= k_max_dm_sessions) {
    dm_channels_.clear();
  }
  dm_channels_[guild_id] = channel_id;
  HttpResponse r{200, R"({"guild_id":)"};
  append_json_string(r.body, guild_id);
  r.body += R"(,"channel_id":)";
  append_json_string(r.body, channel_id);
  r.body += R"(,"create_time":)";
  append_json_string(r.body, rfc3339_now());
  r.body += '}';
  return r;
}

}  // namespace qqsim

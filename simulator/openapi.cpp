// The OpenAPI endpoints of the fake platform: routing, Authorization, faults and recording.
#include "openapi.hpp"

#include <iterator>
#include <vector>

#include <fmt/format.h>

#include "log.hpp"
#include "util/json_writer.hpp"
#include "util/time.hpp"

namespace qqsim {

namespace {

// Bodies of recorded requests and answers kept at most (besides --log-limit entries): 16 uploads of 16 MiB.
constexpr std::size_t k_record_bytes = 256u * 1024u * 1024u;
// msg_id / event_id references whose replies are remembered.
constexpr std::size_t k_reply_references = 100000;

enum class Route : std::uint8_t {
  none,
  c2c_send,
  group_send,
  c2c_files,
  group_files,
  channel_send,
  dm_send,
  recall,
  me,
  create_dms,
};

struct Match {
  Route route = Route::none;
  std::string_view method;
  std::string target;
  std::string message_id;
};

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.starts_with('/')) {
    return out;
  }
  path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      return out;
    }
    path.remove_prefix(slash + 1);
  }
}

// The endpoints of OPENAPI.md section 1 and 4 that the simulator serves.
Match match(std::string_view path) {
  const std::vector<std::string_view> s = segments(path);
  for (std::string_view part : s) {
    if (part.empty()) {
      return {};
    }
  }
  const std::size_t n = s.size();
  if (n >= 4 && s[0] == "v2" && (s[1] == "users" || s[1] == "groups")) {
    const bool group = s[1] == "groups";
    if (n == 4 && s[3] == "messages") {
      return {group ? Route::group_send : Route::c2c_send, "POST", std::string(s[2]), {}};
    }
    if (n == 4 && s[3] == "files") {
      return {group ? Route::group_files : Route::c2c_files, "POST", std::string(s[2]), {}};
    }
    if (n == 5 && s[3] == "messages") {
      return {Route::recall, "DELETE", std::string(s[2]), std::string(s[4])};
    }
    return {};
  }
  if (n >= 3 && (s[0] == "channels" || s[0] == "dms") && s[2] == "messages") {
    if (n == 3) {
      return {s[0] == "dms" ? Route::dm_send : Route::channel_send, "POST", std::string(s[1]), {}};
    }
    if (n == 4) {
      return {Route::recall, "DELETE", std::string(s[1]), std::string(s[3])};
    }
    return {};
  }
  if (n == 2 && s[0] == "users" && s[1] == "@me") {
    return {Route::me, "GET", {}, {}};
  }
  if (n == 3 && s[0] == "users" && s[1] == "@me" && s[2] == "dms") {
    return {Route::create_dms, "POST", {}, {}};
  }
  return {};
}

// 32 lowercase hex digits, like the platform's trace ids.
std::string new_trace_id(Random& random) {
  std::string uuid = random.uuid();
  std::string out;
  out.reserve(32);
  for (char c : uuid) {
    if (c != '-') {
      out += c;
    }
  }
  return out;
}

}  // namespace

HttpResponse api_error(int status, std::int64_t code, std::string_view message, std::string_view trace_id) {
  HttpResponse r{status, fmt::format(R"({{"code":{},"message":)", code)};
  relay::util::append_json_string(r.body, message);
  fmt::format_to(std::back_inserter(r.body), R"(,"err_code":{},"trace_id":)", code);
  relay::util::append_json_string(r.body, trace_id);
  r.body += '}';
  return r;
}

OpenApi::OpenApi(const Options& options, const TokenStore& tokens, Random& random)
    : opt_(options),
      tokens_(tokens),
      random_(random),
      replies_(k_reply_references),
      recorder_(options.log_limit, k_record_bytes) {}

bool OpenApi::authorized(const HttpRequest& request) const {
  if (request.appid && *request.appid != opt_.app_id) {
    return false;
  }
  if (!request.authorization) {
    return false;
  }
  const std::string_view auth = *request.authorization;
  constexpr std::string_view k_qqbot = "QQBot ";
  if (auth.starts_with(k_qqbot)) {
    return tokens_.valid(auth.substr(k_qqbot.size()), SteadyClock::now());
  }
  return !opt_.bot_token.empty() && auth == fmt::format("Bot {}.{}", opt_.app_id, opt_.bot_token);
}

HttpResponse OpenApi::handle(const HttpRequest& request) {
  const std::string trace_id = new_trace_id(random_);
  const std::optional<ApiFault> fault = faults_.take(request.path);
  HttpResponse response = fault ? fault_answer(*fault, request, trace_id) : answer(request, trace_id);
  response.headers.emplace_back("X-Tps-trace-ID", trace_id);
  log(LogLevel::info, "{} {} -> {}", request.method, request.path,
      response.reset ? std::string("reset") : std::to_string(response.status));
  recorder_.add(ApiRecord{relay::util::unix_micros_now(), request, response.reset ? 0 : response.status,
                          response.body, trace_id,
                          fault ? std::string(fault_name(fault->kind)) : std::string(), response.delay_ms});
  return response;
}

HttpResponse OpenApi::fault_answer(const ApiFault& fault, const HttpRequest& request,
                                   const std::string& trace_id) {
  switch (fault.kind) {
    case ApiFaultKind::token_expired:
      return api_error(401, 11244, "token not exist or expire", trace_id);
    case ApiFaultKind::duplicate_seq:
      return api_error(400, 40054005, "消息被去重，请检查请求msgseq", trace_id);
    case ApiFaultKind::rate_limited:
      return api_error(429, 22009, "msg limit exceed", trace_id);
    case ApiFaultKind::server_error:
      return api_error(fault.status, fault.code, "internal error (fault api_server_error)", trace_id);
    case ApiFaultKind::reset: {
      HttpResponse r;
      r.status = 0;
      r.reset = true;
      return r;
    }
    case ApiFaultKind::slow: {
      HttpResponse r = answer(request, trace_id);
      r.delay_ms = fault.delay_ms;
      return r;
    }
  }
  return answer(request, trace_id);
}

HttpResponse OpenApi::answer(const HttpRequest& request, const std::string& trace_id) {
  Match m = match(request.path);
  if (m.route == Route::none) {
    return HttpResponse{404, R"({"code":404,"message":"not found"})"};
  }
  if (request.method != m.method) {
    return api_error(405, 405, "method not allowed", trace_id);
  }
  if (!authorized(request)) {
    return api_error(401, 11244, "token not exist or expire", trace_id);
  }
  const ApiCall call{request, std::move(m.target), std::move(m.message_id), trace_id};
  switch (m.route) {
    case Route::c2c_send:
    case Route::group_send:
      return send_v2(call, m.route == Route::group_send);
    case Route::c2c_files:
    case Route::group_files:
      return upload_v2(call);
    case Route::channel_send:
    case Route::dm_send:
      return send_guild(call, m.route == Route::dm_send);
    case Route::recall:
      // OPENAPI.md: "200 on success" and no body is documented (DOCS send-receive/reset.md).
      return HttpResponse{200, {}};
    case Route::me:
      return me(call);
    case Route::create_dms:
      return create_dms(call);
    case Route::none:
      break;
  }
  return HttpResponse{404, R"({"code":404,"message":"not found"})"};
}

HttpResponse OpenApi::control_requests(bool clear) {
  if (clear) {
    recorder_.clear();
    return HttpResponse{200, R"({"cleared":true})"};
  }
  std::string faults;
  faults_.append_json(faults);
  return HttpResponse{200, recorder_.to_json(faults)};
}

HttpResponse OpenApi::control_fault(std::string_view kind, const JsonObject& req) {
  if (const auto error = faults_.apply(kind, req)) {
    HttpResponse r{400, R"({"error":)"};
    append_json_text(r.body, *error);
    r.body += '}';
    return r;
  }
  HttpResponse r{200, R"({"kind":)"};
  relay::util::append_json_string(r.body, kind);
  r.body += R"(,"applied":[],"pending":)";
  faults_.append_json(r.body);
  r.body += '}';
  return r;
}

}  // namespace qqsim

// REST endpoints of the fake platform (token, /gateway, /gateway/bot) and the /_sim/ control API.
#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "log.hpp"
#include "simulator.hpp"
#include "util/hex.hpp"
#include "util/json_writer.hpp"
#include "util/time.hpp"

namespace qqsim {

namespace {

using relay::util::append_json_string;

HttpResponse platform_error(int status, std::int64_t code, std::string_view message) {
  HttpResponse r{status, fmt::format(R"({{"code":{},"message":)", code)};
  append_json_string(r.body, message);
  r.body += '}';
  return r;
}

HttpResponse control_error(int status, std::string_view message) {
  HttpResponse r{status, R"({"error":)"};
  append_json_text(r.body, message);
  r.body += '}';
  return r;
}

template <typename T>
void append_value_or_null(std::string& out, const std::optional<T>& v) {
  if (v) {
    fmt::format_to(std::back_inserter(out), "{}", *v);
  } else {
    out += "null";
  }
}

bool is_wildcard(std::string_view addr) {
  return addr.empty() || addr == "0.0.0.0" || addr == "::";
}

}  // namespace

HttpResponse Simulator::handle_http(const HttpRequest& request) {
  if (request.path == "/_sim" || request.path.starts_with("/_sim/")) {
    return handle_control(request);
  }
  HttpResponse response;
  const std::string& path = request.path;
  if (path == "/app/getAppAccessToken") {
    response =
        request.method == "POST" ? handle_token(request) : platform_error(405, 405, "method not allowed");
  } else if (path == "/gateway" || path == "/gateway/bot") {
    response = request.method == "GET" ? handle_gateway(request, path == "/gateway/bot")
                                       : platform_error(405, 405, "method not allowed");
  } else {
    // Everything else is the OpenAPI (openapi.cpp), recorded in /_sim/api/requests rather than here.
    return openapi_.handle(request);
  }
  log_.add(HttpEntry{request.method, request.path, request.authorization, request.appid, request.body,
                     response.status, relay::util::unix_micros_now()});
  log(LogLevel::info, "{} {} -> {}", request.method, request.path, response.status);
  return response;
}

HttpResponse Simulator::handle_token(const HttpRequest& request) {
  ++token_requests_;
  if (token_failures_left_ > 0) {
    --token_failures_left_;
    if (!token_failure_body_ && !token_failure_echo_) {
      return platform_error(token_failure_status_, token_failure_status_,
                            "service unavailable (token_outage)");
    }
    // A proxy's error page, or one that quotes the request (and with it the clientSecret).
    return HttpResponse{token_failure_status_,
                        (token_failure_echo_ ? request.body : "") + token_failure_body_.value_or("")};
  }
  const auto parsed = parse_json_object(request.body);
  if (!parsed) {
    return platform_error(400, 400, "invalid JSON body: " + parsed.error());
  }
  const JsonObject& body = *parsed;
  // Both values are strings on the real platform; a numeric appId is tolerated.
  std::optional<std::string> app_id = body.get_string("appId");
  if (!app_id) {
    if (const JsonMember* m = body.find("appId"); m != nullptr && m->kind == JsonKind::number) {
      app_id = m->raw;
    }
  }
  const auto secret = body.get_string("clientSecret");
  if (!app_id || !secret || *app_id != opt_.app_id || *secret != opt_.secret) {
    return platform_error(401, 100016, "invalid appid or secret");
  }
  const auto issued = tokens_.issue(random_, SteadyClock::now(), std::chrono::seconds(opt_.token_ttl));
  HttpResponse r{200, R"({"access_token":)"};
  append_json_string(r.body, issued.token);
  if (opt_.expires_in_number) {
    fmt::format_to(std::back_inserter(r.body), R"(,"expires_in":{}}})", issued.expires_in);
  } else {
    fmt::format_to(std::back_inserter(r.body), R"(,"expires_in":"{}"}})", issued.expires_in);
  }
  return r;
}

bool Simulator::valid_http_auth(const HttpRequest& request) const {
  if (!request.authorization || (request.appid && *request.appid != opt_.app_id)) {
    return false;
  }
  const std::string_view auth = *request.authorization;
  constexpr std::string_view k_qqbot = "QQBot ";
  if (auth.starts_with(k_qqbot)) {
    return request.appid && tokens_.valid(auth.substr(k_qqbot.size()), SteadyClock::now());
  }
  // The legacy token names the AppID itself: qq-guild-bot sends it without X-Union-Appid.
  return !opt_.bot_token.empty() && auth == fmt::format("Bot {}.{}", opt_.app_id, opt_.bot_token);
}

std::string Simulator::gateway_url(const HttpRequest& request) const {
  const std::string_view scheme = opt_.tls_cert.empty() ? "ws" : "wss";
  if (opt_.gateway_host.empty() && is_wildcard(opt_.listen) && !request.host.empty()) {
    return fmt::format("{}://{}/websocket/", scheme, request.host);
  }
  std::string host = !opt_.gateway_host.empty() ? opt_.gateway_host
                     : is_wildcard(opt_.listen) ? "127.0.0.1"
                                                : opt_.listen;
  if (host.find(':') != std::string::npos) {
    host = "[" + host + "]";
  }
  return fmt::format("{}://{}:{}/websocket/", scheme, host, port_);
}

HttpResponse Simulator::handle_gateway(const HttpRequest& request, bool bot) {
  if (!valid_http_auth(request)) {
    return platform_error(401, 11244, "token not exist or expire");
  }
  HttpResponse r{200, R"({"url":)"};
  append_json_string(r.body, gateway_url(request));
  if (bot) {
    fmt::format_to(std::back_inserter(r.body),
                   R"(,"shards":{},"session_start_limit":{{"total":{},"remaining":{},"reset_after":{},)"
                   R"("max_concurrency":{}}})",
                   opt_.shards, opt_.total, opt_.remaining, opt_.reset_after, opt_.max_concurrency);
  }
  r.body += '}';
  return r;
}

// ---- control API ---------------------------------------------------------------------------------

HttpResponse Simulator::handle_control(const HttpRequest& request) {
  const std::string& path = request.path;
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if (path == "/_sim/state") {
    return get ? control_state() : control_error(405, "use GET");
  }
  if (path == "/_sim/log") {
    return get ? HttpResponse{200, log_.to_json()} : control_error(405, "use GET");
  }
  if (path == "/_sim/log/clear") {
    if (!post) {
      return control_error(405, "use POST");
    }
    log_.clear();
    return HttpResponse{200, R"({"cleared":true})"};
  }
  if (path == "/_sim/api/requests" || path == "/_sim/api/requests/clear") {
    const bool clear = path.ends_with("/clear");
    if (request.method != (clear ? "POST" : "GET")) {
      return control_error(405, clear ? "use POST" : "use GET");
    }
    return openapi_.control_requests(clear);
  }
  if (path == "/_sim/webhook/results" || path == "/_sim/webhook/results/clear") {
    return control_webhook_results(request, path.ends_with("/clear"));
  }
  using Handler = HttpResponse (Simulator::*)(const JsonObject&);
  Handler handler = nullptr;
  if (path == "/_sim/send") {
    handler = &Simulator::control_send;
  } else if (path == "/_sim/fixtures") {
    handler = &Simulator::control_fixtures;
  } else if (path == "/_sim/generate") {
    handler = &Simulator::control_generate;
  } else if (path == "/_sim/fault") {
    handler = &Simulator::control_fault;
  } else if (path == "/_sim/config") {
    handler = &Simulator::control_config;
  } else if (path == "/_sim/webhook") {
    handler = &Simulator::control_webhook;
  } else {
    return control_error(404, "unknown control path " + path);
  }
  if (!post) {
    return control_error(405, "use POST");
  }
  const bool blank = std::all_of(request.body.begin(), request.body.end(),
                                 [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
  const auto parsed = blank ? JsonObject{} : parse_json_object(request.body);
  if (!parsed) {
    return control_error(400, "invalid JSON body: " + parsed.error());
  }
  const JsonObject& body = *parsed;
  HttpResponse response = (this->*handler)(body);
  log(LogLevel::info, "{} {} -> {}", request.method, path, response.status);
  return response;
}

HttpResponse Simulator::control_state() {
  HttpResponse r{200, {}};
  std::string& out = r.body;
  auto it = std::back_inserter(out);
  out.reserve(256 + connections_.size() * 256 + store_.shards().size() * 160);
  out += R"({"connections":[)";
  bool first = true;
  for (const auto& [id, conn] : connections_) {
    out += first ? "" : ",";
    first = false;
    fmt::format_to(it, R"({{"id":{},"shard":)", id);
    if (conn->shard) {
      fmt::format_to(it, "[{},{}]", *conn->shard, conn->shard_count);
    } else {
      out += "null";
    }
    out += R"(,"session_id":)";
    if (conn->session_id.empty()) {
      out += "null";
    } else {
      append_json_string(out, conn->session_id);
    }
    const std::uint64_t pending = conn->session != nullptr ? conn->session->gen.remaining : 0;
    fmt::format_to(
        it,
        R"(,"attached":{},"acks":{},"closing":{},"sent":{},"frames_sent":{},"queued":{},"pending":{},)"
        R"("heartbeats":{},"last_heartbeat":{},"pongs":{},"connected_at_us":{},"last_pong":)",
        conn->session != nullptr, conn->acks, conn->closing, conn->sent, conn->frames_sent,
        conn->queue.size(), pending, conn->heartbeats,
        conn->last_heartbeat.empty() ? std::string_view("null") : std::string_view(conn->last_heartbeat),
        conn->pongs, conn->connected_at_us);
    append_json_string(out, conn->last_pong);
    out += '}';
  }
  fmt::format_to(
      it, R"(],"sessions":{},"identifies":{},"resumes":{},"token_requests":{},"remaining":{},"shards":[)",
      store_.size(), identifies_, resumes_, token_requests_, opt_.remaining);
  first = true;
  for (const auto& [index, info] : store_.shards()) {
    if (info.session == nullptr) {
      continue;
    }
    const Session& s = *info.session;
    out += first ? "" : ",";
    first = false;
    fmt::format_to(it, R"({{"shard":{},"session_id":)", index);
    append_json_string(out, s.id);
    fmt::format_to(
        it, R"(,"s":{},"connected":{},"conn":{},"history":{},"generated":{},"pending":{},"invalid":{}}})",
        s.next_s - 1, s.conn != nullptr, s.conn != nullptr ? s.conn->id : 0, s.history.size(), info.generated,
        s.gen.remaining, s.invalid);
  }
  fmt::format_to(it,
                 R"(],"config":{{"shards":{},"max_concurrency":{},"total":{},"reset_after":{},)"
                 R"("heartbeat_interval":{},"token_ttl":{},"rate":{},"event_size":{}}},"fixtures":{}}})",
                 opt_.shards, opt_.max_concurrency, opt_.total, opt_.reset_after, opt_.heartbeat_interval,
                 opt_.token_ttl, opt_.rate, opt_.event_size, fixtures_.size());
  return r;
}

bool Simulator::target_sessions(const JsonObject& req, std::vector<Session*>& out, HttpResponse& error) {
  out.clear();
  if (req.has("shard")) {
    const auto shard = req.get_int("shard");
    if (!shard) {
      error = control_error(400, "shard must be an integer");
      return false;
    }
    const auto it = store_.shards().find(*shard);
    if (it == store_.shards().end() || it->second.session == nullptr) {
      error = control_error(409, fmt::format("no session for shard {}", *shard));
      return false;
    }
    out.push_back(it->second.session);
    return true;
  }
  for (auto& [index, info] : store_.shards()) {
    if (info.session != nullptr && info.session->conn != nullptr) {
      out.push_back(info.session);
    }
  }
  return true;
}

bool Simulator::target_connections(const JsonObject& req, std::vector<Connection*>& out,
                                   HttpResponse& error) {
  out.clear();
  if (req.has("conn")) {
    const auto id = req.get_int("conn");
    const auto it = id ? connections_.find(static_cast<std::uint64_t>(*id)) : connections_.end();
    if (it == connections_.end()) {
      error = control_error(409, "no such connection");
      return false;
    }
    out.push_back(it->second.get());
    return true;
  }
  if (req.has("shard")) {
    const auto shard = req.get_int("shard");
    if (!shard) {
      error = control_error(400, "shard must be an integer");
      return false;
    }
    const auto it = store_.shards().find(*shard);
    if (it == store_.shards().end() || it->second.session == nullptr || it->second.session->conn == nullptr) {
      error = control_error(409, fmt::format("shard {} has no live connection", *shard));
      return false;
    }
    out.push_back(it->second.session->conn);
    return true;
  }
  for (auto& [index, info] : store_.shards()) {
    if (info.session != nullptr && info.session->conn != nullptr) {
      out.push_back(info.session->conn);
    }
  }
  return true;
}

namespace {

void append_sent_entry(std::string& out, bool& first, std::int64_t shard, std::uint64_t s, bool connected,
                       std::string_view frame, std::string_view file) {
  out += first ? "" : ",";
  first = false;
  fmt::format_to(std::back_inserter(out), R"({{"shard":{},"s":{},"connected":{},)", shard, s, connected);
  if (!file.empty()) {
    out += R"("file":)";
    append_json_string(out, file);
    out += ',';
  }
  out += R"("frame":)";
  append_json_string(out, frame);
  out += '}';
}

}  // namespace

HttpResponse Simulator::control_send(const JsonObject& req) {
  const auto t = req.get_string("t");
  const JsonMember* d = req.find("d");
  if (!t || t->empty()) {
    return control_error(400, "missing string field t");
  }
  if (d == nullptr) {
    return control_error(400, "missing field d");
  }
  std::vector<Session*> targets;
  HttpResponse error;
  if (!target_sessions(req, targets, error)) {
    return error;
  }
  HttpResponse r{200, R"({"sent":[)"};
  bool first = true;
  for (Session* session : targets) {
    const auto [s, frame] = dispatch(*session, *t, d->raw);
    append_sent_entry(r.body, first, session->shard, s, session->conn != nullptr, frame->text(), {});
  }
  r.body += "]}";
  return r;
}

HttpResponse Simulator::control_fixtures(const JsonObject& req) {
  const auto only = req.get_string("file");
  std::vector<Session*> targets;
  HttpResponse error;
  if (!target_sessions(req, targets, error)) {
    return error;
  }
  HttpResponse r{200, R"({"sent":[)"};
  bool first = true;
  for (Session* session : targets) {
    for (const Fixture& fixture : fixtures_) {
      if (only && *only != fixture.file) {
        continue;
      }
      const auto [s, frame] = dispatch(*session, fixture.t, fixture.d);
      append_sent_entry(r.body, first, session->shard, s, session->conn != nullptr, frame->text(),
                        fixture.file);
    }
  }
  r.body += "]}";
  return r;
}

HttpResponse Simulator::control_generate(const JsonObject& req) {
  const std::int64_t count = req.has("count") ? req.get_int("count").value_or(-1) : 1;
  const double rate = req.has("rate") ? req.get_double("rate").value_or(-1) : 0;
  const std::int64_t size =
      req.has("size") ? req.get_int("size").value_or(-1) : static_cast<std::int64_t>(opt_.event_size);
  const std::int64_t users = req.has("users") ? req.get_int("users").value_or(-1) : 0;
  if (count < 0 || rate < 0 || size < 0 || users < 0) {
    return control_error(400, "count, rate, size and users must be non-negative numbers");
  }
  std::vector<Session*> targets;
  HttpResponse error;
  if (!target_sessions(req, targets, error)) {
    return error;
  }
  const std::int64_t now = monotonic_us();
  HttpResponse r{200, {}};
  fmt::format_to(std::back_inserter(r.body), R"({{"scheduled":{},"shards":[)",
                 count * static_cast<std::int64_t>(targets.size()));
  bool first = true;
  for (Session* session : targets) {
    Generator& gen = session->gen;
    gen.remaining += static_cast<std::uint64_t>(count);
    gen.size = static_cast<std::size_t>(size);
    gen.users = static_cast<std::uint64_t>(users);
    gen.rate = rate;
    if (rate > 0) {
      gen.started_us = now;
      gen.produced = 0;
      if (std::find(rate_gens_.begin(), rate_gens_.end(), session) == rate_gens_.end()) {
        rate_gens_.push_back(session);
      }
    } else if (session->conn != nullptr) {
      request_write(*session->conn);
    }
    r.body += first ? "" : ",";
    first = false;
    fmt::format_to(std::back_inserter(r.body), "{}", session->shard);
  }
  r.body += "]}";
  if (rate > 0 && !timer_fast_) {
    schedule_timer();
  }
  return r;
}

HttpResponse Simulator::control_fault(const JsonObject& req) {
  const auto kind_opt = req.get_string("kind");
  if (!kind_opt) {
    return control_error(400, "missing string field kind");
  }
  const std::string& kind = *kind_opt;
  if (ApiFaults::handles(kind)) {
    return openapi_.control_fault(kind, req);
  }
  HttpResponse r{200, R"({"kind":)"};
  append_json_string(r.body, kind);
  r.body += R"(,"applied":[)";
  HttpResponse error;

  if (kind == "expire_token") {
    tokens_.expire_all();
    r.body += "]}";
    return r;
  }

  if (kind == "token_outage") {
    const auto count = req.has("count") ? req.get_int("count") : std::optional<std::int64_t>(1);
    const auto status = req.has("status") ? req.get_int("status") : std::optional<std::int64_t>(503);
    const auto body = req.get_string("body");
    const auto echo = req.has("echo_request") ? req.get_bool("echo_request") : std::optional<bool>(false);
    if (!count || *count < 0 || !status || *status < 400 || *status > 599 || (req.has("body") && !body) ||
        !echo) {
      return control_error(400,
                           "token_outage needs a count >= 0, a status from 400 to 599, a string body and a "
                           "boolean echo_request");
    }
    token_failures_left_ = static_cast<std::uint64_t>(*count);
    token_failure_status_ = static_cast<int>(*status);
    token_failure_body_ = body;
    token_failure_echo_ = *echo;
    r.body += "]}";
    return r;
  }

  if (kind == "bad_dispatch") {
    // Any bytes as d, given in hex because the control API's own JSON can carry only valid UTF-8.
    const auto hex = req.get_string("d_hex");
    std::string d;
    if (!hex || !relay::util::decode_hex(*hex, d)) {
      return control_error(400, "bad_dispatch needs d_hex: the bytes of d in hex");
    }
    std::vector<Session*> targets;
    if (!target_sessions(req, targets, error)) {
      return error;
    }
    bool first = true;
    for (Session* session : targets) {
      const auto [s, frame] = dispatch(*session, "BAD_DISPATCH", d, req.get_bool("retain").value_or(true));
      r.body += first ? "" : ",";
      first = false;
      fmt::format_to(std::back_inserter(r.body), R"({{"shard":{},"s":{},"bytes":{}}})", session->shard, s,
                     frame->size());
    }
    r.body += "]}";
    return r;
  }

  if (kind == "replay_from" || kind == "oversized") {
    std::optional<std::int64_t> value;
    if (kind == "replay_from") {
      value = req.get_int("seq");
      if (!value || *value < 0) {
        return control_error(400, "replay_from needs a non-negative integer seq");
      }
    } else {
      value = req.has("bytes") ? req.get_int("bytes") : std::optional<std::int64_t>(1024 * 1024);
      if (!value || *value < 0 || *value > 512 * 1024 * 1024) {
        return control_error(400, "oversized needs bytes between 0 and 536870912");
      }
    }
    std::vector<Session*> targets;
    if (!target_sessions(req, targets, error)) {
      return error;
    }
    bool first = true;
    for (Session* session : targets) {
      r.body += first ? "" : ",";
      first = false;
      if (kind == "replay_from") {
        session->replay_from = static_cast<std::uint64_t>(*value);
        fmt::format_to(std::back_inserter(r.body), R"({{"shard":{},"session_id":"{}"}})", session->shard,
                       session->id);
      } else {
        const std::uint64_t n = ++store_.shard(session->shard).generated;
        const std::uint64_t s = session->next_s++;
        FramePtr frame = build_generated(random_, s, session->shard, n, static_cast<std::size_t>(*value));
        dispatch_frame(*session, frame, s, req.get_bool("retain").value_or(true));
        fmt::format_to(std::back_inserter(r.body), R"({{"shard":{},"s":{},"bytes":{}}})", session->shard, s,
                       frame->size());
      }
    }
    r.body += "]}";
    return r;
  }

  // Everything else acts on connections; check the parameters before touching any.
  int code = 0;
  std::string text;
  if (kind == "close") {
    const auto c = req.has("code") ? req.get_int("code") : std::optional<std::int64_t>(1000);
    if (!c || *c < 1000 || *c > 4999) {
      return control_error(400, "close needs an integer code between 1000 and 4999");
    }
    code = static_cast<int>(*c);
    text = req.get_string("reason").value_or("");
  } else if (kind == "invalid_session") {
    const JsonMember* d = req.find("d");
    text = d != nullptr ? d->raw : "false";
  } else if (kind == "malformed") {
    text = req.get_string("text").value_or("{not json");
  } else if (kind == "raw") {
    const auto t = req.get_string("text");
    if (!t) {
      return control_error(400, "raw needs a string field text");
    }
    text = *t;
  } else if (kind == "ping") {
    text = req.get_string("text").value_or("sim-ping");
  } else if (kind != "reconnect" && kind != "stop_acks" && kind != "resume_acks" && kind != "drop" &&
             kind != "heartbeat_request") {
    return control_error(400, "unknown fault kind " + kind);
  }
  std::vector<Connection*> targets;
  if (!target_connections(req, targets, error)) {
    return error;
  }
  bool first = true;
  for (Connection* conn : targets) {
    if (kind == "close") {
      enqueue_close(*conn, code, text, req.get_bool("abrupt").value_or(false));
    } else if (kind == "reconnect") {
      enqueue_text(*conn, R"({"op":7,"d":false})");
      enqueue_close(*conn, 4009, "Session timed out");
    } else if (kind == "invalid_session") {
      enqueue_text(*conn, fmt::format(R"({{"op":9,"d":{}}})", text));
      if (text != "true" && conn->session != nullptr) {
        conn->session->invalid = true;
      }
    } else if (kind == "stop_acks") {
      conn->acks = false;
    } else if (kind == "resume_acks") {
      conn->acks = true;
    } else if (kind == "drop") {
      enqueue_drop(*conn, req.get_bool("immediate").value_or(false));
    } else if (kind == "malformed" || kind == "raw") {
      enqueue_text(*conn, text);
    } else if (kind == "heartbeat_request") {
      enqueue_text(*conn, R"({"op":1,"d":null})");
    } else if (kind == "ping") {
      enqueue_ping(*conn, text);
    }
    r.body += first ? "" : ",";
    first = false;
    fmt::format_to(std::back_inserter(r.body), R"({{"conn":{},"shard":)", conn->id);
    append_value_or_null(r.body, conn->shard);
    r.body += '}';
  }
  r.body += "]}";
  return r;
}

HttpResponse Simulator::control_config(const JsonObject& req) {
  struct Field {
    const char* name;
    std::int64_t* target;
    std::int64_t min;
  };
  auto event_size = static_cast<std::int64_t>(opt_.event_size);
  const Field fields[] = {
      {"shards", &opt_.shards, 1},
      {"remaining", &opt_.remaining, 0},
      {"total", &opt_.total, 0},
      {"reset_after", &opt_.reset_after, 0},
      {"max_concurrency", &opt_.max_concurrency, 0},
      {"heartbeat_interval", &opt_.heartbeat_interval, 1},
      {"token_ttl", &opt_.token_ttl, 1},
      {"event_size", &event_size, 0},
  };
  // Validate everything first, then apply.
  for (const auto& f : fields) {
    if (req.has(f.name)) {
      const auto v = req.get_int(f.name);
      if (!v || *v < f.min) {
        return control_error(400, fmt::format("{} must be an integer >= {}", f.name, f.min));
      }
    }
  }
  std::optional<double> rate;
  if (req.has("rate")) {
    rate = req.get_double("rate");
    if (!rate || *rate < 0) {
      return control_error(400, "rate must be a non-negative number");
    }
  }
  for (const auto& f : fields) {
    if (req.has(f.name)) {
      *f.target = *req.get_int(f.name);
    }
  }
  opt_.event_size = static_cast<std::size_t>(event_size);
  if (rate) {
    opt_.rate = *rate;
    rate_started_us_ = monotonic_us();
    rate_produced_ = 0;
    schedule_timer();
  }
  return control_state();
}

}  // namespace qqsim

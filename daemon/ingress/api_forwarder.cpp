#include "ingress/api_forwarder.hpp"

#include <simdjson.h>

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/forward_rules.hpp"
#include "api/reply_body.hpp"
#include "util/json_writer.hpp"

namespace relay::ingress {

struct ApiForwarder::Call {
  ExchangeId id = 0;
  std::string client;
  std::string method;
  std::string target;
  std::string content_type;
  std::string body;
  bool has_body = false;
  api::Route route;
  util::TimePoint started{};
  bool token_retried = false;
  bool transport_retried = false;
  bool awaiting_token = false;
  std::unique_ptr<UpstreamRequest> upstream;
};

namespace {

// The platform's headers worth handing back; the rest (its cookies, its hop-by-hop headers) stay behind.
const std::vector<std::string> k_kept_headers{"content-type",          "x-tps-trace-id",
                                              "retry-after",           "x-ratelimit-limit",
                                              "x-ratelimit-remaining", "x-ratelimit-reset"};

constexpr int k_token_expired = 11244;

std::string_view header_or_empty(const http::ServerRequest& request, std::string_view name) {
  const std::string* value = request.header(name);
  return value ? std::string_view(*value) : std::string_view{};
}

bool may_retry_after_connection_error(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

// Paths the relay answers before (or without) a client key.
bool needs_no_client_key(std::string_view path) {
  return path == "/app/getAppAccessToken" || path == "/websocket" || path == "/websocket/";
}

}  // namespace

ApiResponse platform_error(int status, int code, std::string_view message) {
  ApiResponse response{
      status, {{"Content-Type", "application/json"}}, fmt::format(R"({{"code":{},"message":)", code)};
  util::append_json_string(response.body, message);
  response.body += '}';
  return response;
}

ApiResponse not_authenticated() {
  return platform_error(401, k_token_expired,
                        "token not exist or expire (a client key of this relay, or a token from its "
                        "/app/getAppAccessToken, is needed)");
}

bool says_token_expired(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(body.data(), body.size()).get(document) != simdjson::SUCCESS || !document.is_object()) {
    return false;
  }
  for (const char* key : {"code", "err_code"}) {
    std::int64_t code = 0;
    if (document[key].get_int64().get(code) == simdjson::SUCCESS && code == k_token_expired) {
      return true;
    }
  }
  return false;
}

ApiForwarder::ApiForwarder(EventLoop& loop, ApiForwarderSettings settings,
                           const std::vector<api::ClientKey>& clients, ApiServerSettings server)
    : m_loop(loop),
      m_settings(std::move(settings)),
      m_auth(clients),
      // At most max_in_flight connections are busy at once: as many idle ones serve the next burst.
      m_pool(loop, UpstreamPoolSettings{std::max(1u, m_settings.max_in_flight), util::Millis(30'000)}),
      m_token_wait(loop, [this] { give_up_waiting_for_token(); }),
      m_reaper(loop, [this] { m_finished.clear(); }),
      m_server(loop, std::move(server), *this) {
  while (!m_settings.api_base.empty() && m_settings.api_base.back() == '/') {
    m_settings.api_base.pop_back();
  }
}

ApiForwarder::~ApiForwarder() = default;

void ApiForwarder::use_tokens(TokenSource& tokens) {
  m_tokens = &tokens;
  tokens.also_notify([this](const std::string&) { on_new_token(); });
}

void ApiForwarder::on_request(ExchangeId id, http::ServerRequest& request) {
  const util::TimePoint now = m_loop.now();
  if (request.path == "/app/getAppAccessToken") {
    if (request.method != "POST") {
      answer(id, "/app/getAppAccessToken", now, platform_error(405, 405, "method not allowed"));
      return;
    }
    exchange_token(id, request, now);
    return;
  }
  if (m_local != nullptr && (request.path == "/websocket" || request.path == "/websocket/")) {
    m_local->open_websocket(id, request);
    return;
  }
  const api::Route route = api::match_route(request.path);
  if (std::count_if(request.headers.begin(), request.headers.end(),
                    [](const auto& field) { return field.first == "authorization"; }) > 1) {
    // Which one counts would depend on who reads them (a proxy in front may check the other).
    ++m_counters.refused_malformed;
    answer(id, std::string(route.name), now, platform_error(400, 400, "more than one Authorization field"));
    return;
  }
  const auto client = m_auth.authenticate(header_or_empty(request, "authorization"), now);
  if (!client) {
    ++m_counters.unauthorized;
    answer(id, std::string(route.name), now, not_authenticated());
    return;
  }
  if (m_local != nullptr && (request.path == "/gateway" || request.path == "/gateway/bot")) {
    if (request.method != "GET") {
      answer(id, request.path, now, platform_error(405, 405, "method not allowed"));
      return;
    }
    answer(id, request.path, now,
           ApiResponse{200,
                       {{"Content-Type", "application/json"}},
                       m_local->gateway_info(request, request.path == "/gateway/bot")});
    return;
  }
  if (!api::forwardable_method(request.method)) {
    ++m_counters.refused_malformed;
    ApiResponse refused = platform_error(405, 405, "method not allowed");
    refused.headers.emplace_back("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE");
    answer(id, std::string(route.name), now, std::move(refused));
    return;
  }
  if (const auto problem = api::target_problem(request.target)) {
    ++m_counters.refused_malformed;
    answer(id, std::string(route.name), now, platform_error(400, 400, *problem + ": not forwarded"));
    return;
  }
  auto call = std::make_unique<Call>();
  call->id = id;
  call->client = *client;
  call->method = request.method;
  call->target = request.target;
  call->content_type = header_or_empty(request, "content-type");
  call->has_body = !request.body.empty() || request.header("content-length") != nullptr ||
                   request.header("transfer-encoding") != nullptr;
  call->body = std::move(request.body);
  call->route = route;
  call->started = now;
  if (route.scene != api::ReplyScene::none && call->method == "POST") {
    if (const auto fields = api::read_reply_fields(call->body); fields && !fields->reply_to.empty()) {
      if (!fields->has_msg_seq) {
        call->body = api::with_msg_seq(call->body, m_msg_seqs.next(route.scene, fields->reply_to, now));
        ++m_counters.msg_seq_added;
      } else if (fields->msg_seq) {
        m_msg_seqs.note_used(route.scene, fields->reply_to, *fields->msg_seq, now);
      }
    }
  }
  admit(std::move(call));
}

std::optional<ApiResponse> ApiForwarder::refuse_before_body(const http::ServerRequest& head) {
  // A stranger's body is never kept: without this, each connection could make the relay hold max_body bytes
  // before the key is even looked at.
  if (needs_no_client_key(head.path) ||
      m_auth.authenticate(header_or_empty(head, "authorization"), m_loop.now())) {
    return std::nullopt;
  }
  ++m_counters.unauthorized;
  ++m_counters.requests[{std::string(api::match_route(head.path).name), 401}];
  return not_authenticated();
}

void ApiForwarder::exchange_token(ExchangeId id, const http::ServerRequest& request,
                                  util::TimePoint started) {
  const std::string route = "/app/getAppAccessToken";
  simdjson::dom::parser parser;
  simdjson::dom::element body;
  std::string_view app_id;
  std::string_view secret;
  if (parser.parse(request.body).get(body) != simdjson::SUCCESS ||
      body["appId"].get_string().get(app_id) != simdjson::SUCCESS ||
      body["clientSecret"].get_string().get(secret) != simdjson::SUCCESS) {
    answer(id, route, started, platform_error(400, 400, "expected {\"appId\": ..., \"clientSecret\": ...}"));
    return;
  }
  const auto issued = app_id == m_settings.app_id ? m_auth.exchange(secret, started) : std::nullopt;
  if (!issued) {
    ++m_counters.unauthorized;
    answer(id, route, started, platform_error(401, 100016, "invalid appid or secret"));
    return;
  }
  ApiResponse response{200, {{"Content-Type", "application/json"}}, R"({"access_token":)"};
  util::append_json_string(response.body, issued->access_token);
  // A string, as the platform sends it: several SDKs concatenate or parse it as one.
  response.body += fmt::format(R"(,"expires_in":"{}"}})", issued->expires_in_s);
  answer(id, route, started, std::move(response));
}

void ApiForwarder::admit(std::unique_ptr<Call> call) {
  if (m_in_flight.size() < m_settings.max_in_flight) {
    Call& ref = *call;
    m_in_flight.emplace(&ref, std::move(call));
    send(ref);
    return;
  }
  if (m_queue.size() < m_settings.max_queued) {
    m_queue.push_back(std::move(call));
    return;
  }
  ++m_counters.refused_busy;
  ApiResponse busy =
      platform_error(503, 503, "the relay is forwarding as many requests as it may; ask again");
  busy.headers.emplace_back("Retry-After", "1");
  answer(call->id, std::string(call->route.name), call->started, std::move(busy));
}

void ApiForwarder::send(Call& call) {
  if (m_tokens == nullptr || !m_tokens->has_token()) {
    finish(call, platform_error(503, 503, "the relay has no access token for the platform yet"));
    return;
  }
  HttpRequestSpec spec;
  spec.method = call.method;
  spec.url = m_settings.api_base + call.target;
  spec.headers = {{"Authorization", m_tokens->authorization()}, {"X-Union-Appid", m_settings.app_id}};
  if (call.has_body) {
    spec.body = call.body;
    spec.content_type = call.content_type.empty() ? "application/json" : call.content_type;
  }
  spec.timeout = m_settings.upstream_timeout;
  spec.max_response_bytes = m_settings.max_response_bytes;
  spec.follow_redirects = false;
  spec.send_origin = false;
  spec.response_headers = k_kept_headers;
  // Kept-alive connections (UpstreamPool); a request whose reused connection turns out to be closed already
  // is sent once more on a new one only when it never reached the server whole.
  call.upstream = m_pool.start(
      std::move(spec), [this, &call](HttpResponse&& response) { on_upstream(call, std::move(response)); });
}

void ApiForwarder::on_upstream(Call& call, HttpResponse&& response) {
  if (response.status == 0) {
    ++m_counters.upstream_errors;
    if (may_retry_after_connection_error(call.method) && !call.transport_retried) {
      call.transport_retried = true;
      ++m_counters.retries;
      send(call);
      return;
    }
    spdlog::warn("api: {} {} from {}: no answer from the platform ({})", call.method, call.route.name,
                 call.client, response.error);
    if (response.error.starts_with("cannot connect")) {
      // No connection (refused, unreachable, TLS handshake failed): nothing reached the platform, so the
      // client may safely send it again later.
      ApiResponse down =
          platform_error(503, 503, "the platform cannot be reached, nothing was sent: " + response.error);
      down.headers.emplace_back("Retry-After", "1");
      finish(call, std::move(down));
      return;
    }
    const bool timed_out = response.error.find("timed out") != std::string::npos;
    finish(call, platform_error(timed_out ? 504 : 502, timed_out ? 504 : 502,
                                "the platform did not answer: " + response.error));
    return;
  }
  if (!call.token_retried && m_tokens != nullptr && says_token_expired(response.body)) {
    // The token ran out or was replaced early: a new one, and this request once more (the only automatic
    // resend of a POST: the platform refused it, so it did not take it).
    call.token_retried = true;
    call.awaiting_token = true;
    ++m_counters.token_retries;
    m_awaiting_token.push_back(&call);
    if (m_awaiting_token.size() == 1) {
      m_token_wait.schedule_in(m_settings.upstream_timeout);
    }
    m_tokens->invalidate();
    return;
  }
  ApiResponse answer_back{response.status, {}, std::move(response.body)};
  std::string trace;
  for (auto& [name, value] : response.headers) {
    if (name == "x-tps-trace-id") {
      trace = value;
      answer_back.headers.emplace_back("X-Tps-trace-ID", value);
    } else if (name == "content-type") {
      answer_back.headers.emplace_back("Content-Type", value);
    } else {
      answer_back.headers.emplace_back(name, value);
    }
  }
  if (response.status >= 400) {
    spdlog::warn("api: {} {} from {}: the platform answered {} (trace id {})", call.method, call.route.name,
                 call.client, response.status, trace.empty() ? "none" : trace);
  }
  finish(call, std::move(answer_back));
}

void ApiForwarder::on_new_token() {
  std::vector<Call*> waiting;
  waiting.swap(m_awaiting_token);
  m_token_wait.cancel();
  for (Call* call : waiting) {
    call->awaiting_token = false;
    send(*call);
  }
}

void ApiForwarder::give_up_waiting_for_token() {
  std::vector<Call*> waiting;
  waiting.swap(m_awaiting_token);
  for (Call* call : waiting) {
    call->awaiting_token = false;
    finish(*call,
           platform_error(503, 503, "the platform refused the relay's token and no new one came in time"));
  }
}

void ApiForwarder::finish(Call& call, ApiResponse response) {
  answer(call.id, std::string(call.route.name), call.started, std::move(response));
  // The call may be finishing from inside its own request's callback: the request is destroyed on the next
  // loop pass, not here.
  m_finished.push_back(std::move(m_in_flight.at(&call)));
  m_in_flight.erase(&call);
  m_reaper.schedule_in(util::Millis(0));
  start_queued();
}

void ApiForwarder::answer(ExchangeId id, const std::string& route, util::TimePoint started,
                          ApiResponse response) {
  const double seconds = std::chrono::duration<double>(m_loop.now() - started).count();
  ++m_counters.requests[{route, m_server.waiting(id) ? response.status : 0}];
  for (std::size_t i = 0; i < ApiCounters::k_buckets.size(); ++i) {
    if (seconds <= ApiCounters::k_buckets[i]) {
      ++m_counters.latency_buckets[i];
    }
  }
  ++m_counters.latency_count;
  m_counters.latency_sum += seconds;
  m_server.respond(id, std::move(response));
}

void ApiForwarder::start_queued() {
  while (!m_queue.empty() && m_in_flight.size() < m_settings.max_in_flight) {
    std::unique_ptr<Call> call = std::move(m_queue.front());
    m_queue.pop_front();
    if (!m_server.waiting(call->id)) {
      answer(call->id, std::string(call->route.name), call->started, ApiResponse{});  // its client left
      continue;
    }
    admit(std::move(call));
  }
}

}  // namespace relay::ingress

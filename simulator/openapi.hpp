#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "event_source.hpp"
#include "http_types.hpp"
#include "json_in.hpp"
#include "openapi_faults.hpp"
#include "openapi_record.hpp"
#include "openapi_replies.hpp"
#include "session_store.hpp"
#include "sim_options.hpp"

namespace qqsim {

// What one OpenAPI request is about, once its path is matched.
struct ApiCall {
  const HttpRequest& request;
  std::string target;      // openid, group_openid, channel_id or guild_id from the path
  std::string message_id;  // the message a DELETE recalls
  std::string trace_id;
};

// {"code":…,"message":…,"err_code":…,"trace_id":…}, the platform's error shape (OPENAPI.md section 3).
HttpResponse api_error(int status, std::int64_t code, std::string_view message, std::string_view trace_id);

// The OpenAPI a bot uses to answer (docs/simulator.md, "OpenAPI"): every request that is not the token
// endpoint, discovery or the control API. Checks Authorization, applies the passive-reply rules and the
// injected faults, answers in the platform's shapes and records each request for GET /_sim/api/requests.
class OpenApi {
 public:
  OpenApi(const Options& options, const TokenStore& tokens, Random& random);

  HttpResponse handle(const HttpRequest& request);
  HttpResponse control_requests(bool clear);
  // POST /_sim/fault with an "api_" kind.
  HttpResponse control_fault(std::string_view kind, const JsonObject& req);

 private:
  HttpResponse answer(const HttpRequest& request, const std::string& trace_id);
  bool authorized(const HttpRequest& request) const;
  HttpResponse fault_answer(const ApiFault& fault, const HttpRequest& request, const std::string& trace_id);

  // openapi_messages.cpp
  HttpResponse send_v2(const ApiCall& call, bool group);
  HttpResponse upload_v2(const ApiCall& call);
  HttpResponse send_guild(const ApiCall& call, bool dm);
  HttpResponse me(const ApiCall& call);
  HttpResponse create_dms(const ApiCall& call);
  std::string new_message_id(bool v2);
  std::string bot_user_id() const;

  const Options& opt_;
  const TokenStore& tokens_;
  Random& random_;
  ApiFaults faults_;
  ReplyLedger replies_;
  ApiRecorder recorder_;
  std::map<std::string, std::string> dm_channels_;  // DM guild_id -> channel_id, from POST /users/@me/dms
  std::uint64_t messages_ = 0;                      // guild messages sent, for seq_in_channel
  std::uint64_t dm_sessions_ = 0;
};

}  // namespace qqsim

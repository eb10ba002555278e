#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qqsim {

// One HTTP request as gateway_server.cpp read it off the socket.
struct HttpRequest {
  std::string method;
  std::string path;   // without the query string
  std::string query;  // the part after '?', without it; empty when there is none
  std::optional<std::string> authorization;
  std::optional<std::string> appid;  // X-Union-Appid
  std::optional<std::string> content_type;
  std::optional<std::string> user_agent;
  std::string host;
  std::string body;
  // The client's TCP source port: requests with the same one came on the same (kept-alive) connection.
  int client_port = 0;
};

// The answer gateway_server.cpp writes.
struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(int status_code, std::string body_text) : status(status_code), body(std::move(body_text)) {}

  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. X-Tps-trace-ID
  std::int64_t delay_ms = 0;  // answer this much later (an lws timer; the loop goes on meanwhile)
  bool reset = false;         // no answer: the TCP connection is reset (RST) instead
};

}  // namespace qqsim

#include "downstream/gateway_info.hpp"

#include <fmt/format.h>

#include "util/json_writer.hpp"

namespace relay::downstream {
namespace {

bool is_host_text(std::string_view host) {
  if (host.empty() || host.size() > 255) {
    return false;
  }
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string gateway_url(std::string_view public_url, std::string_view host_header, bool tls,
                        std::string_view listen) {
  std::string url;
  if (!public_url.empty()) {
    if (public_url.starts_with("https://")) {
      url = "wss://" + std::string(public_url.substr(8));
    } else if (public_url.starts_with("http://")) {
      url = "ws://" + std::string(public_url.substr(7));
    } else {
      url = std::string(public_url);
    }
    while (url.ends_with('/')) {
      url.pop_back();
    }
  } else {
    url = tls ? "wss://" : "ws://";
    url += is_host_text(host_header) ? host_header : listen;
  }
  return url + "/websocket";
}

std::string gateway_body(std::string_view url) {
  std::string body = R"({"url":)";
  util::append_json_string(body, url);
  body += '}';
  return body;
}

std::string gateway_bot_body(std::string_view url, unsigned shards) {
  std::string body = R"({"url":)";
  util::append_json_string(body, url);
  fmt::format_to(std::back_inserter(body),
                 R"(,"shards":{},"session_start_limit":{{"total":1000000,"remaining":1000000,)"
                 R"("reset_after":86400000,"max_concurrency":{}}}}})",
                 shards, shards);
  return body;
}

}  // namespace relay::downstream

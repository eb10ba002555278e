#include "ingress/lws_log.hpp"

#include <string_view>

#include <libwebsockets.h>
#include <spdlog/spdlog.h>

namespace relay::ingress {
namespace {

void log_from_lws(int level, const char* line) {
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (level & LLL_ERR) {
    spdlog::error("lws: {}", text);
  } else if (level & LLL_WARN) {
    spdlog::warn("lws: {}", text);
  } else if (level & LLL_NOTICE) {
    // lws notices are routine (vhost created, listening): detail for someone debugging, not for the journal.
    spdlog::debug("lws: {}", text);
  } else {
    spdlog::trace("lws: {}", text);
  }
}

}  // namespace

void route_lws_logs(spdlog::level::level_enum minimum) {
  int mask = LLL_ERR | LLL_WARN;
  if (minimum <= spdlog::level::debug) {
    mask |= LLL_NOTICE;
  }
  if (minimum <= spdlog::level::trace) {
    // Not LLL_HEADER or LLL_PARSER: those would print request headers, tokens included.
    mask |= LLL_INFO | LLL_DEBUG | LLL_CLIENT;
  }
  lws_set_log_level(mask, log_from_lws);
}

}  // namespace relay::ingress

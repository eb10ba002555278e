#pragma once

#include <spdlog/common.h>

namespace relay::ingress {

// Sends libwebsockets' log lines to spdlog ("lws: ..."), asking lws for as much detail as `minimum` shows:
// errors and warnings always, notices from debug down, and info lines at trace (when the library was built
// with them).
void route_lws_logs(spdlog::level::level_enum minimum);

}  // namespace relay::ingress

#pragma once

namespace relay::app {

// The last lines of every --help (the relay's and each subcommand's): where the documentation is.
inline constexpr const char* k_help_footer =
    "Documentation: man 8 qq-gateway-relay, man 5 relay.toml (in Chinese:\n"
    "man -L zh_CN ...); operations.md and configuration.md in\n"
    "/usr/share/doc/qq-gateway-relay (docs/ in the source; Chinese in docs/zh).";

}  // namespace relay::app

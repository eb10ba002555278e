#pragma once

namespace relay::app {

// The last lines of every --help (the relay's and each subcommand's): where the documentation is.
inline constexpr const char* k_help_footer =
    "Documentation: man 8 qq-gateway-relay, man 5 relay.toml; operations.md and\n"
    "configuration.md in /usr/share/doc/qq-gateway-relay (docs/ in the source).";

}  // namespace relay::app

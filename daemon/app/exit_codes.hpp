#pragma once

namespace relay::app {

// The daemon's exit codes (docs/operations.md). systemd's RestartPreventExitStatus lists the permanent ones.
inline constexpr int k_exit_ok = 0;                    // clean stop (SIGTERM/SIGINT)
inline constexpr int k_exit_failure = 1;               // anything else
inline constexpr int k_exit_credentials_refused = 77;  // EX_NOPERM: the platform refuses the bot for good
inline constexpr int k_exit_config = 78;  // EX_CONFIG: a configuration error, ours or the platform's

}  // namespace relay::app

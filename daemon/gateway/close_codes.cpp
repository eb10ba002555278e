#include "gateway/close_codes.hpp"

#include <array>

namespace relay::gateway {
namespace {

using enum CloseAction;
using enum StopCategory;

// One row per code range, following SPEC section 7. Keep this table the single source of truth:
// docs/architecture.md mirrors it and tests walk it.
constexpr std::array k_rules{
    CloseRule{1000, 1001, resume, none, "normal closure by the server", ""},
    CloseRule{1002, 1002, resume, none, "WebSocket protocol error", ""},
    CloseRule{1005, 1005, resume, none, "closed without a code", ""},
    CloseRule{1006, 1006, resume, none, "connection lost", ""},
    CloseRule{1007, 1007, resume, none, "text or close reason that is not UTF-8", ""},
    CloseRule{1009, 1009, resume, none, "message larger than gateway.max_frame_bytes", ""},
    CloseRule{4000, 4000, resume, none, "unknown error", ""},
    CloseRule{4001, 4002, identify_bounded, other, "invalid opcode or payload",
              "the relay sent something the gateway rejects; report it with the log"},
    CloseRule{4003, 4003, identify, none, "not authenticated", ""},
    CloseRule{4004, 4004, refresh_token, credentials, "authentication failed",
              "check bot.app_id and the client secret (or token) in the bot console"},
    CloseRule{4005, 4005, identify, none, "already authenticated", ""},
    CloseRule{4006, 4007, identify, none, "session invalid or seq invalid, cannot resume", ""},
    CloseRule{4008, 4008, resume_after_pause, none, "sending too fast (rate limited)", ""},
    CloseRule{4009, 4009, resume, none, "session timed out", ""},
    CloseRule{4010, 4010, stop, configuration, "invalid shard", "check gateway.shards"},
    CloseRule{4011, 4011, reshard, none, "too many guilds on this connection, shard it", ""},
    CloseRule{4012, 4012, stop, other, "invalid version", "upgrade qq-gateway-relay"},
    CloseRule{4013, 4013, stop, configuration, "invalid intent",
              "fix bot.intents: remove the intents the platform does not know"},
    CloseRule{4014, 4014, stop, configuration, "intent not permitted",
              "fix bot.intents: remove the intents this bot has not been granted, or apply for them"},
    CloseRule{4900, 4913, identify, none, "internal server error", ""},
    CloseRule{4914, 4914, stop, credentials, "bot is delisted; only the sandbox may connect",
              "relist the bot, or point gateway.api_base at the sandbox"},
    CloseRule{4915, 4915, stop, credentials, "bot is banned", "contact the platform"},
};

constexpr CloseRule k_unknown{0, 0, resume, none, "unknown close code", ""};

}  // namespace

const CloseRule& close_rule(int code) {
  for (const auto& rule : k_rules) {
    if (code >= rule.first_code && code <= rule.last_code) {
      return rule;
    }
  }
  return k_unknown;
}

}  // namespace relay::gateway

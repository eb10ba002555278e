#pragma once

#include <string_view>

namespace relay::gateway {

// What a shard does after the gateway closes its connection (SPEC section 7, "recommended client action").
enum class CloseAction {
  resume,              // reconnect at once and resume the session
  resume_after_pause,  // rate limited: wait, then resume
  identify,            // drop the session, back off, identify
  identify_bounded,    // a client-side bug: identify with backoff a bounded number of times, then stop
  refresh_token,       // drop the cached token, fetch a new one, reconnect (bounded)
  reshard,             // fetch /gateway/bot again and restart every shard with the new count
  stop,                // stop this shard for good
};

// Why a shard stopped for good; decides the daemon's exit code once every shard has stopped.
enum class StopCategory {
  none,
  credentials,    // exit 77: the platform refuses the bot's credentials for good
  configuration,  // exit 78: the platform rejects our configuration (shard, intents)
  other,          // exit 1
};

struct CloseRule {
  int first_code;
  int last_code;
  CloseAction action;
  StopCategory category;  // for stop, and for bounded actions that run out of retries
  std::string_view meaning;
  std::string_view remedy;  // what the operator must do, for the actions that can stop
};

// The rule for a close code; codes outside the table get the rule for "unknown" (resume, then identify).
const CloseRule& close_rule(int code);

}  // namespace relay::gateway

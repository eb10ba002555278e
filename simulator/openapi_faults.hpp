#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "json_in.hpp"

namespace qqsim {

// Faults POST /_sim/fault queues for the OpenAPI endpoints (kinds starting with "api_").
enum class ApiFaultKind : std::uint8_t {
  token_expired,  // 401 code 11244
  duplicate_seq,  // 400 code 40054005
  slow,           // the normal answer, delay_ms later
  server_error,   // a 5xx with a platform error body
  reset,          // the TCP connection is reset, nothing is answered
  rate_limited,   // 429 code 22009
};

struct ApiFault {
  ApiFaultKind kind = ApiFaultKind::server_error;
  std::uint64_t left = 1;   // requests it still applies to
  std::string path_prefix;  // applies only to paths that start with this (empty: every OpenAPI path)
  std::int64_t delay_ms = 0;
  int status = 500;
  std::int64_t code = 500;
};

std::string_view fault_name(ApiFaultKind kind);

// A FIFO of pending faults. Each OpenAPI request takes one unit of the oldest fault whose prefix matches it.
class ApiFaults {
 public:
  // Whether `kind` is one of the names this class handles ("api_clear" included).
  static bool handles(std::string_view kind);
  // Queues the fault a control request describes, or clears them all ("api_clear"). Returns an error text
  // when the parameters are wrong (nothing is queued then).
  std::optional<std::string> apply(std::string_view kind, const JsonObject& req);
  // Consumes one unit of the fault that applies to `path`, if any.
  std::optional<ApiFault> take(std::string_view path);
  // [{"kind":…,"left":…,"path_prefix":…},…]
  void append_json(std::string& out) const;

 private:
  std::deque<ApiFault> pending_;
};

}  // namespace qqsim

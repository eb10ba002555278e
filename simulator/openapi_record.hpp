#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "http_types.hpp"

namespace qqsim {

// One OpenAPI request and the simulator's answer, for GET /_sim/api/requests.
struct ApiRecord {
  std::int64_t at_us = 0;  // unix microseconds when the request was complete
  HttpRequest request;
  int status = 0;  // 0 when the connection was reset instead of answered
  std::string response;
  std::string trace_id;
  std::string fault;  // the name of the fault that shaped the answer, empty when none
  std::int64_t delay_ms = 0;
};

// The last requests, bounded both in count and in bytes of bodies (uploads carry megabytes of base64).
class ApiRecorder {
 public:
  ApiRecorder(std::size_t max_entries, std::size_t max_bytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  void add(ApiRecord record);
  void clear();
  // {"recorded":<since start>,"requests":[…],"faults":<faults_json>}
  std::string to_json(std::string_view faults_json) const;

 private:
  std::size_t max_entries_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::uint64_t recorded_ = 0;
  std::deque<ApiRecord> records_;
};

}  // namespace qqsim

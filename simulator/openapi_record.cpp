#include "openapi_record.hpp"

#include <iterator>

#include <fmt/format.h>

#include "json_in.hpp"
#include "util/base64.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

namespace qqsim {

namespace {

std::size_t weight(const ApiRecord& r) {
  return r.request.body.size() + r.response.size() + r.request.path.size() + r.request.query.size() + 256;
}

void append_optional(std::string& out, const std::optional<std::string>& value) {
  if (value) {
    append_json_text(out, *value);
  } else {
    out += "null";
  }
}

// A body that is not UTF-8 (a multipart image, say) goes out as base64, so that the test sees its bytes.
void append_body(std::string& out, const std::string& body) {
  if (relay::util::is_valid_utf8(body)) {
    out += R"("body_encoding":"utf-8","body":)";
    relay::util::append_json_string(out, body);
  } else {
    out += R"("body_encoding":"base64","body":")";
    relay::util::append_base64(out, body);
    out += '"';
  }
}

}  // namespace

void ApiRecorder::add(ApiRecord record) {
  ++recorded_;
  bytes_ += weight(record);
  records_.push_back(std::move(record));
  // The newest record stays even when it alone is over the byte bound.
  while (records_.size() > 1 && (records_.size() > max_entries_ || bytes_ > max_bytes_)) {
    bytes_ -= weight(records_.front());
    records_.pop_front();
  }
}

void ApiRecorder::clear() {
  records_.clear();
  bytes_ = 0;
}

std::string ApiRecorder::to_json(std::string_view faults_json) const {
  std::string out;
  out.reserve(bytes_ + bytes_ / 3 + faults_json.size() + 64);
  auto it = std::back_inserter(out);
  fmt::format_to(it, R"({{"recorded":{},"requests":[)", recorded_);
  bool first = true;
  for (const ApiRecord& r : records_) {
    out += first ? "" : ",";
    first = false;
    const HttpRequest& q = r.request;
    fmt::format_to(it, R"({{"at_us":{},"client_port":{},"method":)", r.at_us, q.client_port);
    append_json_text(out, q.method);
    out += R"(,"path":)";
    append_json_text(out, q.path);
    out += R"(,"query":)";
    append_json_text(out, q.query);
    out += R"(,"headers":{"authorization":)";
    append_optional(out, q.authorization);
    out += R"(,"x-union-appid":)";
    append_optional(out, q.appid);
    out += R"(,"content-type":)";
    append_optional(out, q.content_type);
    out += R"(,"user-agent":)";
    append_optional(out, q.user_agent);
    fmt::format_to(it, R"(}},"body_bytes":{},)", q.body.size());
    append_body(out, q.body);
    fmt::format_to(it, R"(,"status":{},"response":)", r.status);
    append_json_text(out, r.response);
    out += R"(,"trace_id":)";
    append_json_text(out, r.trace_id);
    out += R"(,"fault":)";
    if (r.fault.empty()) {
      out += "null";
    } else {
      append_json_text(out, r.fault);
    }
    fmt::format_to(it, R"(,"delay_ms":{}}})", r.delay_ms);
  }
  out += R"(],"faults":)";
  out += faults_json;
  out += '}';
  return out;
}

}  // namespace qqsim

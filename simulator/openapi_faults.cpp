#include "openapi_faults.hpp"

#include <iterator>

#include <fmt/format.h>

#include "util/json_writer.hpp"

namespace qqsim {

namespace {

constexpr std::int64_t k_max_count = 1'000'000;
constexpr std::int64_t k_max_delay_ms = 600'000;

struct Name {
  std::string_view name;
  ApiFaultKind kind;
};

constexpr Name k_names[] = {
    {"api_token_expired", ApiFaultKind::token_expired},
    {"api_duplicate_seq", ApiFaultKind::duplicate_seq},
    {"api_slow", ApiFaultKind::slow},
    {"api_server_error", ApiFaultKind::server_error},
    {"api_reset", ApiFaultKind::reset},
    {"api_rate_limited", ApiFaultKind::rate_limited},
};

constexpr std::string_view k_clear = "api_clear";

std::optional<ApiFaultKind> kind_of(std::string_view name) {
  for (const Name& n : k_names) {
    if (n.name == name) {
      return n.kind;
    }
  }
  return std::nullopt;
}

// An optional integer parameter within [min, max]; false when present but not such an integer.
bool int_param(const JsonObject& req, std::string_view key, std::int64_t min, std::int64_t max,
               std::int64_t& value) {
  if (!req.has(key)) {
    return true;
  }
  const auto v = req.get_int(key);
  if (!v || *v < min || *v > max) {
    return false;
  }
  value = *v;
  return true;
}

}  // namespace

std::string_view fault_name(ApiFaultKind kind) {
  for (const Name& n : k_names) {
    if (n.kind == kind) {
      return n.name;
    }
  }
  return "api_unknown";
}

bool ApiFaults::handles(std::string_view kind) {
  return kind == k_clear || kind_of(kind).has_value();
}

std::optional<std::string> ApiFaults::apply(std::string_view kind, const JsonObject& req) {
  if (kind == k_clear) {
    pending_.clear();
    return std::nullopt;
  }
  ApiFault fault;
  fault.kind = *kind_of(kind);
  std::int64_t count = 1;
  if (!int_param(req, "count", 1, k_max_count, count)) {
    return fmt::format("count must be an integer from 1 to {}", k_max_count);
  }
  fault.left = static_cast<std::uint64_t>(count);
  if (req.has("path_prefix")) {
    const auto prefix = req.get_string("path_prefix");
    if (!prefix || !prefix->starts_with('/')) {
      return std::string("path_prefix must be a string that starts with /");
    }
    fault.path_prefix = *prefix;
  }
  if (fault.kind == ApiFaultKind::slow) {
    fault.delay_ms = 1000;
    if (!int_param(req, "delay_ms", 1, k_max_delay_ms, fault.delay_ms)) {
      return fmt::format("delay_ms must be an integer from 1 to {}", k_max_delay_ms);
    }
  }
  if (fault.kind == ApiFaultKind::server_error) {
    std::int64_t status = 500;
    if (!int_param(req, "status", 500, 599, status)) {
      return std::string("status must be an integer from 500 to 599");
    }
    fault.status = static_cast<int>(status);
    fault.code = status;
    if (!int_param(req, "code", 0, INT64_MAX, fault.code)) {
      return std::string("code must be a non-negative integer");
    }
  }
  pending_.push_back(std::move(fault));
  return std::nullopt;
}

std::optional<ApiFault> ApiFaults::take(std::string_view path) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (!path.starts_with(it->path_prefix)) {
      continue;
    }
    ApiFault taken = *it;
    if (--it->left == 0) {
      pending_.erase(it);
    }
    return taken;
  }
  return std::nullopt;
}

void ApiFaults::append_json(std::string& out) const {
  out += '[';
  bool first = true;
  for (const ApiFault& f : pending_) {
    out += first ? "" : ",";
    first = false;
    out += R"({"kind":)";
    relay::util::append_json_string(out, fault_name(f.kind));
    fmt::format_to(std::back_inserter(out), R"(,"left":{},"path_prefix":)", f.left);
    relay::util::append_json_string(out, f.path_prefix);
    out += '}';
  }
  out += ']';
}

}  // namespace qqsim

#include "session_store.hpp"

#include <iterator>

#include <fmt/format.h>

#include "json_in.hpp"
#include "util/json_writer.hpp"

namespace qqsim {

namespace {

// Sessions kept for Resume; beyond this the oldest detached sessions are forgotten.
constexpr std::size_t k_max_sessions = 20000;

template <typename T>
void append_optional(std::string& out, const std::optional<T>& v) {
  if (v) {
    fmt::format_to(std::back_inserter(out), "{}", *v);
  } else {
    out += "null";
  }
}

void append_optional_string(std::string& out, const std::optional<std::string>& v) {
  if (v) {
    append_json_text(out, *v);
  } else {
    out += "null";
  }
}

}  // namespace

TokenStore::Issued TokenStore::issue(Random& random, SteadyClock::time_point now, std::chrono::seconds ttl) {
  std::erase_if(tokens_, [&](const Token& t) { return t.expiry <= now; });
  if (tokens_.empty() || tokens_.back().expiry - now <= std::chrono::seconds(60)) {
    tokens_.push_back(Token{random.token(48), now + ttl});
  }
  const auto left = std::chrono::ceil<std::chrono::seconds>(tokens_.back().expiry - now);
  return Issued{tokens_.back().value, left.count()};
}

bool TokenStore::valid(std::string_view token, SteadyClock::time_point now) const {
  for (const auto& t : tokens_) {
    if (t.value == token) {
      return t.expiry > now;
    }
  }
  return false;
}

Session& SessionStore::create(Random& random, std::int64_t shard, std::int64_t shard_count) {
  evict();
  auto session = std::make_unique<Session>();
  session->id = random.uuid();
  session->shard = shard;
  session->shard_count = shard_count;
  Session& ref = *session;
  order_.push_back(session->id);
  sessions_.emplace(session->id, std::move(session));
  return ref;
}

Session* SessionStore::find(std::string_view id) {
  auto it = sessions_.find(std::string(id));
  return it == sessions_.end() ? nullptr : it->second.get();
}

void SessionStore::retain(Session& session, std::uint64_t s, FramePtr frame) {
  const std::size_t bytes = frame->size();
  session.history.push_back(HistoryEntry{s, std::move(frame)});
  session.history_bytes += bytes;
  total_bytes_ += bytes;
  while (!session.history.empty() &&
         (session.history.size() > per_session_limit_ || total_bytes_ > total_bytes_limit_)) {
    const std::size_t dropped = session.history.front().frame->size();
    session.history.pop_front();
    session.history_bytes -= dropped;
    total_bytes_ -= dropped;
  }
}

void SessionStore::evict() {
  std::size_t scanned = 0;
  const std::size_t to_scan = order_.size();
  while (sessions_.size() >= k_max_sessions && scanned < to_scan) {
    ++scanned;
    std::string id = std::move(order_.front());
    order_.pop_front();
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      continue;
    }
    Session& s = *it->second;
    const auto target = shards_.find(s.shard);
    const bool is_target = target != shards_.end() && target->second.session == &s;
    if (s.conn != nullptr || is_target || s.gen.remaining > 0) {
      order_.push_back(std::move(id));  // still in use: keep it
      continue;
    }
    total_bytes_ -= s.history_bytes;
    sessions_.erase(it);
  }
}

void SimLog::clear() {
  received_.clear();
  connects_.clear();
  closes_.clear();
  http_.clear();
}

std::string SimLog::to_json() const {
  std::string out;
  std::size_t estimate = 256;
  for (const auto& e : received_) {
    estimate += e.frame.size() + 80;
  }
  for (const auto& e : http_) {
    estimate += e.body.size() + e.path.size() + 200;
  }
  estimate += (connects_.size() + closes_.size()) * 64;
  out.reserve(estimate);
  auto it = std::back_inserter(out);
  out += R"({"received":[)";
  bool first = true;
  for (const auto& e : received_) {
    out += first ? "" : ",";
    first = false;
    fmt::format_to(it, R"({{"conn":{},"shard":)", e.conn);
    append_optional(out, e.shard);
    fmt::format_to(it, R"(,"at_us":{},"frame":)", e.at_us);
    append_json_text(out, e.frame);
    out += '}';
  }
  out += R"(],"connects":[)";
  first = true;
  for (const auto& e : connects_) {
    out += first ? "" : ",";
    first = false;
    fmt::format_to(it, R"({{"conn":{},"at_us":{}}})", e.conn, e.at_us);
  }
  out += R"(],"closes":[)";
  first = true;
  for (const auto& e : closes_) {
    out += first ? "" : ",";
    first = false;
    fmt::format_to(it, R"({{"conn":{},"at_us":{},"code":)", e.conn, e.at_us);
    append_optional(out, e.code);
    out += R"(,"server_code":)";
    append_optional(out, e.server_code);
    out += '}';
  }
  out += R"(],"http":[)";
  first = true;
  for (const auto& e : http_) {
    out += first ? "" : ",";
    first = false;
    out += R"({"method":)";
    append_json_text(out, e.method);
    out += R"(,"path":)";
    append_json_text(out, e.path);
    out += R"(,"authorization":)";
    append_optional_string(out, e.authorization);
    out += R"(,"appid":)";
    append_optional_string(out, e.appid);
    out += R"(,"body":)";
    append_json_text(out, e.body);
    fmt::format_to(it, R"(,"status":{},"at_us":{}}})", e.status, e.at_us);
  }
  out += "]}";
  return out;
}

}  // namespace qqsim

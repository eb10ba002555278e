#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "event_source.hpp"

namespace qqsim {

using SteadyClock = std::chrono::steady_clock;

// ---- access tokens -------------------------------------------------------------------------------

// Issues access tokens like bots.qq.com: the current token is returned while it has more than 60 s left;
// in its last 60 s a new one is issued and the old one stays valid until its own expiry.
class TokenStore {
 public:
  struct Issued {
    std::string token;
    std::int64_t expires_in = 0;  // seconds left
  };

  Issued issue(Random& random, SteadyClock::time_point now, std::chrono::seconds ttl);
  bool valid(std::string_view token, SteadyClock::time_point now) const;
  void expire_all() { tokens_.clear(); }

 private:
  struct Token {
    std::string value;
    SteadyClock::time_point expiry;
  };
  std::vector<Token> tokens_;  // the last one is the current token
};

// ---- sessions ------------------------------------------------------------------------------------

struct Connection;

struct HistoryEntry {
  std::uint64_t s = 0;
  FramePtr frame;
};

// Events still to generate for one session (POST /_sim/generate).
struct Generator {
  std::uint64_t remaining = 0;
  double rate = 0;  // events per second, 0 = as fast as the socket takes them
  std::size_t size = 300;
  std::uint64_t users = 0;      // distinct authors to cycle through, 0 = one per shard
  std::int64_t started_us = 0;  // monotonic, for rate > 0
  std::uint64_t produced = 0;   // since started_us
};

struct Session {
  std::string id;
  std::int64_t shard = 0;
  std::int64_t shard_count = 1;
  std::uint64_t next_s = 1;
  std::deque<HistoryEntry> history;  // sorted by s; READY and RESUMED are not retained
  std::size_t history_bytes = 0;
  Connection* conn = nullptr;                // the live connection the session is attached to, if any
  std::optional<std::uint64_t> replay_from;  // fault replay_from: used by the next Resume
  bool invalid = false;                      // after op 9 (d != true): Resume answers op 9
  Generator gen;
};

struct ShardInfo {
  Session* session = nullptr;   // the shard's current target
  std::uint64_t generated = 0;  // per-shard counter of generated events
};

class SessionStore {
 public:
  SessionStore(std::size_t per_session_limit, std::size_t total_bytes_limit)
      : per_session_limit_(per_session_limit), total_bytes_limit_(total_bytes_limit) {}

  Session& create(Random& random, std::int64_t shard, std::int64_t shard_count);
  Session* find(std::string_view id);
  // Appends a dispatch frame to the session's history, trimming to the limits.
  void retain(Session& session, std::uint64_t s, FramePtr frame);
  std::size_t size() const { return sessions_.size(); }

  ShardInfo& shard(std::int64_t index) { return shards_[index]; }
  const std::map<std::int64_t, ShardInfo>& shards() const { return shards_; }
  std::map<std::int64_t, ShardInfo>& shards() { return shards_; }

 private:
  void evict();

  std::size_t per_session_limit_;
  std::size_t total_bytes_limit_;
  std::size_t total_bytes_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Session>> sessions_;
  std::deque<std::string> order_;  // creation order, for eviction
  std::map<std::int64_t, ShardInfo> shards_;
};

// ---- the log of what clients did (GET /_sim/log) ---------------------------------------------------

struct ReceivedEntry {
  std::uint64_t conn = 0;
  std::optional<std::int64_t> shard;
  std::int64_t at_us = 0;
  std::string frame;
};

struct ConnectEntry {
  std::uint64_t conn = 0;
  std::int64_t at_us = 0;
};

struct CloseEntry {
  std::uint64_t conn = 0;
  std::int64_t at_us = 0;
  std::optional<int> code;         // close code the client sent
  std::optional<int> server_code;  // close code the simulator sent
};

struct HttpEntry {
  std::string method;
  std::string path;
  std::optional<std::string> authorization;  // absent header = nullopt
  std::optional<std::string> appid;
  std::string body;
  int status = 0;
  std::int64_t at_us = 0;
};

class SimLog {
 public:
  explicit SimLog(std::size_t limit) : limit_(limit) {}

  void add(ReceivedEntry e) { push(received_, std::move(e)); }
  void add(ConnectEntry e) { push(connects_, std::move(e)); }
  void add(CloseEntry e) { push(closes_, std::move(e)); }
  void add(HttpEntry e) { push(http_, std::move(e)); }
  void clear();
  std::string to_json() const;

 private:
  template <typename T>
  void push(std::deque<T>& list, T&& entry) {
    list.push_back(std::forward<T>(entry));
    while (list.size() > limit_) {
      list.pop_front();
    }
  }

  std::size_t limit_;
  std::deque<ReceivedEntry> received_;
  std::deque<ConnectEntry> connects_;
  std::deque<CloseEntry> closes_;
  std::deque<HttpEntry> http_;
};

}  // namespace qqsim

#pragma once

#include <string>
#include <vector>

#include "gateway/session.hpp"
#include "protocol/frame.hpp"

namespace relay::test {

// Drives a Session the way the I/O layer does, with a fake clock, and keeps every action it returned.
class SessionHarness {
 public:
  explicit SessionHarness(gateway::SessionSettings settings = {}) : session(settings) {
    session.set_token("QQBot test-token");
  }

  util::TimePoint now{std::chrono::hours(1)};
  gateway::Session session;
  gateway::Actions actions;

  void start() { session.start(now, actions); }
  void connect() { session.on_connected(now, actions); }
  void frame(const std::string& text) {
    m_keep.push_back(text);
    auto result = m_decoder.decode(m_keep.back());
    REQUIRE(result.frame);
    session.on_frame(*result.frame, m_keep.back(), now, actions);
  }
  void close(int code, std::string_view reason = "") { session.on_closed(code, reason, now, actions); }
  void permit() { session.on_identify_permitted(now, actions); }
  // Advances the fake clock, firing the session's timer every time it falls due on the way.
  void advance(util::Millis by) {
    const auto end = now + by;
    while (auto deadline = session.next_deadline()) {
      if (*deadline > end) {
        break;
      }
      now = std::max(now, *deadline);
      session.on_tick(now, actions);
    }
    now = end;
  }

  // Runs the clock to the session's next Connect, then reports the connection open.
  void reconnect() {
    clear();
    for (int step = 0; step < 100 && taken<gateway::Connect>().empty(); ++step) {
      auto deadline = session.next_deadline();
      REQUIRE(deadline);
      now = std::max(now, *deadline);
      session.on_tick(now, actions);
    }
    REQUIRE(taken<gateway::Connect>().size() == 1);
    connect();
  }

  // Brings a fresh session to READY on shard `index`/`count`.
  void ready(const std::string& session_id = "sess-1", std::uint64_t s = 1) {
    start();
    connect();
    frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
    permit();
    frame(R"({"op":0,"s":)" + std::to_string(s) + R"(,"t":"READY","d":{"version":1,"session_id":")" +
          session_id + R"(","user":{"id":"1","username":"b","bot":true},"shard":[0,0]}})");
  }

  template <typename T>
  std::vector<T> taken() {
    std::vector<T> found;
    for (auto& action : actions) {
      if (auto* typed = std::get_if<T>(&action)) {
        found.push_back(*typed);
      }
    }
    return found;
  }
  std::vector<std::string> sent() {
    std::vector<std::string> texts;
    for (auto& send : taken<gateway::Send>()) {
      texts.push_back(send.text);
    }
    return texts;
  }
  void clear() { actions.clear(); }

 private:
  protocol::FrameDecoder m_decoder;
  std::vector<std::string> m_keep;  // Publish actions point into these
};

}  // namespace relay::test

// In a cluster, an event may reach two relays (a webhook sent to both behind a load balancer, or the events a
// takeover replays after the previous owner already published them). Before publishing, each relay asks the
// cluster's shared set of recent event ids; this gate holds messages until their answer and releases them in
// the order they arrived, so per-shard order survives the asynchronous check. Messages without an event id
// (control messages) are not checked but keep their place in the queue.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "publish/metadata.hpp"

namespace relay::publish {

// A message waiting in the gate, owning its bytes.
struct HeldMessage {
  std::string type;
  std::string body;
  MessageInfo info;  // its views point into session_id and event_id below
  std::string session_id;
  std::string event_id;
};

struct SeenGateCounters {
  std::uint64_t checked = 0;   // event ids asked about
  std::uint64_t repeats = 0;   // released as repeats: another relay published them
  std::uint64_t max_held = 0;  // the longest the queue has been
};

class SeenGate {
 public:
  // Asks whether the id is new to the cluster; `answer(true)` for new. May answer later, or at once.
  using Check = std::function<void(std::string_view event_id, std::function<void(bool first)> answer)>;
  // Receives each message in arrival order once it is answered; `first` false for a repeat.
  using Release = std::function<void(const HeldMessage& message, bool first)>;

  SeenGate(Check check, Release release);
  ~SeenGate();
  SeenGate(const SeenGate&) = delete;
  SeenGate& operator=(const SeenGate&) = delete;

  void submit(std::string_view type, std::string_view body, const MessageInfo& info);
  std::size_t held() const { return m_queue.size(); }
  const SeenGateCounters& counters() const { return m_counters; }

 private:
  struct Entry {
    std::uint64_t id;
    HeldMessage message;
    std::optional<bool> first;  // nullopt: not answered yet
  };

  void answer(std::uint64_t id, bool first);
  void drain();

  Check m_check;
  Release m_release;
  std::deque<Entry> m_queue;
  std::uint64_t m_next_id = 0;
  bool m_draining = false;
  SeenGateCounters m_counters;
  // Answers that come after the gate is gone are ignored.
  std::shared_ptr<SeenGate*> m_self;
};

}  // namespace relay::publish

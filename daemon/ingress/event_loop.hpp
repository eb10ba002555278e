#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "util/time.hpp"

struct lws_context;
struct lws_vhost;
struct lws;

namespace relay::ingress {

// One libwebsockets context: every shard socket, HTTP request, timer and watched descriptor of the process is
// serviced by this single thread.
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  lws_context* context() const { return m_context; }
  lws_vhost* vhost() const;

  // Services events until stop() is called from inside the loop.
  void run();
  void stop();
  bool stopping() const { return m_stopping; }
  // Called after every pass of the loop (all the events that were ready, handled), before it waits again.
  void on_pass_end(std::function<void()> callback) { m_on_pass_end = std::move(callback); }

  // Calls `on_readable` whenever `fd` is readable. The loop closes its own duplicate of `fd` on teardown.
  void watch_fd(int fd, std::function<void()> on_readable);

  util::TimePoint now() const { return util::Clock::now(); }

 private:
  lws_context* m_context = nullptr;
  bool m_stopping = false;
  std::function<void()> m_on_pass_end;
  struct Watch;
  std::vector<std::unique_ptr<Watch>> m_watches;

  friend int raw_file_callback(lws*, int, void*, void*, std::size_t);
};

// A one-shot timer on the loop; re-arming replaces the previous deadline. Cancelled on destruction.
class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> on_fire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void schedule_at(util::TimePoint when);
  void schedule_in(util::Millis delay);
  void cancel();

  // For the loop's timer callback only.
  void fire_for_loop() {
    m_armed_at.reset();
    m_on_fire();
  }
  struct Slot;

 private:
  EventLoop& m_loop;
  std::function<void()> m_on_fire;
  std::unique_ptr<Slot> m_slot;
  // The deadline schedule_at armed, so that re-arming the same one (after every gateway frame) is free.
  std::optional<util::TimePoint> m_armed_at;
};

}  // namespace relay::ingress

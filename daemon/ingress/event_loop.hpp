#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "util/time.hpp"

struct lws_context;
struct lws_vhost;
struct lws;

namespace relay::http {
class Resolver;
}

namespace relay::ingress {

// A descriptor the loop watches for reading, owned by the loop from then on: destroying the handle stops the
// watch and closes the descriptor at once.
class FdWatch {
 public:
  ~FdWatch();
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  // While paused, readiness is not even polled for: a descriptor that stays readable costs nothing.
  void pause();
  void resume();
  // For watch_socket handles: calls `on_writable` once, when the descriptor is next writable.
  void request_writable();

 private:
  friend class EventLoop;
  friend int raw_file_callback(lws*, int, void*, void*, std::size_t);
  FdWatch(std::function<void()> on_readable, bool closed_by_handle)
      : m_on_readable(std::move(on_readable)), m_closed_by_handle(closed_by_handle) {}

  std::function<void()> m_on_readable;
  std::function<void()> m_on_writable;  // watch_socket only
  std::function<void()> m_on_closed;    // watch_socket only: the loop dropped the descriptor (hang-up, error)
  lws* m_wsi = nullptr;                 // null once libwebsockets has closed it
  bool m_closed_by_handle;
};

// Receives the events of raw TCP connections adopted with EventLoop::adopt_raw_socket: libwebsockets'
// LWS_CALLBACK_RAW_RX (bytes in `in`), RAW_WRITEABLE and RAW_CLOSE. Returning non-zero closes the connection.
class RawSocketHandler {
 public:
  virtual ~RawSocketHandler() = default;
  virtual int on_raw_socket(lws* wsi, int reason, void* in, std::size_t len) = 0;
};

// One libwebsockets context: every shard socket, HTTP request, timer and watched descriptor of the process is
// serviced by this single thread. Host names are looked up off it (http::Resolver, registered for the
// context).
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
  // Calls `on_readable` whenever `fd` is readable, until the handle is destroyed. Takes `fd` over.
  std::unique_ptr<FdWatch> watch_owned_fd(int fd, std::function<void()> on_readable);
  // Watches a socket that stays the caller's (the loop polls its own duplicate, closed with the handle), for
  // reading and, on request_writable(), for writing. `on_closed` runs when the loop gives the descriptor up
  // (hang-up or error), so that the owner reads the error itself. Do not destroy the handle from its
  // callbacks.
  std::unique_ptr<FdWatch> watch_socket(int fd, std::function<void()> on_readable,
                                        std::function<void()> on_writable, std::function<void()> on_closed);
  // Serves an accepted TCP connection as raw bytes (no HTTP parsing by libwebsockets), its events going to
  // `handler`. Takes `fd` over; returns null (the descriptor closed) when libwebsockets cannot take it.
  lws* adopt_raw_socket(int fd, RawSocketHandler& handler);

  util::TimePoint now() const { return util::Clock::now(); }

 private:
  lws_context* m_context = nullptr;
  std::unique_ptr<http::Resolver> m_resolver;
  bool m_stopping = false;
  std::function<void()> m_on_pass_end;
  std::vector<std::unique_ptr<FdWatch>> m_watches;
  lws* adopt_fd(int fd, FdWatch& watch);

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

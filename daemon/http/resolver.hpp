#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <libwebsockets.h>

namespace relay::http {

// The outcome of a name lookup: a numeric address, or why there is none.
struct Resolution {
  std::string address;  // as inet_ntop writes it; empty on failure
  std::string error;    // "cannot resolve HOST: why"; set only on failure
};

// The blocking lookup a Resolver runs on its threads: the system's by default, replaceable in tests.
using LookupFunction = std::function<Resolution(const std::string& host)>;
// getaddrinfo(AF_UNSPEC, SOCK_STREAM), first result: the address libwebsockets itself would have used.
Resolution system_lookup(const std::string& host);
// An IPv4 or IPv6 literal: nothing to look up.
bool is_numeric_address(const std::string& host);

// Host names looked up off the event loop. libwebsockets 4.1 (Debian) is built without its asynchronous DNS,
// so a connection to a name would call getaddrinfo on the loop thread and stall every other connection for
// as long as the resolver takes (seconds when DNS is down). Each lookup runs on a detached thread; the
// result comes back on the loop thread (lws_cancel_service wakes it, the http protocol's
// LWS_CALLBACK_EVENT_WAIT_CANCELLED schedules a timer), from a timer, never inside a libwebsockets callback.
// Concurrent lookups of one name share a thread; at most `max_in_flight` names are looked up at once.
// Lives on the loop thread, registered for its context; destroy it before the context.
class Resolver {
 public:
  static constexpr std::size_t k_default_max_in_flight = 8;
  using Callback = std::function<void(Resolution&&)>;

  // A lookup in progress: destroying it cancels it (the callback never runs). Must not outlive the resolver.
  class Lookup {
   public:
    ~Lookup();
    Lookup(const Lookup&) = delete;
    Lookup& operator=(const Lookup&) = delete;

   private:
    friend class Resolver;
    Lookup(Resolver& resolver, std::uint64_t id) : m_resolver(resolver), m_id(id) {}
    Resolver& m_resolver;
    std::uint64_t m_id;
  };

  explicit Resolver(lws_context* context, LookupFunction lookup = system_lookup,
                    std::size_t max_in_flight = k_default_max_in_flight);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The resolver a connection to `host` on `context` goes through; null when `host` is numeric or the
  // context has none (libwebsockets then resolves it itself, blocking, as before).
  static Resolver* needed_for(lws_context* context, const std::string& host);
  // From the http protocol's LWS_CALLBACK_EVENT_WAIT_CANCELLED: collects finished lookups on `context`.
  static void wake(lws_context* context);

  // `on_done` runs once, later, from a loop timer, unless the handle is destroyed first. Past the limit of
  // names in flight it fails at once (still from the timer).
  std::unique_ptr<Lookup> resolve(const std::string& host, Callback on_done);
  // Names whose lookup thread has not reported back yet.
  std::size_t in_flight() const { return m_running.size(); }
  // For the drain timer only: hands finished lookups to their callbacks.
  void drain();

  struct Drain {
    lws_sorted_usec_list_t sul;  // first: the timer callback gets its address
    Resolver* owner;
  };
  struct Shared;

 private:
  struct Waiter {
    std::string host;
    Callback on_done;
    std::optional<Resolution> result;
  };
  void cancel(std::uint64_t id);
  void schedule_drain();

  lws_context* m_context;
  LookupFunction m_lookup;
  std::size_t m_max_in_flight;
  std::shared_ptr<Shared> m_shared;  // with the lookup threads
  std::set<std::string> m_running;
  std::map<std::uint64_t, Waiter> m_waiters;
  std::uint64_t m_next_id = 1;
  Drain m_drain{{}, this};
};

}  // namespace relay::http

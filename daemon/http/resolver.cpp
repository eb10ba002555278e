#include "http/resolver.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace relay::http {

// What a lookup thread shares with the resolver: it may outlive the resolver (stuck in getaddrinfo at
// shutdown), so it holds this and never the resolver; `context` is cleared, under the mutex, before the
// context can go.
struct Resolver::Shared {
  std::mutex mutex;
  lws_context* context = nullptr;
  std::vector<std::pair<std::string, Resolution>> finished;
};

namespace {

std::mutex g_registry_mutex;
std::unordered_map<lws_context*, Resolver*> g_registry;  // one resolver per context

void drain_fired(lws_sorted_usec_list_t* sul) {
  auto* drain = reinterpret_cast<Resolver::Drain*>(sul);  // standard-layout, the sul first
  drain->owner->drain();
}

}  // namespace

bool is_numeric_address(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

Resolution system_lookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &results);
  if (rc != 0 || results == nullptr) {
    const std::string why = rc == EAI_SYSTEM ? std::strerror(errno)
                            : rc != 0        ? gai_strerror(rc)
                                             : "no address";
    return {{}, "cannot resolve " + host + ": " + why};
  }
  char text[INET6_ADDRSTRLEN] = {};
  const void* address =
      results->ai_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(results->ai_addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(results->ai_addr)->sin_addr);
  const bool ok = inet_ntop(results->ai_family, address, text, sizeof(text)) != nullptr;
  freeaddrinfo(results);
  if (!ok) {
    return {{}, "cannot resolve " + host + ": an address of an unknown family"};
  }
  return {text, {}};
}

Resolver::Lookup::~Lookup() {
  m_resolver.cancel(m_id);
}

Resolver::Resolver(lws_context* context, LookupFunction lookup, std::size_t max_in_flight)
    : m_context(context),
      m_lookup(std::move(lookup)),
      m_max_in_flight(max_in_flight),
      m_shared(std::make_shared<Shared>()) {
  m_shared->context = context;
  std::lock_guard lock(g_registry_mutex);
  g_registry[context] = this;
}

Resolver::~Resolver() {
  {
    std::lock_guard lock(g_registry_mutex);
    g_registry.erase(m_context);
  }
  lws_sul_cancel(&m_drain.sul);
  std::lock_guard lock(m_shared->mutex);
  m_shared->context = nullptr;  // a thread still looking up wakes nobody
}

Resolver* Resolver::needed_for(lws_context* context, const std::string& host) {
  if (is_numeric_address(host)) {
    return nullptr;
  }
  std::lock_guard lock(g_registry_mutex);
  const auto it = g_registry.find(context);
  return it == g_registry.end() ? nullptr : it->second;
}

void Resolver::wake(lws_context* context) {
  if (context == nullptr) {
    return;
  }
  Resolver* resolver = nullptr;
  {
    std::lock_guard lock(g_registry_mutex);
    const auto it = g_registry.find(context);
    resolver = it == g_registry.end() ? nullptr : it->second;
  }
  if (resolver != nullptr) {
    resolver->schedule_drain();
  }
}

void Resolver::schedule_drain() {
  lws_sul_schedule(m_context, 0, &m_drain.sul, drain_fired, 0);
}

std::unique_ptr<Resolver::Lookup> Resolver::resolve(const std::string& host, Callback on_done) {
  const std::uint64_t id = m_next_id++;
  Waiter& waiter = m_waiters[id];
  waiter.host = host;
  waiter.on_done = std::move(on_done);
  if (!m_running.contains(host)) {
    if (m_running.size() >= m_max_in_flight) {
      waiter.result = Resolution{{},
                                 "cannot resolve " + host + ": " + std::to_string(m_max_in_flight) +
                                     " other names are being looked up already"};
    } else {
      try {
        std::thread([shared = m_shared, lookup = m_lookup, host] {
          Resolution result = lookup(host);
          std::lock_guard lock(shared->mutex);
          shared->finished.emplace_back(host, std::move(result));
          if (shared->context != nullptr) {
            lws_cancel_service(shared->context);
          }
        }).detach();
        m_running.insert(host);
      } catch (const std::system_error& error) {
        waiter.result = Resolution{
            {}, "cannot resolve " + host + ": no thread for the lookup (" + std::string(error.what()) + ")"};
      }
    }
  }
  if (waiter.result) {
    schedule_drain();
  }
  return std::unique_ptr<Lookup>(new Lookup(*this, id));
}

void Resolver::cancel(std::uint64_t id) {
  m_waiters.erase(id);  // the name's thread runs on and its result is dropped if nobody else waits
}

void Resolver::drain() {
  std::vector<std::pair<std::string, Resolution>> finished;
  {
    std::lock_guard lock(m_shared->mutex);
    finished.swap(m_shared->finished);
  }
  for (auto& [host, result] : finished) {
    m_running.erase(host);
    for (auto& [id, waiter] : m_waiters) {
      if (waiter.host == host && !waiter.result) {
        waiter.result = result;
      }
    }
  }
  // One at a time, looked up again after each: a callback may cancel other lookups or start new ones.
  for (;;) {
    auto it = m_waiters.begin();
    while (it != m_waiters.end() && !it->second.result) {
      ++it;
    }
    if (it == m_waiters.end()) {
      return;
    }
    Waiter waiter = std::move(it->second);
    m_waiters.erase(it);
    waiter.on_done(std::move(*waiter.result));
  }
}

}  // namespace relay::http

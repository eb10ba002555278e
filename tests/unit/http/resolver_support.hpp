// Lookups the tests control: answered from a table, or held until the test opens the gate.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/resolver.hpp"

namespace relay::test {

class LookupGate {
 public:
  // Lookups of names in `held` wait for open(); the others answer at once.
  explicit LookupGate(std::map<std::string, std::string> answers, std::string held = {})
      : m_answers(std::move(answers)), m_held(std::move(held)) {}

  void open() {
    std::lock_guard lock(m_mutex);
    m_open = true;
    m_changed.notify_all();
  }
  int calls(const std::string& host) {
    std::lock_guard lock(m_mutex);
    return m_calls[host];
  }
  int waiting() const { return m_waiting; }

  // The lookup function for a Resolver: holds `gate` (shared) so a thread outliving the test stays safe.
  static http::LookupFunction function(const std::shared_ptr<LookupGate>& gate) {
    return [gate](const std::string& host) { return gate->lookup(host); };
  }

 private:
  http::Resolution lookup(const std::string& host) {
    std::unique_lock lock(m_mutex);
    ++m_calls[host];
    if (!m_held.empty() && host.find(m_held) != std::string::npos) {
      ++m_waiting;
      // Bounded: a test that never opens the gate must not leave a thread behind for ever.
      m_changed.wait_for(lock, std::chrono::seconds(30), [this] { return m_open; });
      --m_waiting;
    }
    const auto it = m_answers.find(host);
    if (it == m_answers.end()) {
      return {{}, "cannot resolve " + host + ": Name or service not known"};
    }
    return {it->second, {}};
  }

  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_open = false;
  std::atomic<int> m_waiting = 0;
  std::map<std::string, int> m_calls;
  std::map<std::string, std::string> m_answers;
  std::string m_held;
};

}  // namespace relay::test

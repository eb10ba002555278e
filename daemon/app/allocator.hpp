#pragma once

#include <cstddef>
#include <string>

namespace relay::app {

// The malloc the process runs on, found at run time rather than build time: jemalloc when the daemon is
// linked with it (the default build, cmake -DRELAY_JEMALLOC=ON, docs/performance.md) or when it is preloaded,
// else glibc's. With glibc, each of the two ZeroMQ frames an event allocates on the event loop is freed on
// ZeroMQ's I/O thread under the lock the event loop's next malloc takes; in a flood the two threads wait on
// each other in futex calls. jemalloc batches such frees in a per-thread cache.
class Allocator {
 public:
  // Looks the allocator up once (dlsym of jemalloc's mallctl).
  static const Allocator& current();

  // "jemalloc 5.3.0" or "glibc malloc".
  const std::string& name() const { return m_name; }
  bool is_jemalloc() const { return m_mallctl != nullptr; }
  // Gives free memory back to the system: jemalloc purges every arena's unused pages, glibc trims its heaps
  // (malloc_trim).
  void release_free_memory() const;

 private:
  using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
  Allocator();

  Mallctl m_mallctl = nullptr;
  std::string m_name;
};

}  // namespace relay::app

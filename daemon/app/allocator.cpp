#include "app/allocator.hpp"

#include <dlfcn.h>
#include <malloc.h>

namespace relay::app {

namespace {

// jemalloc's MALLCTL_ARENAS_ALL: "arena.4096.purge" purges every arena.
constexpr const char* k_purge_all_arenas = "arena.4096.purge";

}  // namespace

const Allocator& Allocator::current() {
  static const Allocator allocator;
  return allocator;
}

Allocator::Allocator() {
  // Only jemalloc exports mallctl; found in the process whether linked in or preloaded.
  m_mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (!m_mallctl) {
    m_name = "glibc malloc";
    return;
  }
  const char* version = nullptr;
  std::size_t length = sizeof(version);
  m_name = "jemalloc";
  if (m_mallctl("version", static_cast<void*>(&version), &length, nullptr, 0) == 0 && version) {
    // "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": the release is enough.
    const std::string full(version);
    m_name += " " + full.substr(0, full.find('-'));
  }
}

void Allocator::release_free_memory() const {
  if (m_mallctl) {
    m_mallctl(k_purge_all_arenas, nullptr, nullptr, nullptr, 0);
  } else {
    malloc_trim(0);
  }
}

}  // namespace relay::app

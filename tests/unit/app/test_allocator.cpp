#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "app/allocator.hpp"

// test_app runs on glibc's malloc; test_app_jemalloc (the default build, RELAY_JEMALLOC) links jemalloc, as
// the daemon does, and defines RELAY_EXPECT_JEMALLOC.
#ifndef RELAY_EXPECT_JEMALLOC
#define RELAY_EXPECT_JEMALLOC 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define RELAY_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RELAY_UNDER_ASAN 1
#endif
#endif

using relay::app::Allocator;

TEST_CASE("the allocator is named after the malloc the process runs on") {
  const Allocator& allocator = Allocator::current();
  if (RELAY_EXPECT_JEMALLOC) {
    REQUIRE(allocator.is_jemalloc());
    REQUIRE(allocator.name().rfind("jemalloc 5.", 0) == 0);
  } else {
    REQUIRE_FALSE(allocator.is_jemalloc());
    REQUIRE(allocator.name() == "glibc malloc");
  }
}

#ifndef RELAY_UNDER_ASAN  // AddressSanitizer holds freed memory in its quarantine
namespace {

long resident_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("release_free_memory gives freed memory back to the system") {
  // 64 MiB in 16 KiB blocks, all freed but the last. Freeing alone keeps them resident: glibc cannot shrink
  // its heap below the last block, jemalloc keeps freed pages for 10 s before it returns them.
  constexpr std::size_t k_block = 16 * 1024;
  constexpr std::size_t k_blocks = 4096;
  std::vector<void*> blocks;
  blocks.reserve(k_blocks);
  for (std::size_t i = 0; i < k_blocks; ++i) {
    void* block = std::malloc(k_block);
    REQUIRE(block != nullptr);
    std::memset(block, 1, k_block);
    blocks.push_back(block);
  }
  for (std::size_t i = 0; i + 1 < k_blocks; ++i) {
    std::free(blocks[i]);
  }
  const long freed = resident_kib();
  Allocator::current().release_free_memory();
  const long released = resident_kib();
  std::free(blocks.back());
  INFO("resident after free " << freed << " KiB, after release_free_memory " << released << " KiB");
  REQUIRE(freed - released >= 32 * 1024);
}
#endif

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "publish/journal.hpp"

using relay::publish::Journal;
using relay::publish::RetainedMessage;
namespace fs = std::filesystem;

namespace {

using relay::test::TempDir;

std::vector<RetainedMessage> load(const std::string& directory, Journal** keep = nullptr) {
  std::vector<RetainedMessage> loaded;
  auto* journal = new Journal(directory, 1 << 30);
  journal->load([&](const RetainedMessage& message) { loaded.push_back(message); });
  if (keep != nullptr) {
    *keep = journal;
  } else {
    delete journal;
  }
  return loaded;
}

}  // namespace

TEST_CASE("a journal gives back exactly what was appended, across runs") {
  TempDir dir;
  {
    Journal journal(dir.path.string(), 1 << 30);
    journal.load([](const RetainedMessage&) { FAIL("an empty journal loaded something"); });
    journal.append(1, "T", "body-1", "{\"relay_seq\":1}");
    journal.append(2, "relay.shard", std::string("b\0dy", 4), "{}");
    journal.flush();
  }
  {
    Journal journal(dir.path.string(), 1 << 30);
    std::vector<RetainedMessage> loaded;
    journal.load([&](const RetainedMessage& message) { loaded.push_back(message); });
    REQUIRE(loaded.size() == 2);
    journal.append(10, "T", "after a restart", "{}");  // a new run continues in a new segment
  }
  const auto loaded = load(dir.path.string());
  REQUIRE(loaded.size() == 3);
  CHECK(loaded[0].relay_seq == 1);
  CHECK(loaded[0].topic() == "T");
  CHECK(loaded[0].body() == "body-1");
  CHECK(loaded[0].metadata() == "{\"relay_seq\":1}");
  CHECK(loaded[1].body() == std::string("b\0dy", 4));
  CHECK(loaded[2].relay_seq == 10);
  CHECK(loaded[2].body() == "after a restart");
}

TEST_CASE("a record torn by a crash ends its segment, nothing after it is invented") {
  TempDir dir;
  {
    Journal journal(dir.path.string(), 1 << 30);
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
      journal.append(seq, "T", "body", "{}");
    }
  }
  const fs::path segment = *fs::directory_iterator(dir.path);
  fs::resize_file(segment, fs::file_size(segment) - 3);
  Journal* journal = nullptr;
  const auto loaded = load(dir.path.string(), &journal);
  CHECK(loaded.size() == 2);
  CHECK(journal->counters().damaged_segments == 1);
  delete journal;
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << "garbage that is no record at all";
  CHECK(load(dir.path.string()).empty());
}

TEST_CASE("old segments are deleted beyond the size limit") {
  TempDir dir;
  {
    Journal journal(dir.path.string(), 3000, 1000);  // 1 KB segments, 3 KB in all
    for (std::uint64_t seq = 1; seq <= 100; ++seq) {
      journal.append(seq, "T", std::string(100, 'x'), "{}");
      journal.flush();
    }
  }
  std::uintmax_t total = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    total += entry.file_size();
  }
  CHECK(total <= 3000 + 1000);
  const auto loaded = load(dir.path.string());
  REQUIRE_FALSE(loaded.empty());
  CHECK(loaded.back().relay_seq == 100);
  CHECK(loaded.front().relay_seq > 1);
  for (std::size_t i = 1; i < loaded.size(); ++i) {
    CHECK(loaded[i].relay_seq == loaded[i - 1].relay_seq + 1);
  }
}

TEST_CASE("flush hands the batch to the writer thread, flush(true) returns once it is on disk") {
  TempDir dir;
  Journal journal(dir.path.string(), 1 << 30);
  for (std::uint64_t seq = 1; seq <= 1000; ++seq) {
    journal.append(seq, "T", std::string(200, 'x'), "{}");
    if (seq % 100 == 0) {
      journal.flush();
    }
  }
  journal.flush(true);
  CHECK(journal.counters().bytes_written > 1000 * 200);
  CHECK(journal.counters().write_failures == 0);
  // Another reader sees every record now, while this journal is still open.
  const auto loaded = load(dir.path.string());
  REQUIRE(loaded.size() == 1000);
  CHECK(loaded.back().relay_seq == 1000);
}

TEST_CASE("a batch past what may wait for the writer is dropped and counted, not queued") {
  TempDir dir;
  Journal journal(dir.path.string(), 1 << 30, 16 << 20, 1024);
  journal.append(1, "T", std::string(2000, 'x'), "{}");
  journal.flush();
  CHECK(journal.counters().batches_dropped == 1);
  CHECK(journal.last_error().find("too slow") != std::string::npos);
  journal.append(2, "T", "small", "{}");
  journal.flush(true);
  CHECK(journal.counters().batches_dropped == 1);
  CHECK(journal.last_error().empty());
  const auto loaded = load(dir.path.string());
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].relay_seq == 2);
}

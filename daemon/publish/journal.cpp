#include "publish/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

namespace relay::publish {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t k_magic = 0x314A5251;            // "QRJ1"
constexpr std::size_t k_header = 4 + 8 + 4 + 4 + 4 + 4;  // magic, seq, three sizes, checksum

std::uint32_t checksum(std::string_view bytes) {
  std::uint32_t hash = 2166136261u;  // FNV-1a: enough to tell a torn record from a whole one
  for (const char c : bytes) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  }
  return hash;
}

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
T get(const char* in) {
  T value;
  std::memcpy(&value, in, sizeof(T));
  return value;
}

std::vector<fs::path> segments(const std::string& directory) {
  std::vector<fs::path> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    if (entry.path().extension() == ".seg") {
      found.push_back(entry.path());
    }
  }
  std::sort(found.begin(), found.end());  // names are zero-padded first relay_seq values
  return found;
}

}  // namespace

void append_record(std::string& out, std::uint64_t relay_seq, std::string_view topic, std::string_view body,
                   std::string_view metadata) {
  const std::size_t start = out.size();
  put(out, k_magic);
  put(out, relay_seq);
  put(out, static_cast<std::uint32_t>(topic.size()));
  put(out, static_cast<std::uint32_t>(body.size()));
  put(out, static_cast<std::uint32_t>(metadata.size()));
  put(out, std::uint32_t{0});  // checksum, filled in below
  out.append(topic).append(body).append(metadata);
  const std::uint32_t sum = checksum(std::string_view(out).substr(start + k_header));
  std::memcpy(out.data() + start + 24, &sum, sizeof(sum));
}

bool decode_segment(std::string_view data, const std::function<void(const RetainedMessage&)>& sink) {
  std::size_t offset = 0;
  while (offset + k_header <= data.size()) {
    const char* p = data.data() + offset;
    const auto topic = get<std::uint32_t>(p + 12);
    const auto body = get<std::uint32_t>(p + 16);
    const auto meta = get<std::uint32_t>(p + 20);
    const std::size_t payload = std::size_t{topic} + body + meta;
    if (get<std::uint32_t>(p) != k_magic || offset + k_header + payload > data.size() ||
        checksum(std::string_view(p + k_header, payload)) != get<std::uint32_t>(p + 24)) {
      return false;
    }
    RetainedMessage message;
    message.relay_seq = get<std::uint64_t>(p + 4);
    message.topic_size = topic;
    message.body_size = body;
    message.frames.assign(p + k_header, payload);
    sink(message);
    offset += k_header + payload;
  }
  return true;
}

Journal::Journal(std::string directory, std::size_t max_bytes, std::size_t segment_bytes,
                 std::size_t max_queued_bytes)
    : m_directory(std::move(directory)),
      m_max_bytes(max_bytes),
      m_segment_bytes(std::max<std::size_t>(std::min(segment_bytes, max_bytes / 4), 4096)),
      m_max_queued_bytes(max_queued_bytes) {
  std::error_code error;
  fs::create_directories(m_directory, error);
  m_writer = std::thread([this] { run_writer(); });
}

Journal::~Journal() {
  flush(true);
  {
    const std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_one();
  m_writer.join();
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

JournalCounters Journal::counters() const {
  const std::lock_guard lock(m_mutex);
  JournalCounters counters = m_counters;
  counters.records_written = m_records_written;
  return counters;
}

std::string Journal::last_error() const {
  const std::lock_guard lock(m_mutex);
  return m_last_error;
}

void Journal::load(const std::function<void(const RetainedMessage&)>& sink) {
  for (const fs::path& path : segments(m_directory)) {
    std::ifstream in(path, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::uint64_t loaded = 0;
    const bool intact = decode_segment(data, [this, &sink, &loaded](const RetainedMessage& message) {
      m_last_loaded = std::max(m_last_loaded, message.relay_seq);
      sink(message);
      ++loaded;
    });
    const std::lock_guard lock(m_mutex);
    m_counters.records_loaded += loaded;
    if (!intact) {
      ++m_counters.damaged_segments;  // torn by a crash: what follows in this segment is lost
    }
  }
}

void Journal::append(std::uint64_t relay_seq, std::string_view topic, std::string_view body,
                     std::string_view metadata) {
  if (m_buffer.empty()) {
    m_buffer_first_seq = relay_seq;
  }
  append_record(m_buffer, relay_seq, topic, body, metadata);
  ++m_records_written;
}

void Journal::flush(bool sync) {
  std::unique_lock lock(m_mutex);
  if (!m_buffer.empty()) {
    if (m_queued_bytes + m_buffer.size() > m_max_queued_bytes) {
      // The disk has not kept up with this much: drop rather than grow without bound. The live stream is not
      // affected; only catch-up across a restart misses these messages.
      ++m_counters.batches_dropped;
      ++m_counters.write_failures;
      m_last_error = fmt::format("the disk in {} is too slow: {} bytes were still waiting to be written",
                                 m_directory, m_queued_bytes);
    } else {
      m_queued_bytes += m_buffer.size();
      m_queue.push_back(Batch{m_buffer_first_seq, std::move(m_buffer)});
    }
    m_buffer.clear();
  }
  if (sync) {
    m_sync_requested = true;
    m_wake.notify_one();
    m_idle.wait(lock, [this] { return m_queue.empty() && !m_writing && !m_sync_requested; });
  } else if (!m_queue.empty()) {
    m_wake.notify_one();
  }
}

void Journal::run_writer() {
  std::unique_lock lock(m_mutex);
  while (true) {
    m_wake.wait(lock, [this] { return m_stop || !m_queue.empty() || m_sync_requested; });
    if (!m_queue.empty()) {
      const Batch batch = std::move(m_queue.front());
      m_queue.pop_front();
      m_queued_bytes -= batch.bytes.size();
      m_writing = true;
      lock.unlock();
      write_batch(batch);
      lock.lock();
      m_writing = false;
    } else if (m_sync_requested) {
      lock.unlock();
      if (m_fd >= 0) {
        ::fsync(m_fd);
      }
      lock.lock();
      m_sync_requested = false;
      m_idle.notify_all();
    } else if (m_stop) {
      return;
    }
  }
}

void Journal::open_segment(std::uint64_t first_seq) {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  // A new file every time: appending to an old segment could bury its records behind a torn one.
  std::string path = fmt::format("{}/{:020}.seg", m_directory, first_seq);
  for (int suffix = 1; ::access(path.c_str(), F_OK) == 0; ++suffix) {
    path = fmt::format("{}/{:020}-{}.seg", m_directory, first_seq, suffix);
  }
  m_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  m_segment_size = 0;
  if (m_fd < 0) {
    const std::lock_guard lock(m_mutex);
    m_last_error = fmt::format("cannot create {}: {}", path, std::strerror(errno));
  }
}

void Journal::write_batch(const Batch& batch) {
  if (m_fd < 0 || m_segment_size >= m_segment_bytes) {
    open_segment(batch.first_seq);
  }
  if (m_fd < 0) {
    const std::lock_guard lock(m_mutex);
    ++m_counters.write_failures;  // the stream goes on; only catch-up across a restart loses these
    return;
  }
  std::string_view rest = batch.bytes;
  while (!rest.empty()) {
    const ssize_t written = ::write(m_fd, rest.data(), rest.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  if (!rest.empty()) {
    // Cut the partial batch off again, and start a new segment next time, so that no torn record ends up in
    // the middle of a segment with whole ones after it.
    const int error = errno;
    if (::ftruncate(m_fd, static_cast<off_t>(m_segment_size)) != 0) {
      m_segment_size = m_segment_bytes;  // force a new segment
    }
    ::close(m_fd);
    m_fd = -1;
    const std::lock_guard lock(m_mutex);
    m_last_error = fmt::format("cannot write to the journal in {}: {}", m_directory, std::strerror(error));
    ++m_counters.write_failures;
    return;
  }
  m_segment_size += batch.bytes.size();
  {
    const std::lock_guard lock(m_mutex);
    m_last_error.clear();
    m_counters.bytes_written += batch.bytes.size();
  }
  prune();
}

void Journal::prune() {
  auto found = segments(m_directory);
  std::uintmax_t total = 0;
  std::error_code error;
  for (const auto& path : found) {
    total += fs::file_size(path, error);
  }
  // The newest segment (the one being written) always stays.
  for (std::size_t i = 0; i + 1 < found.size() && total > m_max_bytes; ++i) {
    total -= fs::file_size(found[i], error);
    fs::remove(found[i], error);
  }
}

}  // namespace relay::publish

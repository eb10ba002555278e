#include "state/quarantine.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "util/base64.hpp"
#include "util/json_writer.hpp"

namespace relay::state {

Quarantine::Quarantine(std::string directory, std::size_t max_bytes)
    : m_path(directory + "/quarantine.jsonl"),
      m_rotated_path(directory + "/quarantine.1.jsonl"),
      m_max_bytes(max_bytes) {}

Quarantine::~Quarantine() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

std::string Quarantine::encode(const QuarantineRecord& record, std::size_t max_bytes_kept) {
  const std::string_view kept = record.bytes.substr(0, max_bytes_kept);
  std::string line = fmt::format(R"({{"time_ms":{},"source":)", record.unix_ms);
  util::append_json_string(line, record.source);
  line += R"(,"shard":)";
  line += record.shard ? fmt::format("[{},{}]", record.shard->first, record.shard->second) : "null";
  line += R"(,"s":)";
  line += record.seq ? std::to_string(*record.seq) : "null";
  line += R"(,"problem":)";
  util::append_json_string(line, record.problem);
  fmt::format_to(std::back_inserter(line), R"(,"offset":{},"length":{},"truncated":{},"base64":")",
                 record.offset, record.bytes.size(), kept.size() < record.bytes.size());
  util::append_base64(line, kept);
  line += "\"}\n";
  return line;
}

std::string Quarantine::open_file() {
  // O_NOFOLLOW: a link planted in the state directory must not redirect what we append.
  m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (m_fd < 0) {
    return fmt::format("cannot open {}: {}", m_path, std::strerror(errno));
  }
  struct stat info {};
  m_size = ::fstat(m_fd, &info) == 0 ? static_cast<std::size_t>(info.st_size) : 0;
  return {};
}

std::string Quarantine::keep(const QuarantineRecord& record) {
  if (m_max_bytes == 0) {
    return {};
  }
  const std::string line = encode(record, m_max_bytes / 4 * 3 / 4);  // base64 grows the bytes by a third
  if (m_fd < 0) {
    if (auto error = open_file(); !error.empty()) {
      return error;
    }
  }
  if (m_size > 0 && m_size + line.size() > m_max_bytes / 2) {
    ::close(m_fd);
    m_fd = -1;
    if (::rename(m_path.c_str(), m_rotated_path.c_str()) != 0) {
      return fmt::format("cannot rename {}: {}", m_path, std::strerror(errno));
    }
    if (auto error = open_file(); !error.empty()) {
      return error;
    }
  }
  const ssize_t written = ::write(m_fd, line.data(), line.size());
  if (written < 0 || static_cast<std::size_t>(written) != line.size()) {
    return fmt::format("cannot write {}: {}", m_path, written < 0 ? std::strerror(errno) : "short write");
  }
  m_size += line.size();
  return {};
}

}  // namespace relay::state

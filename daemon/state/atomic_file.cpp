#include "state/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace relay::state {
namespace {

// Far above any real state file; keeps a wrong path (a log, a device) from filling memory.
constexpr std::size_t k_max_read_bytes = 16 << 20;

util::Unexpected<std::string> describe_errno(std::string_view what, const std::string& path) {
  return util::Unexpected(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : m_fd(fd) {}
  ~FileDescriptor() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return m_fd; }
  // Closing can report a delayed write error, so callers that care check it.
  int release_and_close() { return ::close(std::exchange(m_fd, -1)); }

 private:
  int m_fd;
};

bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t written = ::write(fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

util::Expected<void, std::string> write_file_atomically(const std::string& path, std::string_view content) {
  const std::string temporary = path + ".tmp";
  // A temporary left by a crash, or anything planted under its name (a symlink to a file the relay can
  // write), is removed, never written through: unlink removes a symlink itself, and O_EXCL | O_NOFOLLOW
  // refuse whatever appears there between the unlink and the open. When the unlink fails (nothing there, a
  // missing directory, a directory planted there), the open below reports what is wrong.
  ::unlink(temporary.c_str());
  FileDescriptor file(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (file.get() < 0) {
    return describe_errno("cannot create", temporary);
  }
  if (!write_all(file.get(), content)) {
    auto error = describe_errno("cannot write", temporary);
    ::unlink(temporary.c_str());
    return error;
  }
  if (::fsync(file.get()) != 0 || file.release_and_close() != 0) {
    auto error = describe_errno("cannot sync", temporary);
    ::unlink(temporary.c_str());
    return error;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    auto error = describe_errno("cannot rename onto", path);
    ::unlink(temporary.c_str());
    return error;
  }
  // The rename itself is only durable once the directory entry is.
  const std::string directory = directory_of(path);
  FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
    return describe_errno("cannot sync directory", directory);
  }
  return {};
}

util::Expected<std::optional<std::string>, std::string> read_whole_file(const std::string& path) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    if (errno != ENOENT) {
      return describe_errno("cannot open", path);
    }
    return std::nullopt;
  }
  std::string content;
  char buffer[8192];
  for (;;) {
    const ssize_t got = ::read(file.get(), buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return describe_errno("cannot read", path);
    }
    if (got == 0) {
      return content;
    }
    content.append(buffer, static_cast<std::size_t>(got));
    if (content.size() > k_max_read_bytes) {
      return util::Unexpected(fmt::format("{} is larger than {} bytes", path, k_max_read_bytes));
    }
  }
}

}  // namespace relay::state

#include "engine/files.h"

#include "elr_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace elr {

namespace {

// The write that the test hook fails (ELR_FAIL_WRITE, files.h); 0: none.
int64_t failing_write() {
  static const int64_t n = [] {
    const char* v = std::getenv("ELR_FAIL_WRITE");
    return v ? std::atoll(v) : 0;
  }();
  return n;
}

bool write_bytes(int fd, const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Writes all of `data`; false with errno set when the system refuses.
bool write_all(int fd, const std::string& data) {
  static std::atomic<int64_t> writes{0};
  if (++writes == failing_write()) {
    write_bytes(fd, data.data(), data.size() / 2);
    errno = ENOSPC;
    return false;
  }
  return write_bytes(fd, data.data(), data.size());
}

// Makes a rename in `dir` survive a power loss; best effort (not every file system syncs folders).
void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw WriteError(fmt::format("cannot write '{}': {}", tmp, std::strerror(errno)));
  bool ok = write_all(fd, contents) && ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    const std::string kept = path_exists(path) ? fmt::format(" (the previous '{}' is unchanged)", path) : "";
    throw WriteError(fmt::format("cannot write '{}': {}{}", tmp, std::strerror(err), kept));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    throw WriteError(fmt::format("cannot rename '{}' to '{}': {}", tmp, path, std::strerror(err)));
  }
  sync_directory(directory_of(path));
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw UserError(fmt::format("'{}' is not valid JSON: {}", path, e.what()));
  }
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void make_directories(const std::string& path) {
  std::string partial;
  std::stringstream ss(path);
  std::string part;
  if (!path.empty() && path[0] == '/') partial = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    partial += part;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
      throw UserError(fmt::format("cannot create folder '{}': {}", partial, std::strerror(errno)));
    partial += "/";
  }
}

LineWriter::LineWriter(const std::string& path, bool append) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
  if (fd_ < 0) throw WriteError(fmt::format("cannot open '{}' for writing: {}", path, std::strerror(errno)));
}

LineWriter::~LineWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void LineWriter::write_line(const std::string& line) {
  if (!write_all(fd_, line + "\n")) throw WriteError(fmt::format("cannot write '{}': {}", path_, std::strerror(errno)));
}

std::string git_revision() {
  std::string out;
  if (std::FILE* p = ::popen("git -C '" ELR_SOURCE_DIR "' rev-parse --short HEAD 2>/dev/null", "r")) {
    char buf[64];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) out.pop_back();
  return out.empty() ? "unknown" : out;
}

std::string version_text() { return fmt::format("{} (git {})", ELR_VERSION, git_revision()); }

std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{}", v);
}

}  // namespace elr

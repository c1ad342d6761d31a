// Files of a run directory: whole files are written atomically (temp file, fsync, rename), logs
// are appended line by line, so a crash loses at most the line being written. Every write is
// checked: the first one that fails (full disk, I/O error) throws WriteError naming the file.
//
// Test hook: with ELR_FAIL_WRITE=N in the environment, the N-th write of this process (a log line
// or a whole file, counted from 1) writes half its bytes and then fails as on a full disk.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace elr {

// A write that failed: the message names the file and the system's reason.
class WriteError : public UserError {
 public:
  explicit WriteError(const std::string& what) : UserError(what) {}
};

// Replaces `path` with `contents` through `path`.tmp: a reader sees the old file or the new one,
// never a part. On failure the old file is left as it was.
void write_file_atomic(const std::string& path, const std::string& contents);
void write_json_atomic(const std::string& path, const nlohmann::json& j);
nlohmann::json read_json(const std::string& path);
void make_directories(const std::string& path);  // like mkdir -p; UserError naming the path on failure
bool path_exists(const std::string& path);

class LineWriter {
 public:
  // append = false truncates the file.
  LineWriter(const std::string& path, bool append);
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;
  void write_line(const std::string& line);  // adds '\n'; written through to the file at once
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// The source tree's short git revision ("unknown" outside a checkout), recorded with every result.
std::string git_revision();
// "0.1.0 (git abc1234)": the project's version and git_revision(), for --version.
std::string version_text();

// Compact number formatting for CSV and JSON: shortest text that reads back to the same double.
std::string format_double(double v);

}  // namespace elr

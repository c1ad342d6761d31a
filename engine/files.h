// Files of a run directory: whole files are written atomically (temp file, fsync, rename), logs
// are appended line by line and flushed, so a crash loses at most the line being written.
#pragma once
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace elr {

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
  void write_line(const std::string& line);  // adds '\n' and flushes
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_;
};

// The source tree's short git revision ("unknown" outside a checkout), recorded with every result.
std::string git_revision();

// Compact number formatting for CSV and JSON: shortest text that reads back to the same double.
std::string format_double(double v);

}  // namespace elr

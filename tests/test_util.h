// Small helpers shared by the tests that run the elrscope binary or read the files it writes.
#pragma once
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>

#include "elr_test_paths.h"

namespace elr::testing {

// A folder name unique to this test process, removed if it exists (not created).
inline std::string temp_dir(const std::string& name) {
  std::string d = std::string("/tmp/elr_test_") + name + "_" + std::to_string(::getpid());
  std::system(("rm -rf '" + d + "'").c_str());
  return d;
}

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

struct Outcome {
  int exit_code;
  std::string output;  // stdout and stderr
};

// Runs `elrscope ARGS`; `env` is put before the command, e.g. "PATH=/nonexistent".
inline Outcome run_elrscope(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + (env.empty() ? "" : " ") + std::string(ELR_BINARY) + " " + args + " 2>&1";
  Outcome o{-1, ""};
  if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) o.output += buf;
    const int status = ::pclose(p);
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return o;
}

// Every file under `dir`, by its path relative to `dir`, with its bytes: to check that nothing changed.
inline std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[std::filesystem::relative(e.path(), dir).string()] = read_all(e.path().string());
  return files;
}

// Starts `elrscope ARGS` in the background, its stdout and stderr going to `log`; returns its pid.
inline pid_t start_elrscope(const std::string& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = "exec " + std::string(ELR_BINARY) + " " + args + " >'" + log + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits for the process: its exit code, or 1000 + the signal that ended it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

// The highest step with a row in a layers.csv (-1 when none, or no complete row yet). Reads only
// the file's last 4 KB (rows are far shorter), so that polling it costs little while the run appends.
inline int64_t last_logged_step(const std::string& csv) {
  std::ifstream in(csv, std::ios::binary | std::ios::ate);
  const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : 0;
  const std::streamoff from = size > 4096 ? size - 4096 : 0;
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.seekg(from);
  in.read(&tail[0], static_cast<std::streamsize>(tail.size()));
  const size_t end = tail.rfind('\n');  // a row is complete with its newline
  if (end == std::string::npos || end == 0) return -1;
  const size_t before = tail.rfind('\n', end - 1);
  const size_t start = before == std::string::npos ? 0 : before + 1;
  const std::string row = tail.substr(start, end - start);
  return row.empty() || row[0] < '0' || row[0] > '9' ? -1 : std::stoll(row);  // the header: -1
}

// Waits until `csv` has a row of step `step` or later, or `pid` has ended; false after `seconds`.
inline bool wait_for_step(const std::string& csv, int64_t step, pid_t pid, int seconds = 60) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (last_logged_step(csv) < step) {
    siginfo_t info{};
    const bool ended =
        ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    if (ended || std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace elr::testing

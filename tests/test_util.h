// Small helpers shared by the tests that run the elrscope binary or read the files it writes.
#pragma once
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

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

}  // namespace elr::testing

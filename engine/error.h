// Errors are exceptions that carry their context: what was wrong, and where it was found.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace elr {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// The user asked for something impossible (bad option, bad file): reported without a file:line.
class UserError : public Error {
 public:
  explicit UserError(const std::string& what) : Error(what) {}
};

// The exit code of a program ended by `e` (experiments/cli/cli.h): 2 for a UserError, else 1.
inline int exit_code_of(const std::exception& e) { return dynamic_cast<const UserError*>(&e) ? 2 : 1; }

[[noreturn]] inline void throw_error(const char* file, int line, const std::string& msg) {
  throw Error(fmt::format("{} ({}:{})", msg, file, line));
}

}  // namespace elr

// ELR_CHECK(cond, "fmt", args...): throws elr::Error with the formatted message and file:line.
#define ELR_CHECK(cond, ...)                                               \
  do {                                                                     \
    if (!(cond)) ::elr::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)

#define ELR_FAIL(...) ::elr::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__))

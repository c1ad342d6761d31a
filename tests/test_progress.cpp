// PhaseLine: work that takes longer than its delay gets a line saying what it is and how long it
// took; quicker work, or a disabled line, prints nothing.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "experiments/run/progress.h"

namespace {

// What a PhaseLine with this delay printed into a file.
std::string printed(bool enabled, double delay_s) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  { elr::PhaseLine line("loading fashion-mnist", enabled, delay_s, f); }
  std::rewind(f);
  std::string text;
  char buf[256];
  while (std::fgets(buf, sizeof buf, f)) text += buf;
  std::fclose(f);
  return text;
}

}  // namespace

TEST_CASE("progress: a phase line shows slow work and says how long it took", "[progress]") {
  const std::string slow = printed(true, 0.0);  // every phase outlasts a delay of 0
  INFO(slow);
  CHECK(slow.find("loading fashion-mnist: done in ") != std::string::npos);
  CHECK(slow.back() == '\n');
  CHECK(printed(true, 3600.0).empty());  // quick work: nothing
  CHECK(printed(false, 0.0).empty());    // --quiet
}

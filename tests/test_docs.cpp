// The docs stand alone: every relative link in README.md and docs/*.md points at a file that
// exists, every `docs/<page>.md` that the docs or the sources name is a page the project has, and
// every source file the docs name (`optim/sgd.h`, `kernels/cuda/*.cu`) is in the tree.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fnmatch.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "test_util.h"

namespace fs = std::filesystem;
using elr::testing::read_all;
using elr::testing::temp_dir;

namespace {

bool is_doc(const fs::path& p) { return p.extension() == ".md"; }
bool is_source(const fs::path& p) {
  static const std::vector<std::string> kinds = {".cpp", ".h", ".cu", ".sh", ".py", ".awk", ".txt"};
  return std::find(kinds.begin(), kinds.end(), p.extension().string()) != kinds.end();
}

// The files to read under `root`: README.md, docs/*.md and the sources of the project's folders
// (build folders and the tests' own data left out).
std::vector<fs::path> files_to_check(const fs::path& root) {
  std::vector<fs::path> out;
  if (fs::exists(root / "README.md")) out.push_back(root / "README.md");
  for (const char* top : {"docs", "engine", "kernels", "layers", "optim", "experiments", "bench", "scripts", "tests"}) {
    if (!fs::is_directory(root / top)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / top)) {
      const std::string rel = fs::relative(e.path(), root).string();
      if (!e.is_regular_file() || rel.find("fixtures") != std::string::npos || rel.find("fuzz_corpus") != std::string::npos)
        continue;
      if ((top == std::string("docs") && is_doc(e.path())) || (top != std::string("docs") && is_source(e.path())))
        out.push_back(e.path());
    }
  }
  return out;
}

// True when `path` (relative to root; '*' in its last part matches any run of characters) names at
// least one file.
bool path_matches(const fs::path& root, const std::string& path) {
  if (path.find('*') == std::string::npos) return fs::exists(root / path);
  const fs::path p(path);
  if (!fs::is_directory(root / p.parent_path())) return false;
  for (const auto& e : fs::directory_iterator(root / p.parent_path()))
    if (::fnmatch(p.filename().c_str(), e.path().filename().c_str(), 0) == 0) return true;
  return false;
}

// Every broken reference under `root`, one line each ("FILE: link TARGET: no such file").
std::vector<std::string> broken_doc_references(const fs::path& root) {
  std::vector<std::string> broken;
  const std::regex page(R"(docs/[A-Za-z0-9_.-]+\.md)");
  const std::regex link(R"(\]\(([^)\s]+)\))");  // [text](target) and ![alt](target)
  // A source path in the docs: a top-level folder, then a file name with a source extension.
  const std::regex source(
      R"(\b(?:engine|kernels|layers|optim|experiments|bench|scripts|tests|fuzz)/[A-Za-z0-9_./*-]+\.(?:cpp|h|cu|sh|py|gp|awk|cmake)\b)");
  for (const fs::path& file : files_to_check(root)) {
    const std::string text = read_all(file.string());
    const std::string where = fs::relative(file, root).string();
    for (std::sregex_iterator m(text.begin(), text.end(), page), end; m != end; ++m)
      if (!fs::exists(root / m->str())) broken.push_back(fmt::format("{}: names {}: no such page", where, m->str()));
    if (!is_doc(file)) continue;
    for (std::sregex_iterator m(text.begin(), text.end(), source), end; m != end; ++m)
      if (!path_matches(root, m->str())) broken.push_back(fmt::format("{}: names {}: no such file", where, m->str()));
    for (std::sregex_iterator m(text.begin(), text.end(), link), end; m != end; ++m) {
      std::string target = (*m)[1].str();
      if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0 || target.rfind("mailto:", 0) == 0 ||
          target[0] == '#')
        continue;
      target = target.substr(0, target.find('#'));
      if (!fs::exists(file.parent_path() / target))
        broken.push_back(fmt::format("{}: link {}: no such file", where, target));
    }
  }
  return broken;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("docs: every relative link and every named docs page exists", "[docs]") {
  const fs::path root = fs::path(ELR_TEST_DIR).parent_path();
  REQUIRE(files_to_check(root).size() > 20);
  const std::vector<std::string> broken = broken_doc_references(root);
  INFO(joined(broken));
  CHECK(broken.empty());
}

TEST_CASE("docs: the link check finds a missing page, a broken link and a missing image", "[docs]") {
  const fs::path root = temp_dir("docs_check");
  // (The page names are split so that this file does not name them itself.)
  write(root / "README.md", "See docs/" "present.md and docs/" "absent.md.\n");
  write(root / "docs" / "present.md",
        "[ok](present.md) [gone](missing.md#part) ![plot](images/none.svg) [web](https://x.org)\n");
  write(root / "optim/sgd.h", "// defined in docs/" "nowhere.md\n");
  write(root / "docs" / "code.md", "See optim/sgd.h, kernels/cuda/*.cu and optim/" "gone.cpp.\n");
  const std::vector<std::string> broken = broken_doc_references(root);
  INFO(joined(broken));
  REQUIRE(broken.size() == 6);
  CHECK(broken[0] == "README.md: names docs/" "absent.md: no such page");
  CHECK(joined(broken).find("present.md: link missing.md: no such file") != std::string::npos);
  CHECK(joined(broken).find("present.md: link images/none.svg: no such file") != std::string::npos);
  CHECK(joined(broken).find("optim/sgd.h: names docs/" "nowhere.md: no such page") != std::string::npos);
  CHECK(joined(broken).find("code.md: names kernels/cuda/*.cu: no such file") != std::string::npos);
  CHECK(joined(broken).find("code.md: names optim/" "gone.cpp: no such file") != std::string::npos);
  fs::remove_all(root);
}

#include "experiments/report/plot.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"

namespace elr {

std::string find_gnuplot() {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/gnuplot";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

const char* gnuplot_install_hint() { return "Debian/Ubuntu: apt-get install gnuplot-nox"; }

std::string plot_command(const std::vector<PlotParts>& parts) {
  std::string setup, clauses;
  for (const PlotParts& p : parts) {
    if (p.empty()) continue;
    setup += p.setup;
    clauses += (clauses.empty() ? "" : ", ") + p.clauses;
  }
  return setup + "plot " + clauses;
}

std::string gnuplot_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

namespace {

// Settings shared by every plot; text is not "enhanced" so labels appear in the SVG as written.
std::string plot_preamble(const PlotSpec& p) {
  return fmt::format(
      "reset\n"
      "set encoding utf8\n"
      "set title {}\n"
      "set xlabel {}\n"
      "set ylabel {}\n"
      "set grid lc rgb '#dddddd'\n"
      "set border lc rgb '#444444'\n"
      "set key box opaque\n",
      gnuplot_quote(p.title), gnuplot_quote(p.xlabel), gnuplot_quote(p.ylabel));
}

std::string tail_of_file(const std::string& path, size_t max_chars) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_chars) text = text.substr(text.size() - max_chars);
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

// Colour-scale images (`with image`) are embedded as a few pixels stretched over the plot: keep
// their cells sharp instead of letting the viewer blur them.
void keep_image_pixels_sharp(const std::string& svg_path) {
  std::ifstream in(svg_path);
  std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string plain = "<image ", sharp = "<image style='image-rendering:pixelated' ";
  if (svg.find(plain) == std::string::npos) return;
  for (size_t at = svg.find(plain); at != std::string::npos; at = svg.find(plain, at + sharp.size()))
    svg.replace(at, plain.size(), sharp);
  write_file_atomic(svg_path, svg);
}

}  // namespace

void render_plots(const std::string& gnuplot, const std::string& dir, const std::vector<PlotSpec>& plots, bool png) {
  std::string script = "# Renders the report's plots: gnuplot plots.gp (run in this folder).\n";
  for (const PlotSpec& p : plots) {
    script += fmt::format("\n# ---- {} ----\n", p.name);
    // SVG and PNG from the same commands (no replot: its state differs between terminals).
    script += fmt::format("set terminal svg size 760,470 noenhanced font 'sans,12' background rgb 'white'\n"
                          "set output '{}.svg'\n",
                          p.name);
    script += plot_preamble(p) + p.body + "\nunset output\n";
    if (!png) continue;
    script += fmt::format("set terminal pngcairo size 950,590 noenhanced font 'sans,11' background rgb 'white'\n"
                          "set output '{}.png'\n",
                          p.name);
    script += plot_preamble(p) + p.body + "\nunset output\n";
  }
  write_file_atomic(dir + "/plots.gp", script);

  const std::string log = dir + "/gnuplot.log";
  const pid_t pid = ::fork();
  if (pid < 0) throw UserError("cannot start gnuplot: fork failed");
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    const int fd = ::open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    ::execl(gnuplot.c_str(), gnuplot.c_str(), "plots.gp", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw UserError(
        fmt::format("gnuplot ({}) failed on {}/plots.gp; see {}: {}", gnuplot, dir, log, tail_of_file(log, 300)));
  for (const PlotSpec& p : plots) keep_image_pixels_sharp(dir + "/" + p.name + ".svg");
}

}  // namespace elr

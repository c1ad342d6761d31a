// `elrscope explode`: options, the table on stdout, the CSV files in --out.
#include <cstdio>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "engine/error.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/train_command.h"
#include "experiments/studies/explode.h"

namespace elr {

namespace {

// "10 20 50" or "10,20,50".
template <class T>
std::vector<T> parse_list(const std::string& option, const std::string& text) {
  std::string s = text;
  for (char& ch : s)
    if (ch == ',') ch = ' ';
  std::istringstream in(s);
  std::vector<T> out;
  std::string word;
  while (in >> word) {
    std::istringstream w(word);
    T v{};
    char rest = 0;
    if (!(w >> v) || (w >> rest) || (word[0] == '-'))
      throw UserError(fmt::format("{}: '{}' is not a non-negative integer (in '{}')", option, word, text));
    out.push_back(v);
  }
  if (out.empty()) throw UserError(fmt::format("{}: the list is empty", option));
  return out;
}

struct ExplodeOptions {
  ExplodeConfig config;
  std::string depths = "10 20 50";
  std::string seeds = "0 1";
};

int run_explode_command(ExplodeOptions& o) {
  o.config.depths = parse_list<int>("--depths", o.depths);
  o.config.seeds = parse_list<uint64_t>("--seeds", o.seeds);
  const ExplodeResult r = run_explode(o.config);
  std::fputs(format_explode_table(o.config, r).c_str(), stdout);
  if (!o.config.out.empty()) {
    write_explode_csv(o.config.out, r);
    std::printf("wrote %s/explode_layers.csv and %s/explode_summary.csv\n", o.config.out.c_str(), o.config.out.c_str());
  }
  return 0;
}

}  // namespace

Command register_explode_command(CLI::App& parent) {
  auto o = std::make_shared<ExplodeOptions>();
  ExplodeConfig& c = o->config;
  CLI::App* app = parent.add_subcommand(
      "explode", "gradient explosion at initialization: per-layer e = |g|/|W|, its growth rate with depth, and "
                 "the gradient-norm amplification of each BN and conv backward");
  // The options it shares with `elrscope train` are declared there.
  add_train_option(*app, train_option("--model"), c.model);
  app->add_option("--depths", o->depths, "depths to compare, e.g. \"10 20 50\" (resnet: 6n+2)")->capture_default_str();
  add_train_option(*app, train_option("--width"), c.width);
  add_train_option(*app, train_option("--dataset"), c.dataset);
  add_train_option(*app, train_option("--data-dir"), c.data_dir);
  add_train_option(*app, train_option("--synthetic-size"), c.synthetic_size);
  add_train_option(*app, train_option("--image-size"), c.image_folder.image_size);
  add_train_option(*app, train_option("--data-threads"), c.image_folder.threads);
  add_train_option(*app, train_option("--skip-corrupt"), c.image_folder.skip_corrupt);
  add_train_option(*app, train_option("--batch"), c.batch);
  app->add_option("--batches", c.batches, "batches per seed")->capture_default_str();
  app->add_option("--seeds", o->seeds, "initialization seeds, e.g. \"0 1\"")->capture_default_str();
  app->add_option("--out", c.out, "folder for explode_layers.csv and explode_summary.csv");
  add_train_option(*app, train_option("--threads"), c.threads);
  add_train_option(*app, train_option("--quiet"), c.progress);
  app->footer(
      "No update is applied. Averages are geometric (mean of ln over batches and seeds). The growth rate is\n"
      "-slope of log10 e against the scale-invariant layer index (0 = input side), fitted by least squares;\n"
      "factor = 10^growth. docs/explode-and-ode.md describes the columns.");
  return {app, [o] { return run_explode_command(*o); }};
}

}  // namespace elr

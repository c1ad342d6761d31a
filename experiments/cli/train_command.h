// Registration of `elrscope train` (and the options other commands share with it).
#pragma once
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>

#include "experiments/run/train.h"

namespace elr {

// A check of the number given on the command line (before it is converted): UserError naming the
// option when it is negative, or with `positive` when it is 0 too. Needed where the setting cannot
// tell: 0 is "not given" (--steps, --width), or "-1" would wrap around in an unsigned field (--seed).
CLI::Validator given_value_check(const std::string& flag, bool positive);

// Adds one train option to `app`, bound to `value`: a flag for a bool, the words of a named
// setting (parsed when the command line is), else a value of the field's type.
template <class T>
CLI::Option* add_train_option(CLI::App& app, const TrainOption& o, T& value) {
  CLI::Option* opt = nullptr;
  if constexpr (std::is_same_v<T, bool>) {
    opt = app.add_flag(o.flag, value, o.help);
  } else if constexpr (is_named_setting<T>) {
    opt = app.add_option_function<std::string>(
        o.flag, [&value](const std::string& text) { parse_setting(text, value); }, o.help);
    if (o.show_default) opt->default_str(setting_text(value));
  } else {
    opt = app.add_option(o.flag, value, o.help);
    if (o.show_default) opt->capture_default_str();
    if (o.zero_is_unset) opt->check(given_value_check(o.name(), true));
    if constexpr (std::is_unsigned_v<T>) opt->check(given_value_check(o.name(), false));
  }
  if (o.hidden) opt->group("");  // CLI11: an option without a group is left out of --help
  return opt;
}

// Adds the training options to `app`, bound to `cfg`: all of them, or those named in `flags`
// ("--batch", "--no-eval"), in that order.
void add_train_options(CLI::App& app, TrainConfig& cfg);
void add_train_options(CLI::App& app, TrainConfig& cfg, const std::vector<std::string>& flags);
// Prints the one-paragraph summary of a finished run to stdout.
void print_train_result(const TrainConfig& cfg, const TrainResult& r);
// The default experiment (also what `elrscope` runs with no command).
int run_train_command(const TrainConfig& cfg);

}  // namespace elr

// `elrscope explode`: gradient explosion at initialization. For each depth, per scale-invariant
// layer |g| and e = |g| / |W| (geometric means over batches and seeds, no update), the fitted
// per-layer growth rate of e, and the kernel-level view: how much each BN backward and each conv
// backward-data amplifies the gradient norm (docs/explode-and-ode.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/data/dataset.h"

namespace elr {

struct ExplodeConfig {
  std::string model = "plain";           // plain | resnet | resnet-noshort | vgg | resnet-imagenet[-noshort]
  std::vector<int> depths = {10, 20, 50};
  int width = 0;                         // 0: the model's default width
  std::string dataset = "fashion-mnist";  // fashion-mnist | cifar10 | cifar100 | synthetic | imagefolder
  std::string data_dir;
  int64_t synthetic_size = 2048;
  ImageFolderOptions image_folder;        // imagefolder: crop size (the evaluation transform), decoding threads
  int64_t batch = 128;
  int64_t batches = 4;                   // batches per seed
  std::vector<uint64_t> seeds = {0, 1};
  std::string out;                       // folder for the CSV files; empty: none written
  int threads = 0;                       // 0: all cores
  bool progress = true;
};

// One scale-invariant layer of one depth. Averages are geometric (the mean of ln over every
// batch of every seed, exponentiated).
struct ExplodeLayer {
  int depth = 0;
  int index = 0;              // among the scale-invariant layers, 0 = nearest the input
  int param_index = 0;        // position in the model's parameter list
  std::string name;
  int64_t numel = 0;
  double w2 = 0;              // |W|^2, arithmetic mean over seeds
  double g_norm = 0;          // |g|, geometric mean
  double e = 0;               // |g| / |W|, geometric mean
  double log10_e_std = 0;     // standard deviation of log10 e over batches and seeds
  double bn_amp = 0;          // |dL/dx| / |dL/dy| of the BN after this layer's conv; 0: not measured
  double conv_amp = 0;        // |dL/dx| / |dL/dy| of this conv's backward-data; 0: not measured
};

struct ExplodeDepth {
  int depth = 0;
  int layers = 0;              // scale-invariant layers
  double growth_log10 = 0;     // -slope of log10 e against the layer index: > 0 when e grows toward the input
  double growth_factor = 1;    // 10^growth_log10: e's ratio between neighbouring layers
  double fit_r2 = 0;           // R^2 of the line fit
  double e_first_last = 0;     // e of the first scale-invariant layer / e of the last
  double bn_amp = 0;           // geometric mean over every BN backward (all layers, batches, seeds)
  double conv_amp = 0;         // geometric mean over every conv backward-data
  int64_t bn_nodes = 0, conv_nodes = 0;  // backward nodes averaged
  double seconds = 0;
};

struct ExplodeResult {
  std::vector<ExplodeLayer> layers;  // every depth's layers, depth after depth
  std::vector<ExplodeDepth> depths;
};

// Throws UserError naming the option for invalid settings.
void validate_explode_config(const ExplodeConfig& c);
// The training images explode draws its batches from (synthetic: 1x16x16, 10 classes).
Dataset load_explode_dataset(const ExplodeConfig& c);
ExplodeResult run_explode(const ExplodeConfig& c);

// Least-squares line y = intercept + slope x.
struct LineFit {
  double slope = 0, intercept = 0, r2 = 0;
};
LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

std::string format_explode_table(const ExplodeConfig& c, const ExplodeResult& r);
// Writes DIR/explode_layers.csv and DIR/explode_summary.csv atomically.
void write_explode_csv(const std::string& dir, const ExplodeResult& r);

}  // namespace elr

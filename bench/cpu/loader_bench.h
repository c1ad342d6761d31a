// The data loader's throughput: one pass decodes and transforms a whole folder of images as the
// training loader does, timed with 1, 2, ... decoding threads. Images per second per core is the
// number to compare with the training step's images per second. The loader under test comes from
// the caller (the lab's image-folder loader: experiments/data/loader_bench_folder.h), so this
// harness knows nothing of data sets.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace elr::bench {

// The loader under test at one thread count: what it reads, and one pass over all of it.
struct LoaderPass {
  std::string description;  // "64 JPEGs of 500x375 (quality 90) -> 224x224 random resized crops"
  int images = 0;
  std::function<void(int pass)> run;
};

// Makes the loader under test with `threads` decoding threads.
using LoaderMaker = std::function<LoaderPass(int threads)>;

struct LoaderRow {
  std::string description;
  int threads = 0;
  int images = 0;
  std::vector<double> pass_s;  // every timed pass over the folder
  double median_s = 0;
  double images_per_s() const { return median_s > 0 ? images / median_s : 0; }
  double images_per_s_per_core() const { return threads > 0 ? images_per_s() / threads : 0; }
};

// One row per thread count: `repeats` timed passes after one untimed pass, the median reported.
std::vector<LoaderRow> bench_loader(const std::vector<int>& threads, int repeats, const LoaderMaker& make);

}  // namespace elr::bench

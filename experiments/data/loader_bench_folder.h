// The image-folder loader as `elrscope bench` measures it: a generated folder of ImageNet-sized
// JPEGs and the training loader over it (decoding, random resized crop, flip, normalization), one
// batch of the whole folder per pass (bench/cpu/loader_bench.h times the passes).
#pragma once
#include <string>

#include "bench/cpu/loader_bench.h"

namespace elr {

struct LoaderBenchFolderSpec {
  int images = 64;                // generated JPEGs (4 classes)
  int height = 375, width = 500;  // ImageNet's most common size
  int image_size = 224;           // the crops
  std::string folder;             // where the images are generated (default: a fresh temp folder, removed after)
};

class LoaderBenchFolder {
 public:
  explicit LoaderBenchFolder(const LoaderBenchFolderSpec& spec);  // writes the folder
  ~LoaderBenchFolder();                                           // removes it if it made it
  LoaderBenchFolder(const LoaderBenchFolder&) = delete;
  LoaderBenchFolder& operator=(const LoaderBenchFolder&) = delete;

  // The training loader over the folder with `threads` decoding threads.
  bench::LoaderPass loader(int threads) const;
  const std::string& path() const { return path_; }

 private:
  LoaderBenchFolderSpec spec_;
  std::string path_;
  bool owned_ = false;
  int quality_ = 0;
};

}  // namespace elr

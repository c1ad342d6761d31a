#include "bench/cpu/loader_bench.h"

#include <chrono>

#include "bench/cpu/step_bench.h"
#include "engine/error.h"

namespace elr::bench {

std::vector<LoaderRow> bench_loader(const std::vector<int>& threads, int repeats, const LoaderMaker& make) {
  ELR_CHECK(repeats >= 1, "bench_loader: {} repeats", repeats);
  std::vector<LoaderRow> rows;
  for (int t : threads) {
    const LoaderPass loader = make(t);
    LoaderRow row;
    row.description = loader.description;
    row.threads = t;
    row.images = loader.images;
    for (int pass = 0; pass <= repeats; ++pass) {
      const auto start = std::chrono::steady_clock::now();
      loader.run(pass);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (pass > 0) row.pass_s.push_back(s);  // pass 0 warms the page cache and the allocator
    }
    row.median_s = median_of(row.pass_s);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace elr::bench

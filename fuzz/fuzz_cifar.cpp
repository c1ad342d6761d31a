// libFuzzer target: the CIFAR-10/100 binary reader.
// Accepted inputs and elr::Error rejections are fine; anything else (a crash, a sanitizer report,
// another exception type) is a finding. The input layout is described at cifar_entry in
// fuzz/fuzz_entries.h; tests/test_fuzz_corpus.cpp replays the corpus through the same entry.
#include "fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    elr::fuzz::cifar_entry(data, size);
  } catch (const elr::Error&) {
    // a rejection with a message: the expected outcome for bad input
  }
  return 0;
}

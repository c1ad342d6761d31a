// libFuzzer target: the safetensors parser, its writer (round trip) and the checkpoint loader.
// Accepted inputs and elr::Error rejections are fine; anything else (a crash, a sanitizer report,
// another exception type) is a finding. The input layout is described at safetensors_entry in
// fuzz/fuzz_entries.h; tests/test_fuzz_corpus.cpp replays the corpus through the same entry.
#include "fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    elr::fuzz::safetensors_entry(data, size);
  } catch (const elr::Error&) {
    // a rejection with a message: the expected outcome for bad input
  }
  return 0;
}

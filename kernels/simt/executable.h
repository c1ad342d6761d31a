// What the CPU execution layer reads from its own executable (the ELF file and its debug info):
// a kernel's symbol, the __shared__ variables declared in its body, its __launch_bounds__, where
// this OS thread keeps its thread-locals (so its copy of every __shared__ variable), and the source
// line of a code address. Kernels must be linked into the executable (static libraries), as every
// target here is.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace elr::simt {

// This OS thread's block of the executable's thread-local storage. A __shared__ variable is a
// function-local thread_local (device_api.h), so a block's static shared memory is in there.
struct TlsBlock {
  unsigned char* base = nullptr;
  size_t size = 0;
};
TlsBlock thread_local_block();

struct SharedVariable {
  std::string name;  // demangled, e.g. "elr::simt_tests::(anonymous namespace)::kernel(int)::tile"
  size_t offset = 0, size = 0;  // within the thread-local block
};
// The function-local thread_local holding byte `offset` of the block, or nullptr. Kernel code has
// no thread_locals but its __shared__ variables and the thread indices (which are not function-local).
const SharedVariable* shared_variable_at(size_t offset);

struct KernelInfo {
  std::string symbol;                   // demangled; empty when the symbol table lacks it
  std::vector<SharedVariable> shared;   // the __shared__ variables declared in the kernel's own body
  size_t static_shared_bytes = 0;       // their total (a device function's own ones are not counted)
  int max_threads = 0;                  // its __launch_bounds__, 0 when it has none
};
const KernelInfo& kernel_info(const void* kernel);

// "file:line" of a code address (addr2line over the executable's debug info), else "function+0xOFFSET".
std::string source_location(const void* pc);

}  // namespace elr::simt

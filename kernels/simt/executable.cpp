#include "kernels/simt/executable.h"

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <fmt/format.h>

namespace elr::simt {
namespace {

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

uintptr_t load_bias() {
  static const uintptr_t bias = [] {
    uintptr_t b = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
          *static_cast<uintptr_t*>(out) = info->dlpi_addr;
          return 1;  // the first entry is the executable
        },
        &b);
    return b;
  }();
  return bias;
}

// The executable's symbol table, read once.
struct Symbols {
  std::vector<SharedVariable> shared;                  // function-local thread_locals, by offset
  std::vector<std::string> shared_mangled;             // same order
  struct Function {
    uint64_t address, size;  // link-time
    std::string name;        // mangled
  };
  std::vector<Function> functions;  // by address

  const Function* function_at(uint64_t address) const {
    auto it = std::upper_bound(functions.begin(), functions.end(), address,
                               [](uint64_t a, const Function& f) { return a < f.address; });
    if (it == functions.begin()) return nullptr;
    --it;
    return address < it->address + std::max<uint64_t>(it->size, 1) ? &*it : nullptr;
  }

  Symbols() {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    void* map = fstat(fd, &st) == 0 ? mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED) return;
    read(static_cast<const unsigned char*>(map), size_t(st.st_size));
    munmap(map, size_t(st.st_size));
  }

  void read(const unsigned char* file, size_t size) {
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(file);
    if (size < sizeof(Elf64_Ehdr) || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64)
      return;
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(file + eh->e_shoff);
    int symtab_index = -1;
    for (int i = 0; i < eh->e_shnum; ++i)
      if (sh[i].sh_type == SHT_SYMTAB) symtab_index = i;
    if (symtab_index < 0) return;
    const Elf64_Shdr& symtab = sh[symtab_index];
    const char* names = reinterpret_cast<const char*>(file + sh[symtab.sh_link].sh_offset);
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(file + symtab.sh_offset);
    const size_t count = symtab.sh_size / sizeof(Elf64_Sym);
    std::vector<std::pair<SharedVariable, std::string>> vars;
    for (size_t i = 0; i < count; ++i) {
      const Elf64_Sym& s = syms[i];
      const char* name = names + s.st_name;
      const int type = ELF64_ST_TYPE(s.st_info);
      if (type == STT_FUNC && s.st_value != 0)
        functions.push_back({s.st_value, s.st_size, name});
      else if (type == STT_TLS && s.st_size > 0 && std::strncmp(name, "_ZZ", 3) == 0)  // value: offset in the block
        vars.push_back({SharedVariable{demangle(name), size_t(s.st_value), size_t(s.st_size)}, name});
    }
    std::sort(functions.begin(), functions.end(),
              [](const Function& a, const Function& b) { return a.address < b.address; });
    std::sort(vars.begin(), vars.end(), [](const auto& a, const auto& b) { return a.first.offset < b.first.offset; });
    for (auto& [var, mangled] : vars) {
      shared.push_back(std::move(var));
      shared_mangled.push_back(std::move(mangled));
    }
  }
};

Symbols& symbols() {
  static Symbols s;
  return s;
}

// __launch_bounds__(N) is compiled as N one-byte NOPs at the kernel's entry (device_api.h).
int count_entry_nops(const void* kernel) {
  const unsigned char* code = static_cast<const unsigned char*>(kernel);
  static const unsigned char kEndbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
  if (std::memcmp(code, kEndbr64, sizeof(kEndbr64)) == 0) code += sizeof(kEndbr64);
  int n = 0;
  while (code[n] == 0x90) ++n;
  return n;
}

}  // namespace

TlsBlock thread_local_block() {
  thread_local const TlsBlock block = [] {
    TlsBlock b;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
          for (int i = 0; i < info->dlpi_phnum; ++i)
            if (info->dlpi_phdr[i].p_type == PT_TLS) {
              auto* b = static_cast<TlsBlock*>(out);
              b->base = static_cast<unsigned char*>(info->dlpi_tls_data);
              b->size = b->base ? size_t(info->dlpi_phdr[i].p_memsz) : 0;
            }
          return 1;  // the first entry is the executable
        },
        &b);
    return b;
  }();
  return block;
}

const SharedVariable* shared_variable_at(size_t offset) {
  const auto& vars = symbols().shared;
  auto it = std::upper_bound(vars.begin(), vars.end(), offset,
                             [](size_t o, const SharedVariable& v) { return o < v.offset; });
  if (it == vars.begin()) return nullptr;
  --it;
  return offset < it->offset + it->size ? &*it : nullptr;
}

const KernelInfo& kernel_info(const void* kernel) {
  static std::mutex mutex;
  static std::map<const void*, KernelInfo> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, fresh] = cache.try_emplace(kernel);
  if (!fresh) return it->second;
  KernelInfo& info = it->second;
  info.max_threads = count_entry_nops(kernel);
  const Symbols& s = symbols();
  const uint64_t address = uint64_t(uintptr_t(kernel) - load_bias());
  const Symbols::Function* fn = s.function_at(address);
  if (!fn || fn->address != address) return info;
  info.symbol = demangle(fn->name.c_str());
  // A function-local static is mangled "_ZZ" <the function's encoding> "E" <its name>.
  if (fn->name.rfind("_Z", 0) != 0) return info;
  const std::string prefix = "_ZZ" + fn->name.substr(2) + "E";
  for (size_t i = 0; i < s.shared.size(); ++i)
    if (s.shared_mangled[i].rfind(prefix, 0) == 0) {
      info.shared.push_back(s.shared[i]);
      info.static_shared_bytes += s.shared[i].size;
    }
  return info;
}

std::string source_location(const void* pc) {
  static std::mutex mutex;
  static std::map<const void*, std::string> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, fresh] = cache.try_emplace(pc);
  if (!fresh) return it->second;
  std::string& out = it->second;
  const uint64_t address = uintptr_t(pc) - load_bias();
  // Without debug info: the function and the offset into it.
  const Symbols::Function* fn = symbols().function_at(address);
  out = fn ? fmt::format("{}+0x{:x}", demangle(fn->name.c_str()), address - fn->address) : fmt::format("{}", pc);
  const std::string command = fmt::format("addr2line -e /proc/{}/exe -i 0x{:x} 2>/dev/null", getpid(), address);
  std::FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char line[1024];
  if (std::fgets(line, sizeof(line), p) && line[0] != '?') {  // the innermost inlined frame first
    std::string where(line);
    where = where.substr(0, where.find_first_of(" \n"));  // drops " (discriminator N)"
    if (where.find("??") == std::string::npos) out = where;
  }
  pclose(p);
  return out;
}

}  // namespace elr::simt

#include "kernels/simt/pinned_memory.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "kernels/simt/executable.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace elr::simt {
namespace {

constexpr uintptr_t kPage = 4096;
uintptr_t page_of(uintptr_t a) { return a & ~(kPage - 1); }

// Guards live in a fixed table the signal handler reads without locking; the runtime changes it
// under the streams' mutex, and a trapping host access never happens inside a runtime call.
struct Guard {
  bool active = false;
  uintptr_t begin = 0, end = 0;
  HostUse use = HostUse::DeviceReads;
  OpId op;
  char what[240] = {};
  const void* caller = nullptr;
};
constexpr int kMaxGuards = 512;
Guard g_guards[kMaxGuards];

// Pages left unprotected because an allowed access shared them with a guarded range.
constexpr int kMaxLoose = 64;
uintptr_t g_loose_pages[kMaxLoose];
std::atomic<int> g_loose_count{0};

// The first forbidden access, written by the signal handler.
struct HostRace {
  std::atomic<bool> pending{false};
  uintptr_t address = 0, block = 0, block_bytes = 0;
  bool write = false;
  HostUse use = HostUse::DeviceReads;
  const void* pc = nullptr;
  char what[240] = {};
  const void* caller = nullptr;
};
HostRace g_race;

std::mutex g_blocks_mutex;
std::map<uintptr_t, size_t> g_blocks;  // pinned allocations: start -> bytes (page-rounded mapping)

bool loose(uintptr_t page) {
  for (int i = 0, n = g_loose_count.load(); i < n; ++i)
    if (g_loose_pages[i] == page) return true;
  return false;
}

// Protection for one page: none if a pending copy writes into it, read-only if one reads from it.
void protect_page(uintptr_t page) {
  int prot = PROT_READ | PROT_WRITE;
  if (!loose(page))
    for (const Guard& g : g_guards) {
      if (!g.active || g.end <= page || g.begin >= page + kPage) continue;
      if (g.use == HostUse::DeviceWrites) {
        prot = PROT_NONE;
        break;
      }
      prot = PROT_READ;
    }
  mprotect(reinterpret_cast<void*>(page), kPage, prot);
}

void protect_range(uintptr_t begin, uintptr_t end) {
  for (uintptr_t p = page_of(begin); p < end; p += kPage) protect_page(p);
}

bool guarded_page(uintptr_t page) {
  for (const Guard& g : g_guards)
    if (g.active && g.begin < page + kPage && g.end > page) return true;
  return false;
}

void uninstall_handler();

void on_segv(int, siginfo_t* info, void* context) {
  const uintptr_t addr = uintptr_t(info->si_addr), page = page_of(addr);
  if (!guarded_page(page)) {
    // Not ours: give the signal back to whoever handled it before (a test framework, ASan, the
    // default action); the access faults again and goes straight there.
    uninstall_handler();
    return;
  }
  const auto* uc = static_cast<const ucontext_t*>(context);
  const bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  for (Guard& g : g_guards) {
    if (!g.active || addr < g.begin || addr >= g.end || (g.use == HostUse::DeviceReads && !write)) continue;
    if (!g_race.pending.load()) {
      g_race.address = addr;
      g_race.write = write;
      g_race.use = g.use;
      g_race.pc = reinterpret_cast<const void*>(uc->uc_mcontext.gregs[REG_RIP]);
      std::memcpy(g_race.what, g.what, sizeof(g.what));
      g_race.caller = g.caller;
      for (const auto& [start, bytes] : g_blocks)  // no allocation here: std::map lookups only
        if (addr >= start && addr < start + bytes) g_race.block = start, g_race.block_bytes = bytes;
      g_race.pending = true;
    }
    g.active = false;  // reported once; the access goes ahead
    protect_range(g.begin, g.end);
    protect_page(page);
    return;
  }
  // An access the guards allow, on a page they share with a forbidden range: stop guarding the page.
  const int n = g_loose_count.load();
  if (n < kMaxLoose) {
    g_loose_pages[n] = page;
    g_loose_count = n + 1;
  }
  mprotect(reinterpret_cast<void*>(page), kPage, PROT_READ | PROT_WRITE);
}

// The handler is installed while some guard is active (test frameworks install their own per test
// case; a window of guards sits inside one), and the previous one restored after.
bool g_installed = false;
struct sigaction g_previous_segv;

void install_handler() {
  if (g_installed) return;
  struct sigaction sa {};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_previous_segv);
  g_installed = true;
  // A race nobody asked about (no runtime call followed it) still fails the process.
  static std::once_flag once;
  std::call_once(once, [] {
    std::atexit([] {
      const std::string race = take_host_race();
      if (race.empty()) return;
      std::fprintf(stderr, "%s\n", race.c_str());
      std::_Exit(1);
    });
  });
}

void uninstall_handler() {
  if (!g_installed) return;
  g_installed = false;
  sigaction(SIGSEGV, &g_previous_segv, nullptr);
}

bool any_guard() {
  for (const Guard& g : g_guards)
    if (g.active) return true;
  return false;
}

}  // namespace

void* pinned_allocate(size_t bytes) {
  const size_t mapped = (bytes + kPage - 1) / kPage * kPage;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
#if defined(__SANITIZE_ADDRESS__)
  __asan_poison_memory_region(static_cast<char*>(p) + bytes, mapped - bytes);  // past the end
#endif
  std::lock_guard<std::mutex> lock(g_blocks_mutex);
  g_blocks[uintptr_t(p)] = bytes;
  return p;
}

bool pinned_free(void* ptr) {
  size_t bytes;
  {
    std::lock_guard<std::mutex> lock(g_blocks_mutex);
    auto it = g_blocks.find(uintptr_t(ptr));
    if (it == g_blocks.end()) return false;
    bytes = it->second;
    g_blocks.erase(it);
  }
  const uintptr_t begin = uintptr_t(ptr), end = begin + bytes;
  for (Guard& g : g_guards)
    if (g.active && g.begin < end && g.end > begin) g.active = false;
  if (!any_guard()) uninstall_handler();
  const size_t mapped = (bytes + kPage - 1) / kPage * kPage;
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(ptr, mapped);
#endif
  munmap(ptr, mapped);
  return true;
}

bool is_pinned(const void* ptr, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_blocks_mutex);
  const uintptr_t p = uintptr_t(ptr);
  auto it = g_blocks.upper_bound(p);
  if (it == g_blocks.begin()) return false;
  --it;
  return p + bytes <= it->first + it->second;
}

void guard_pinned(const void* ptr, size_t bytes, HostUse use, OpId op, const std::string& what, const void* caller) {
  if (bytes == 0) return;
  install_handler();
  for (Guard& g : g_guards) {
    if (g.active) continue;
    g.begin = uintptr_t(ptr);
    g.end = g.begin + bytes;
    g.use = use;
    g.op = op;
    std::snprintf(g.what, sizeof(g.what), "%s", what.c_str());
    g.caller = caller;
    g.active = true;
    protect_range(g.begin, g.end);
    return;
  }
  // The table is full: this copy goes unguarded (the check misses it, nothing else changes).
}

void release_guards(const Clock& host_observed) {
  for (Guard& g : g_guards) {
    if (!g.active || !host_observed.covers(g.op)) continue;
    g.active = false;
    protect_range(g.begin, g.end);
  }
  if (!any_guard()) uninstall_handler();
  // Loose pages rejoin the checks once no guard is left on them.
  int n = g_loose_count.load();
  for (int i = 0; i < n;) {
    if (guarded_page(g_loose_pages[i])) {
      ++i;
      continue;
    }
    g_loose_pages[i] = g_loose_pages[--n];
  }
  g_loose_count = n;
}

PinnedAccess::PinnedAccess(const void* ptr, size_t bytes) : ptr_(ptr), bytes_(bytes) {
  const uintptr_t begin = page_of(uintptr_t(ptr)), end = uintptr_t(ptr) + bytes;
  if (bytes) mprotect(reinterpret_cast<void*>(begin), (end - begin + kPage - 1) / kPage * kPage, PROT_READ | PROT_WRITE);
}

PinnedAccess::~PinnedAccess() {
  if (bytes_) protect_range(uintptr_t(ptr_), uintptr_t(ptr_) + bytes_);
}

std::string take_host_race() {
  if (!g_race.pending.load()) return "";
  g_race.pending = false;
  return fmt::format(
      "simt: host race: the host {} pinned memory at {} ({} bytes into a {}-byte cudaMallocHost buffer, at {}) "
      "while {} may still {} it; synchronize with the copy (cudaStreamSynchronize, cudaEventSynchronize) first",
      g_race.write ? "wrote" : "read", reinterpret_cast<void*>(g_race.address), g_race.address - g_race.block,
      g_race.block_bytes, source_location(g_race.pc), describe(g_race.what, g_race.caller),
      g_race.use == HostUse::DeviceWrites ? "write" : "read");
}

}  // namespace elr::simt

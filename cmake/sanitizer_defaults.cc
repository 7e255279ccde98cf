// Linked into emcomm and emcomm_tests only when EMCOMM_SANITIZE=ON (docs/reliability.md):
// the sanitizers' defaults, so `ctest` and every `emcomm` a test spawns need no environment.
// ASAN_OPTIONS / LSAN_OPTIONS / UBSAN_OPTIONS given at run time still override them.
extern "C" {

// Our code is instrumented; LibTorch, c10, OpenBLAS, HDF5 and OpenMP are not, and keep
// allocations for the life of the process (thread pools, allocator caches, type registries)
// that LeakSanitizer would report at exit. Leaks whose allocation stack passes through
// those libraries are suppressed; leaks from our own allocations are still reported.
const char* __lsan_default_suppressions() {
  return "leak:libtorch\n"
         "leak:libc10\n"
         "leak:libopenblas\n"
         "leak:libgomp\n"
         "leak:libhdf5\n";
}

const char* __asan_default_options() { return "abort_on_error=0:detect_stack_use_after_return=0"; }

const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }

}  // extern "C"

# The GPU suites of `elrscope bench` (--suite gpu-kernels, gpu-step; docs/benchmarks.md). Included at
# the end of the top-level CMakeLists.txt, after the kernels, the vendor glue and the CUDA backend.
# - With CUDA and cuDNN: elr_gpu_bench (kernel rows against cuDNN/cuBLAS, the step rows) linked into
#   elrscope, which then registers the runner (register_runner.cpp); without them elrscope says
#   that it has no GPU suite.
# - Against the CPU execution layer: the kernel-row harness without the vendor peers, and its CI
#   test (tests/bench_gpu/) at tiny shapes, including deliberately broken kernels.
set(ELR_GPU_BENCH_DIR ${CMAKE_CURRENT_SOURCE_DIR}/bench/gpu)
set(ELR_GPU_BENCH_HARNESS_SOURCES ${ELR_GPU_BENCH_DIR}/row_harness.cpp ${ELR_GPU_BENCH_DIR}/kernel_rows.cpp
  ${ELR_GPU_BENCH_DIR}/kernel_suite.cpp ${ELR_GPU_BENCH_DIR}/device_info.cpp)

if(TARGET elrscope AND TARGET elr_cuda_kernels AND TARGET elr_vendor_glue AND TARGET elr_cuda_backend)
  add_library(elr_gpu_bench STATIC ${ELR_GPU_BENCH_HARNESS_SOURCES} ${ELR_GPU_BENCH_DIR}/vendor_peers.cpp
    ${ELR_GPU_BENCH_DIR}/step_rows.cpp ${ELR_GPU_BENCH_DIR}/runner.cpp)
  target_compile_options(elr_gpu_bench PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_gpu_bench PUBLIC elr elr_cuda_backend elr_cuda_kernels elr_vendor_glue elr_cuda_runtime
    CUDA::cudart)
  target_sources(elrscope PRIVATE ${ELR_GPU_BENCH_DIR}/register_runner.cpp)
  target_link_libraries(elrscope PRIVATE elr_gpu_bench)
  message(STATUS "elrscope: the GPU suites of `elrscope bench` are built in")
else()
  message(STATUS "elrscope: no GPU suites in `elrscope bench` (they need CUDA and cuDNN)")
endif()

if(TARGET elr_cuda_kernels_simt AND TARGET elr_cuda_runtime_simt AND TARGET elr_catch_main)
  add_library(elr_gpu_bench_simt STATIC ${ELR_GPU_BENCH_HARNESS_SOURCES})
  target_compile_definitions(elr_gpu_bench_simt PUBLIC ELR_GPU_BENCH_SIMT)
  target_compile_options(elr_gpu_bench_simt PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_gpu_bench_simt PUBLIC elr elr_cuda_kernels_simt elr_cuda_runtime_simt elr_simt)

  add_executable(elr_gpu_bench_simt_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/bench_gpu/test_gpu_bench_simt.cpp)
  target_compile_options(elr_gpu_bench_simt_tests PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_gpu_bench_simt_tests PRIVATE elr_gpu_bench_simt elr_catch_main)
  add_test(NAME simt.gpu_bench COMMAND elr_gpu_bench_simt_tests)
  set_tests_properties(simt.gpu_bench PROPERTIES ENVIRONMENT "ELR_SIMT_SCHEDULE=random:7" LABELS simt TIMEOUT 300)

  # The step rows through the CUDA backend built on the same layer.
  if(TARGET elr_cuda_backend_simt)
    add_executable(elr_gpu_step_simt_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/bench_gpu/test_gpu_step_simt.cpp
      ${ELR_GPU_BENCH_DIR}/step_rows.cpp)
    target_compile_options(elr_gpu_step_simt_tests PRIVATE ${ELR_CXX_FLAGS})
    target_link_libraries(elr_gpu_step_simt_tests PRIVATE elr_gpu_bench_simt elr_cuda_backend_simt elr_catch_main)
    add_test(NAME simt.gpu_bench_step COMMAND elr_gpu_step_simt_tests)
    set_tests_properties(simt.gpu_bench_step PROPERTIES ENVIRONMENT "ELR_SIMT_SCHEDULE=forward" LABELS simt TIMEOUT 300)
  endif()
endif()

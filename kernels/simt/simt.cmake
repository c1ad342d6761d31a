# The CPU execution layer for CUDA kernels (docs/kernels-on-cpu.md), the CUDA runtime layer
# (engine/cuda), and their tests. Every kernels/cuda/*.cu and tests/simt/*.cu is built twice:
# by nvcc for sm_80/sm_90 when CUDA is on, and as C++ with kernels/simt/simt.h forced in.
enable_testing()  # the top level enables testing after including this file

find_package(Boost REQUIRED COMPONENTS context)

set(ELR_SIMT_CUDA_INCLUDE "")
if(ELR_HAVE_CUDA AND CUDAToolkit_INCLUDE_DIRS)
  list(GET CUDAToolkit_INCLUDE_DIRS 0 ELR_SIMT_CUDA_INCLUDE)
else()
  find_path(ELR_SIMT_CUDA_INCLUDE_PATH vector_types.h PATHS /usr/local/cuda/include /usr/include)
  if(ELR_SIMT_CUDA_INCLUDE_PATH)
    set(ELR_SIMT_CUDA_INCLUDE ${ELR_SIMT_CUDA_INCLUDE_PATH})
  endif()
endif()
if(NOT ELR_SIMT_CUDA_INCLUDE)
  message(STATUS "elrscope: CUDA toolkit headers not found; the CPU layer for CUDA kernels is off")
  return()
endif()

set(ELR_SIMT_DIR ${CMAKE_CURRENT_SOURCE_DIR}/kernels/simt)

# ---- the layer ----------------------------------------------------------------------------------
add_library(elr_simt STATIC ${ELR_SIMT_DIR}/scheduler.cpp ${ELR_SIMT_DIR}/fiber.cpp
  ${ELR_SIMT_DIR}/runtime_api.cpp)
target_include_directories(elr_simt PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_include_directories(elr_simt SYSTEM PUBLIC ${ELR_SIMT_CUDA_INCLUDE})
target_compile_options(elr_simt PRIVATE ${ELR_CXX_FLAGS})
target_link_libraries(elr_simt PUBLIC Boost::context fmt::fmt Threads::Threads)

# elr_simt_add_kernels(<target> <files.cu>...): a static library of the .cu files built as C++
# through one-line wrappers (a source cannot be both CUDA and CXX in one directory), at -O2 -g.
function(elr_simt_add_kernels target)
  set(wrappers "")
  foreach(cu ${ARGN})
    file(RELATIVE_PATH rel ${CMAKE_CURRENT_SOURCE_DIR} ${cu})
    set(wrapper ${CMAKE_CURRENT_BINARY_DIR}/simt_wrappers/${rel}.cpp)
    # Relative to the source root (an include directory), so the wrapper is the same in any clone.
    file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${rel}\"\n")
    list(APPEND wrappers ${wrapper})
  endforeach()
  add_library(${target} STATIC ${wrappers})
  target_compile_options(${target} PRIVATE ${ELR_CXX_FLAGS} -O2 -g -include ${ELR_SIMT_DIR}/simt.h)
  target_link_libraries(${target} PUBLIC elr_simt)
endfunction()

file(GLOB ELR_CUDA_KERNEL_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/kernels/cuda/*.cu)
file(GLOB ELR_SIMT_TEST_KERNEL_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/*.cu)
if(ELR_CUDA_KERNEL_SOURCES)
  elr_simt_add_kernels(elr_cuda_kernels_simt ${ELR_CUDA_KERNEL_SOURCES})
endif()
elr_simt_add_kernels(elr_simt_test_kernels ${ELR_SIMT_TEST_KERNEL_SOURCES})

# engine/cuda linked against the layer's runtime API, so its logic is tested without a GPU.
file(GLOB ELR_CUDA_RUNTIME_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/engine/cuda/*.cpp)
add_library(elr_cuda_runtime_simt STATIC ${ELR_CUDA_RUNTIME_SOURCES})
target_compile_options(elr_cuda_runtime_simt PRIVATE ${ELR_CXX_FLAGS})
target_link_libraries(elr_cuda_runtime_simt PUBLIC elr_simt)  # needs only engine/error.h

# ---- emulated tests, run under two schedules ----------------------------------------------------
add_executable(elr_simt_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/test_simt.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/test_cuda_runtime.cpp)
target_compile_options(elr_simt_tests PRIVATE ${ELR_CXX_FLAGS})
target_link_libraries(elr_simt_tests PRIVATE elr_simt_test_kernels elr_cuda_runtime_simt elr_simt
  Catch2::Catch2)
# The kernels of kernels/cuda against their CPU references (tests/simt/test_cuda_ops.cpp).
if(TARGET elr_cuda_kernels_simt)
  target_sources(elr_simt_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/test_cuda_ops.cpp)
  target_link_libraries(elr_simt_tests PRIVATE elr_cuda_kernels_simt elr)
endif()
foreach(schedule forward random:1234)
  string(REPLACE ":" "_" name ${schedule})
  add_test(NAME simt.${name} COMMAND elr_simt_tests)
  set_tests_properties(simt.${name} PROPERTIES ENVIRONMENT "ELR_SIMT_SCHEDULE=${schedule}"
    LABELS simt TIMEOUT 300)
endforeach()

add_executable(elr_simt_bench ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/bench_simt.cpp)
target_compile_options(elr_simt_bench PRIVATE ${ELR_CXX_FLAGS})
target_link_libraries(elr_simt_bench PRIVATE elr_simt_test_kernels elr_simt)

# ---- nvcc builds (compiled here, run only where there is a GPU) ---------------------------------
if(ELR_HAVE_CUDA)
  add_library(elr_cuda_runtime STATIC ${ELR_CUDA_RUNTIME_SOURCES})
  target_compile_options(elr_cuda_runtime PRIVATE ${ELR_CXX_FLAGS})
  target_include_directories(elr_cuda_runtime PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(elr_cuda_runtime PUBLIC fmt::fmt CUDA::cudart)

  if(ELR_CUDA_KERNEL_SOURCES)
    add_library(elr_cuda_kernels STATIC ${ELR_CUDA_KERNEL_SOURCES})
    target_include_directories(elr_cuda_kernels PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(elr_cuda_kernels PUBLIC elr_cuda_runtime)
  endif()

  add_library(elr_simt_test_kernels_cuda STATIC ${ELR_SIMT_TEST_KERNEL_SOURCES})
  target_include_directories(elr_simt_test_kernels_cuda PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(elr_simt_test_kernels_cuda PUBLIC elr_cuda_runtime)

  add_executable(elr_gpu_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/gpu_tests.cpp)
  target_compile_options(elr_gpu_tests PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_gpu_tests PRIVATE elr_simt_test_kernels_cuda elr_cuda_runtime)
  add_test(NAME gpu.kernels COMMAND elr_gpu_tests)
  set_tests_properties(gpu.kernels PROPERTIES SKIP_RETURN_CODE 77 LABELS gpu TIMEOUT 300)

  # The same kernel-vs-CPU tests on a real GPU.
  if(TARGET elr_cuda_kernels)
    add_executable(elr_gpu_ops_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/test_cuda_ops.cpp
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/cuda_ops_gpu_main.cpp)
    target_compile_definitions(elr_gpu_ops_tests PRIVATE ELR_CUDA_OPS_ON_GPU)
    target_compile_options(elr_gpu_ops_tests PRIVATE ${ELR_CXX_FLAGS})
    target_link_libraries(elr_gpu_ops_tests PRIVATE elr_cuda_kernels elr Catch2::Catch2)
    add_test(NAME gpu.cuda_ops COMMAND elr_gpu_ops_tests)
    set_tests_properties(gpu.cuda_ops PROPERTIES SKIP_RETURN_CODE 77 LABELS gpu TIMEOUT 300)
  endif()
endif()

include(${CMAKE_CURRENT_SOURCE_DIR}/bench/labs/labs.cmake OPTIONAL)  # kernel labs, built on request

include(${CMAKE_CURRENT_SOURCE_DIR}/kernels/vendor.cmake OPTIONAL)  # conv/GEMM tests, cuDNN/cuBLAS glue, labs

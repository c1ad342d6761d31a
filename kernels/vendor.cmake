# The conv2d / GEMM kernels' extra targets (included at the end of kernels/simt/simt.cmake):
# - their emulated tests (tests/simt/test_cuda_conv.cpp) against the CPU library's direct loops,
#   run under two schedules like the layer's own tests;
# - with CUDA: the cuDNN / cuBLAS glue (elr_vendor_glue) for parity tests and benchmarks on a GPU,
#   and the conv tile labs (bench/labs/conv_*.cu; built with the `elr_labs` target, run on a GPU).
if(TARGET elr_cuda_kernels_simt)
  # The split-K workspace comes from the backend's caching allocator (engine/cuda).
  target_link_libraries(elr_cuda_kernels_simt PUBLIC elr_cuda_runtime_simt)
  add_executable(elr_simt_conv_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/test_cuda_conv.cpp)
  target_compile_options(elr_simt_conv_tests PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_simt_conv_tests PRIVATE elr_cuda_kernels_simt elr_cuda_runtime_simt elr
    Catch2::Catch2)
  foreach(schedule forward random:1234)
    string(REPLACE ":" "_" name ${schedule})
    add_test(NAME simt.conv.${name} COMMAND elr_simt_conv_tests)
    set_tests_properties(simt.conv.${name} PROPERTIES ENVIRONMENT "ELR_SIMT_SCHEDULE=${schedule}"
      LABELS simt TIMEOUT 300)
  endforeach()
endif()

if(ELR_HAVE_CUDA)
  find_path(ELR_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include
    /usr/include)
  find_library(ELR_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib
    /usr/local/cuda/lib /usr/local/cuda/lib64)
  if(ELR_CUDNN_INCLUDE_DIR AND ELR_CUDNN_LIBRARY)
    add_library(elr_vendor_glue STATIC ${CMAKE_CURRENT_SOURCE_DIR}/kernels/cudnn_glue.cpp
      ${CMAKE_CURRENT_SOURCE_DIR}/kernels/cublas_glue.cpp)
    target_compile_options(elr_vendor_glue PRIVATE ${ELR_CXX_FLAGS})
    target_include_directories(elr_vendor_glue PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
    target_include_directories(elr_vendor_glue SYSTEM PUBLIC ${ELR_CUDNN_INCLUDE_DIR})
    target_link_libraries(elr_vendor_glue PUBLIC elr_cuda_runtime CUDA::cublas ${ELR_CUDNN_LIBRARY})

    if(TARGET elr_cuda_kernels)
      # The same tests on a real GPU, plus the glue against the oracles (exits 77 without a GPU).
      add_executable(elr_gpu_conv_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/simt/test_cuda_conv.cpp)
      target_compile_definitions(elr_gpu_conv_tests PRIVATE ELR_CONV_TESTS_ON_GPU)
      target_compile_options(elr_gpu_conv_tests PRIVATE ${ELR_CXX_FLAGS})
      target_link_libraries(elr_gpu_conv_tests PRIVATE elr_cuda_kernels elr_vendor_glue elr Catch2::Catch2)
      add_test(NAME gpu.conv COMMAND elr_gpu_conv_tests)
      set_tests_properties(gpu.conv PROPERTIES SKIP_RETURN_CODE 77 LABELS gpu TIMEOUT 300)

      file(GLOB ELR_CONV_LAB_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/bench/labs/conv_*.cu)
      foreach(lab ${ELR_CONV_LAB_SOURCES})
        get_filename_component(lab_name ${lab} NAME_WE)
        add_executable(elr_lab_${lab_name} EXCLUDE_FROM_ALL ${lab})  # built on request, as the other labs
        target_include_directories(elr_lab_${lab_name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
        target_link_libraries(elr_lab_${lab_name} PRIVATE elr_cuda_kernels elr_vendor_glue elr)
        if(TARGET elr_labs)
          add_dependencies(elr_labs elr_lab_${lab_name})
        endif()
      endforeach()
    endif()
  else()
    message(STATUS "elrscope: cuDNN not found; no cuDNN/cuBLAS glue and no conv labs")
  endif()
endif()

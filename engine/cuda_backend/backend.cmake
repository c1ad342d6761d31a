# The CUDA backend (engine/cuda_backend): the nvcc build is linked into elrscope (--device cuda);
# the build against the CPU execution layer drives the whole CUDA training path in tests.
set(ELR_CUDA_BACKEND_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/engine/cuda_backend/backend.cpp)

if(TARGET elr_cuda_kernels_simt)
  add_library(elr_cuda_backend_simt STATIC ${ELR_CUDA_BACKEND_SOURCES})
  target_compile_options(elr_cuda_backend_simt PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_cuda_backend_simt PUBLIC elr elr_cuda_kernels_simt elr_cuda_runtime_simt elr_simt)

  add_executable(elr_cuda_train_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/cuda/test_cuda_train.cpp)
  target_compile_options(elr_cuda_train_tests PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_cuda_train_tests PRIVATE elr_cuda_backend_simt elr_catch_main)
  foreach(schedule forward random:99)
    string(REPLACE ":" "_" name ${schedule})
    add_test(NAME cuda_train.${name} COMMAND elr_cuda_train_tests)
    set_tests_properties(cuda_train.${name} PROPERTIES ENVIRONMENT "ELR_SIMT_SCHEDULE=${schedule}"
      LABELS simt TIMEOUT 600)
  endforeach()
endif()

if(ELR_HAVE_CUDA AND TARGET elr_cuda_kernels)
  add_library(elr_cuda_backend STATIC ${ELR_CUDA_BACKEND_SOURCES})
  target_compile_options(elr_cuda_backend PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_cuda_backend PUBLIC elr elr_cuda_kernels elr_cuda_runtime)
  target_link_libraries(elrscope PRIVATE elr_cuda_backend)
  target_compile_definitions(elrscope PRIVATE ELR_WITH_CUDA_BACKEND)

  # The same training tests on a real GPU (exits 77 without one).
  add_executable(elr_gpu_train_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests/cuda/test_cuda_train.cpp)
  target_compile_definitions(elr_gpu_train_tests PRIVATE ELR_TRAIN_TESTS_ON_GPU)
  target_compile_options(elr_gpu_train_tests PRIVATE ${ELR_CXX_FLAGS})
  target_link_libraries(elr_gpu_train_tests PRIVATE elr_cuda_backend elr_catch_main)
  add_test(NAME gpu.train COMMAND elr_gpu_train_tests)
  set_tests_properties(gpu.train PROPERTIES SKIP_RETURN_CODE 77 LABELS gpu TIMEOUT 600)
endif()

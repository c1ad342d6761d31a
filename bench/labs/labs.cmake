# Kernel labs for the CUDA kernels of kernels/cuda (bn_relu_lab.cu, layer_stats_lab.cu): numbered
# variants, each validated against the CPU before it is timed. Built only on request (not part of
# `all`, so CI does not pay for them): `cmake --build <dir> --target elr_labs`.
# With CUDA they are nvcc programs for the GPU; elr_labs_simt builds the same sources through the
# CPU execution layer so their validation logic runs anywhere (`elr_lab_bn_relu_simt --small`).
set(ELR_LABS bn_relu layer_stats)

add_custom_target(elr_labs)
if(TARGET elr_cuda_kernels)
  foreach(lab ${ELR_LABS})
    add_executable(elr_lab_${lab} EXCLUDE_FROM_ALL ${CMAKE_CURRENT_SOURCE_DIR}/bench/labs/${lab}_lab.cu)
    target_include_directories(elr_lab_${lab} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(elr_lab_${lab} PRIVATE elr_cuda_kernels elr CUDA::cudart)
    add_dependencies(elr_labs elr_lab_${lab})
  endforeach()
endif()

add_custom_target(elr_labs_simt)
if(TARGET elr_cuda_kernels_simt)
  foreach(lab ${ELR_LABS})
    set(wrapper ${CMAKE_CURRENT_BINARY_DIR}/simt_wrappers/bench/labs/${lab}_lab.cu.cpp)
    file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${CMAKE_CURRENT_SOURCE_DIR}/bench/labs/${lab}_lab.cu\"\n")
    add_executable(elr_lab_${lab}_simt EXCLUDE_FROM_ALL ${wrapper})
    target_compile_options(elr_lab_${lab}_simt PRIVATE ${ELR_CXX_FLAGS} -O2 -g -include ${ELR_SIMT_DIR}/simt.h)
    target_link_libraries(elr_lab_${lab}_simt PRIVATE elr_cuda_kernels_simt elr)
    add_dependencies(elr_labs_simt elr_lab_${lab}_simt)
  endforeach()
endif()

# The Python cross-check of checkpoints (tests/check_checkpoint.sh): a helper that prints a
# safetensors file through elrscope's reader, and a CTest test that is skipped (exit 77) when
# python3, numpy or safetensors is missing. scripts/test.sh makes <build>/pyenv with safetensors.
add_executable(dump_checkpoint ${CMAKE_CURRENT_LIST_DIR}/dump_checkpoint.cpp)
target_link_libraries(dump_checkpoint PRIVATE elr)
add_test(NAME checkpoint_python_crosscheck
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_checkpoint.sh $<TARGET_FILE:elrscope> $<TARGET_FILE:dump_checkpoint>
          ${CMAKE_BINARY_DIR}/pyenv/bin/python3)
set_tests_properties(checkpoint_python_crosscheck PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS "python")

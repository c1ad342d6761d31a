# elr_find_cudnn(): cuDNN's header and library for the vendor glue (kernels/CMakeLists.txt), and
# a sentence saying where they were found or why not. Looked for, in this order, as pairs (the
# header and the library from the same place):
#   1. -DELR_CUDNN_INCLUDE_DIR=... -DELR_CUDNN_LIBRARY=... when both are given (or cached);
#   2. the CUDA toolkit (CUDAToolkit_INCLUDE_DIRS, CUDAToolkit_LIBRARY_DIR, CUDAToolkit_TARGET_DIR/lib*);
#   3. the site-packages of the python3 on PATH: pip's nvidia-cudnn wheels (what PyTorch installs)
#      hold nvidia/cudnn/include/cudnn.h and nvidia/cudnn/lib/libcudnn.so.9, with no unversioned
#      libcudnn.so;
#   4. CMake's default paths (CMAKE_PREFIX_PATH, /usr, ...).
# Sets ELR_CUDNN_FOUND (ON/OFF) in the caller, and in the cache ELR_CUDNN_INCLUDE_DIR,
# ELR_CUDNN_LIBRARY and ELR_CUDNN_WHERE (the sentence; scripts/gpu-check.sh reads it from there).
function(elr_find_cudnn)
  set(names cudnn libcudnn.so.9)
  if(ELR_CUDNN_INCLUDE_DIR AND ELR_CUDNN_LIBRARY AND EXISTS "${ELR_CUDNN_INCLUDE_DIR}/cudnn.h"
     AND EXISTS "${ELR_CUDNN_LIBRARY}")
    set(where "found where given: ${ELR_CUDNN_INCLUDE_DIR}/cudnn.h and ${ELR_CUDNN_LIBRARY}")
    string(FIND "$CACHE{ELR_CUDNN_WHERE}" "${ELR_CUDNN_LIBRARY}" earlier)
    if(earlier GREATER -1)  # found by an earlier configure: keep its sentence
      set(where "$CACHE{ELR_CUDNN_WHERE}")
    endif()
    set(ELR_CUDNN_FOUND ON PARENT_SCOPE)
    set(ELR_CUDNN_WHERE "${where}" CACHE INTERNAL "")
    return()
  endif()

  # (label, include directories, library directories) per place, as parallel lists.
  set(labels "the CUDA toolkit")
  set(include_dirs "${CUDAToolkit_INCLUDE_DIRS}")
  set(library_dirs "${CUDAToolkit_LIBRARY_DIR};${CUDAToolkit_TARGET_DIR}/lib64;${CUDAToolkit_TARGET_DIR}/lib")
  string(REPLACE ";" "|" include_dirs "${include_dirs}")
  string(REPLACE ";" "|" library_dirs "${library_dirs}")

  find_program(python3 NAMES python3 PATHS ENV PATH NO_DEFAULT_PATH NO_CACHE)
  set(python_note "no python3 on PATH")
  if(python3)
    execute_process(
      COMMAND ${python3} -c
        "import site, sysconfig; p = site.getsitepackages() + [site.getusersitepackages(), sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']]; print(';'.join(dict.fromkeys(p)))"
      OUTPUT_VARIABLE sites OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
    if(rc EQUAL 0)
      set(python_note "python3 ${python3}: no nvidia/cudnn in ${sites}")
      foreach(site ${sites})
        if(IS_DIRECTORY "${site}/nvidia/cudnn")
          set(python_note "python3 ${python3}")
          list(APPEND labels "pip's nvidia-cudnn in ${site} (python3 ${python3})")
          list(APPEND include_dirs "${site}/nvidia/cudnn/include")
          list(APPEND library_dirs "${site}/nvidia/cudnn/lib")
        endif()
      endforeach()
    else()
      set(python_note "python3 ${python3} could not list its site-packages")
    endif()
  endif()

  set(partial "")
  list(LENGTH labels places)
  math(EXPR last "${places} - 1")
  foreach(i RANGE ${last})
    list(GET labels ${i} label)
    list(GET include_dirs ${i} incs)
    list(GET library_dirs ${i} libs)
    string(REPLACE "|" ";" incs "${incs}")
    string(REPLACE "|" ";" libs "${libs}")
    unset(include)
    unset(library)
    find_path(include cudnn.h PATHS ${incs} NO_DEFAULT_PATH NO_CACHE)
    find_library(library NAMES ${names} PATHS ${libs} NO_DEFAULT_PATH NO_CACHE)
    if(include AND library)
      break()
    elseif(include)
      string(REGEX REPLACE "/+$" "" include "${include}")
      string(APPEND partial "; ${label} has ${include}/cudnn.h but no libcudnn.so or libcudnn.so.9")
    elseif(library)
      string(APPEND partial "; ${label} has ${library} but no cudnn.h")
    endif()
    set(label "")
  endforeach()
  if(NOT label)
    unset(include)
    unset(library)
    find_path(include cudnn.h NO_CACHE)
    find_library(library NAMES ${names} NO_CACHE)
    set(label "CMake's default paths")
  endif()

  if(include AND library)
    string(REGEX REPLACE "/+$" "" include "${include}")
    set(ELR_CUDNN_INCLUDE_DIR "${include}" CACHE PATH "directory of cudnn.h" FORCE)
    set(ELR_CUDNN_LIBRARY "${library}" CACHE FILEPATH "libcudnn.so or libcudnn.so.9" FORCE)
    set(ELR_CUDNN_FOUND ON PARENT_SCOPE)
    set(ELR_CUDNN_WHERE "found in ${label}: ${include}/cudnn.h and ${library}" CACHE INTERNAL "")
  else()
    set(ELR_CUDNN_FOUND OFF PARENT_SCOPE)
    set(ELR_CUDNN_WHERE
      "not found: no cudnn.h with libcudnn.so or libcudnn.so.9 in the CUDA toolkit, pip's nvidia-cudnn in the site-packages of the python3 on PATH (${python_note}) or CMake's default paths${partial}; give -DELR_CUDNN_INCLUDE_DIR=... -DELR_CUDNN_LIBRARY=..."
      CACHE INTERNAL "")
  endif()
endfunction()

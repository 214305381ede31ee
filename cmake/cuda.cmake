# The CUDA backend (issue 6): built when nvcc is found, as a separate shared
# object (librightsize_cuda.so, beside the binary) that the core opens with
# dlopen, so one binary serves machines with and without a GPU. Off for the
# sanitizer and fuzz builds (nvcc takes neither their flags nor clang).
include(CheckLanguage)
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
set(RS_CUDA_DEFAULT OFF)
if(NOT RS_SANITIZE AND NOT RS_FUZZ)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
        set(RS_CUDA_DEFAULT ON)
    endif()
endif()
option(RS_CUDA "Build the CUDA backend (librightsize_cuda.so)" ${RS_CUDA_DEFAULT})
if(RS_CUDA)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
    enable_language(CUDA)
    add_subdirectory(src/engine/cuda)
endif()

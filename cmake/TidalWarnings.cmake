# One function owns the warning flags; every tidal target calls it.
function(tidal_warnings target)
  set(flags -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
      -Wold-style-cast -Wnull-dereference -Wdouble-promotion -Wformat=2
      -Wimplicit-fallthrough -Wmissing-declarations)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    list(APPEND flags -Wthread-safety)
  endif()
  # GCC 12 at -O3 reports -Wrestrict on plain `"text" + std::string` inside libstdc++ (GCC bug
  # 105651, fixed in GCC 13); the warning is off for GCC 12 only.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    list(APPEND flags -Wno-restrict)
  endif()
  if(TIDAL_WERROR)
    list(APPEND flags -Werror)
  endif()
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${flags}>)
  if(TIDAL_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
  endif()
endfunction()

# Code that produces replicated state must round identically on every rank (and, for CUDA
# kernels, on the GPU as on the CPU): no FMA contraction, IEEE division, subnormals kept.
function(tidal_strict_fp target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off>
    "$<$<COMPILE_LANGUAGE:CUDA>:-fmad=false;-ftz=false;-prec-div=true;-prec-sqrt=true>")
endfunction()

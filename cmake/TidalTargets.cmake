# tidal_add_folder_library(<target> <namespace-folder> [DEPS ...] [PRIVATE_DEPS ...])
#
# One static library per top-level folder. Its sources are every .cc (and, with CUDA, .cu) file
# under <folder>/tidal/; its include root is <folder>/ alone, so "tidal/coll/..." resolves only for
# targets that link tidal_coll. A wrong-way include (runtime including collectives) therefore fails
# to compile: the dependency direction is enforced by the build, and tests/include_direction checks
# that it stays so.
function(tidal_add_folder_library target)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  set(root ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${root}/tidal/*.cc)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS ${root}/tidal/*.h)
  # CUDA pairs: foo.cu builds with CUDA, foo_nocuda.cc (kNotSupported stubs) without it.
  if(TIDAL_HAVE_CUDA)
    file(GLOB_RECURSE cuda_sources CONFIGURE_DEPENDS ${root}/tidal/*.cu)
    list(APPEND sources ${cuda_sources})
    list(FILTER sources EXCLUDE REGEX "_nocuda\\.cc$")
  endif()
  if(sources)
    add_library(${target} STATIC ${sources})
    set(scope PUBLIC)
    tidal_warnings(${target})
  else()
    add_library(${target} INTERFACE)
    set(scope INTERFACE)
  endif()
  target_sources(${target} ${scope} FILE_SET HEADERS BASE_DIRS ${root} FILES ${headers})
  target_include_directories(${target} ${scope} $<BUILD_INTERFACE:${root}>)
  if(ARG_DEPS)
    target_link_libraries(${target} ${scope} ${ARG_DEPS})
  endif()
  if(ARG_PRIVATE_DEPS AND sources)
    target_link_libraries(${target} PRIVATE ${ARG_PRIVATE_DEPS})
  endif()
  if(sources AND TIDAL_HAVE_CUDA)
    set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF)
    target_compile_definitions(${target} PUBLIC TIDAL_HAVE_CUDA=1)
  endif()
endfunction()

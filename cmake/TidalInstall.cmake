# libtidal.so (every folder library, whole), its headers, the tools and a CMake package, so that
# a trainer's project links tidal with:
#   find_package(tidal REQUIRED)
#   target_link_libraries(trainer PRIVATE tidal::tidal)
include(CMakePackageConfigHelpers)

add_library(tidal SHARED ${PROJECT_SOURCE_DIR}/cmake/empty.cc)
# The folder libraries that hold code; header-only ones (INTERFACE) have nothing to archive.
set(tidal_archives)
foreach(lib tidal_runtime tidal_coll tidal_gossip tidal_optim tidal_capi)
  get_target_property(lib_type ${lib} TYPE)
  if(lib_type STREQUAL "STATIC_LIBRARY")
    list(APPEND tidal_archives $<TARGET_FILE:${lib}>)
    add_dependencies(tidal ${lib})
  endif()
endforeach()
target_link_libraries(tidal PRIVATE -Wl,--whole-archive ${tidal_archives} -Wl,--no-whole-archive
  PkgConfig::UCX PkgConfig::HWLOC)
if(TIDAL_HAVE_CUDA)
  target_link_libraries(tidal PRIVATE CUDA::cudart)
endif()
target_link_libraries(tidal PUBLIC Threads::Threads)
target_include_directories(tidal INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(tidal INTERFACE cxx_std_20)
set_target_properties(tidal PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                                       EXPORT_NAME tidal)
add_library(tidal::tidal ALIAS tidal)

install(TARGETS tidal EXPORT tidalTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Public headers: every folder library's header file set, under include/tidal/ (the C API's
# tidal.h, at its folder's root, lands in include/).
foreach(lib tidal_runtime tidal_coll tidal_gossip tidal_optim tidal_capi)
  get_target_property(header_dirs ${lib} HEADER_DIRS)
  get_target_property(header_files ${lib} HEADER_SET)
  foreach(header ${header_files})
    foreach(dir ${header_dirs})
      cmake_path(IS_PREFIX dir "${header}" NORMALIZE inside)
      if(inside)
        cmake_path(RELATIVE_PATH header BASE_DIRECTORY ${dir} OUTPUT_VARIABLE rel)
        cmake_path(GET rel PARENT_PATH rel_dir)
        install(FILES ${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${rel_dir})
      endif()
    endforeach()
  endforeach()
endforeach()

install(EXPORT tidalTargets NAMESPACE tidal:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tidal)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tidalConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/tidalConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tidal)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/tidalConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tidalConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/tidalConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tidal)

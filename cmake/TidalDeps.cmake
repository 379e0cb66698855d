# Third-party dependencies, all from Debian packages (tools/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(UCX REQUIRED IMPORTED_TARGET ucx)
pkg_check_modules(HWLOC REQUIRED IMPORTED_TARGET hwloc)
if(TIDAL_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TIDAL_BUILD_PERF)
  find_package(benchmark REQUIRED)
  find_package(nlohmann_json REQUIRED)  # perf tools' -J output
endif()
find_package(CLI11 REQUIRED)
find_package(nlohmann_json QUIET)

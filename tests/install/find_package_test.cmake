# Installs tidal into a scratch prefix, then builds and runs the trainer-side example from
# README.md (the blocks marked <!-- example: FILE -->) as a separate project that finds tidal with
# find_package(tidal). Run by ctest as `install.find_package`:
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DWORK_DIR=... -P find_package_test.cmake
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})

# Extract the example files from README.md.
file(READ ${SOURCE_DIR}/README.md readme)
set(project_dir ${WORK_DIR}/trainer)
foreach(name trainer.cc CMakeLists.txt)
  string(REGEX MATCH "<!-- example: ${name} -->[\r\n]+```[a-z]*[\r\n]+(.*)" tail "${readme}")
  if(NOT tail)
    message(FATAL_ERROR "README.md has no block marked <!-- example: ${name} -->")
  endif()
  string(FIND "${CMAKE_MATCH_1}" "```" end)
  string(SUBSTRING "${CMAKE_MATCH_1}" 0 ${end} body)
  file(WRITE ${project_dir}/${name} "${body}")
endforeach()

run(${CMAKE_COMMAND} -S ${project_dir} -B ${project_dir}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${project_dir}/build)
run(${project_dir}/build/trainer)
message(STATUS "trainer said: ${last_output}")
if(NOT last_output MATCHES "ok")
  message(FATAL_ERROR "the example did not print ok: ${last_output}")
endif()

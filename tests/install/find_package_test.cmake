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

# The C API's example (<!-- example: trainer.c -->) as a C99-only project: the installed tidal.h
# compiles as C and libtidal.so exports the C functions.
string(REGEX MATCH "<!-- example: trainer\\.c -->[\r\n]+```[a-z]*[\r\n]+(.*)" tail "${readme}")
if(NOT tail)
  message(FATAL_ERROR "README.md has no block marked <!-- example: trainer.c -->")
endif()
string(FIND "${CMAKE_MATCH_1}" "```" end)
string(SUBSTRING "${CMAKE_MATCH_1}" 0 ${end} body)
set(c_dir ${WORK_DIR}/trainer_c)
file(WRITE ${c_dir}/trainer.c "${body}")
file(WRITE ${c_dir}/CMakeLists.txt [=[
cmake_minimum_required(VERSION 3.25)
project(trainer_c C)
find_package(tidal REQUIRED)
add_executable(trainer_c trainer.c)
set_target_properties(trainer_c PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(trainer_c PRIVATE -Wall -Wextra -Wpedantic -Werror)
target_link_libraries(trainer_c PRIVATE tidal::tidal)
]=])
run(${CMAKE_COMMAND} -S ${c_dir} -B ${c_dir}/build -G Ninja -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${c_dir}/build)
run(${c_dir}/build/trainer_c)
message(STATUS "trainer_c said: ${last_output}")
if(NOT last_output MATCHES "ok")
  message(FATAL_ERROR "the C example did not print ok: ${last_output}")
endif()

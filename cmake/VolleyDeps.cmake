# Every dependency comes from a Debian package (scripts/install-deps.sh installs them).
# A missing one stops configuration with the package name to install.
find_package(Threads REQUIRED)

find_package(PkgConfig QUIET)
macro(volley_pkg target module debian_package)
  if(NOT PkgConfig_FOUND)
    message(FATAL_ERROR "volley: pkg-config not found: run scripts/install-deps.sh")
  endif()
  pkg_check_modules(${target} IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR "volley: ${module} not found: run scripts/install-deps.sh "
                        "(or apt-get install ${debian_package})")
  endif()
endmacro()

# What the engine and its tests need, in every build including the core-only ones.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  volley_pkg(URING liburing liburing-dev)
endif()
if(VOLLEY_BUILD_TESTS AND NOT CMAKE_CROSSCOMPILING)
  find_package(doctest CONFIG QUIET GLOBAL)
  if(NOT doctest_FOUND)
    message(FATAL_ERROR "volley: doctest not found: run scripts/install-deps.sh "
                        "(or apt-get install doctest-dev)")
  endif()
endif()

if(VOLLEY_CORE_ONLY)
  return()
endif()

volley_pkg(ENET libenet libenet-dev)
volley_pkg(ZSTD libzstd libzstd-dev)
volley_pkg(PCAP libpcap libpcap-dev)

find_package(FlatBuffers CONFIG QUIET)
find_program(VOLLEY_FLATC flatc)
if(NOT FlatBuffers_FOUND OR NOT VOLLEY_FLATC)
  message(FATAL_ERROR "volley: flatbuffers not found: run scripts/install-deps.sh "
                      "(or apt-get install libflatbuffers-dev flatbuffers-compiler)")
endif()

# volley_flatc(<fbs> <dir>): flatc compiles <fbs> into <dir>/<name>_generated.h at build time
# (nothing generated is committed); that header is the rule's output, to list as a source or in
# a custom target.
function(volley_flatc fbs dir)
  get_filename_component(name ${fbs} NAME_WE)
  get_filename_component(file ${fbs} NAME)
  add_custom_command(
    OUTPUT ${dir}/${name}_generated.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND ${VOLLEY_FLATC} --cpp -o ${dir} ${fbs}
    DEPENDS ${fbs}
    COMMENT "flatc ${file}"
    VERBATIM)
endfunction()

find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  message(FATAL_ERROR "volley: CLI11 not found: run scripts/install-deps.sh "
                      "(or apt-get install libcli11-dev)")
endif()

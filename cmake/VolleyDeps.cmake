# Every dependency comes from a Debian package (scripts/install-deps.sh installs them).
# A missing one stops configuration with the package name to install.
find_package(Threads REQUIRED)

if(VOLLEY_ENGINE_ONLY)
  return()
endif()

find_package(PkgConfig REQUIRED)
macro(volley_pkg target module debian_package)
  pkg_check_modules(${target} IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR "volley: ${module} not found: run scripts/install-deps.sh "
                        "(or apt-get install ${debian_package})")
  endif()
endmacro()

volley_pkg(ENET libenet libenet-dev)
volley_pkg(ZSTD libzstd libzstd-dev)
volley_pkg(PCAP libpcap libpcap-dev)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  volley_pkg(URING liburing liburing-dev)
endif()

find_package(FlatBuffers CONFIG QUIET)
find_program(VOLLEY_FLATC flatc)
if(NOT FlatBuffers_FOUND OR NOT VOLLEY_FLATC)
  message(FATAL_ERROR "volley: flatbuffers not found: run scripts/install-deps.sh "
                      "(or apt-get install libflatbuffers-dev flatbuffers-compiler)")
endif()

if(VOLLEY_BUILD_TESTS)
  find_package(doctest CONFIG QUIET)
  if(NOT doctest_FOUND)
    message(FATAL_ERROR "volley: doctest not found: run scripts/install-deps.sh "
                        "(or apt-get install doctest-dev)")
  endif()
endif()

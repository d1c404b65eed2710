# Toolchain for the `mingw` preset: cross-compiles volley::engine and its tests for Windows with
# Debian's mingw-w64 posix-threads g++ (std::thread needs it), linked fully static so the .exe
# files run under Wine without any mingw DLLs next to them. ctest runs them through Wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(VOLLEY_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${VOLLEY_MINGW_PREFIX}-gcc-posix)
set(CMAKE_CXX_COMPILER ${VOLLEY_MINGW_PREFIX}-g++-posix)
set(CMAKE_RC_COMPILER ${VOLLEY_MINGW_PREFIX}-windres)

# Search only the mingw sysroot for libraries and headers: the host's /usr/include must never
# leak into a Windows build.
set(CMAKE_FIND_ROOT_PATH /usr/${VOLLEY_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

# Debian's wine64 package has no /usr/bin/wine; VOLLEY_WINE overrides the path.
if(DEFINED ENV{VOLLEY_WINE})
  set(CMAKE_CROSSCOMPILING_EMULATOR $ENV{VOLLEY_WINE})
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR /usr/lib/wine/wine64)
endif()

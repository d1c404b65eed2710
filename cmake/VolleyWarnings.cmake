# Warnings for Volley's own targets only (never for dependencies).
add_library(volley_warnings INTERFACE)
if(MSVC)
  target_compile_options(volley_warnings INTERFACE /W4)
else()
  target_compile_options(volley_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wcast-align -Wimplicit-fallthrough)
endif()

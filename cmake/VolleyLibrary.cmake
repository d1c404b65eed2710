# volley_add_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Defines volley_<name> with alias volley::<name>, public headers in <dir>/include, and marks it
# for export. Layering is expressed only through the DEPS lists.
function(volley_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(volley_${name} STATIC ${ARG_SOURCES})
  add_library(volley::${name} ALIAS volley_${name})
  set_target_properties(volley_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(volley_${name}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  # The public headers are C++20 (std::span, concepts): a consumer gets the standard with the
  # target, not by setting CMAKE_CXX_STANDARD itself.
  target_compile_features(volley_${name} PUBLIC cxx_std_20)
  target_link_libraries(volley_${name} PUBLIC ${ARG_PUBLIC_DEPS}
    PRIVATE ${ARG_PRIVATE_DEPS} $<BUILD_INTERFACE:volley_warnings>)
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set_property(GLOBAL APPEND PROPERTY VOLLEY_EXPORTED_TARGETS volley_${name})
endfunction()

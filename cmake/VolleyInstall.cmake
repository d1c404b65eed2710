# `cmake --install` puts headers, static libraries and an exported package in the prefix, so a
# separate project can find_package(volley) and link volley::server (tests/consumer proves it).
include(CMakePackageConfigHelpers)

set(VOLLEY_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/volley)
get_property(volley_exported GLOBAL PROPERTY VOLLEY_EXPORTED_TARGETS)

install(TARGETS ${volley_exported} EXPORT volleyTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT volleyTargets NAMESPACE volley:: DESTINATION ${VOLLEY_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/volleyConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/volleyConfig.cmake INSTALL_DESTINATION ${VOLLEY_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/volleyConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/volleyConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/volleyConfigVersion.cmake
        DESTINATION ${VOLLEY_INSTALL_CMAKEDIR})

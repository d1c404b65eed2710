#include "volley/server/version.hpp"

namespace volley::server {

std::string_view version() noexcept { return "volley " VOLLEY_VERSION " (ENet 1.3 wire protocol)"; }
std::string_view version_number() noexcept { return VOLLEY_VERSION; }

}  // namespace volley::server

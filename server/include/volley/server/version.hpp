// Library identity, for diagnostics and for consumers checking what they linked.
#pragma once

#include <string_view>

namespace volley::server {

// "volley <semver> (ENet 1.3 wire protocol)".
std::string_view version() noexcept;
// "<semver>" alone: the stats JSON's "version", the metrics' volley_build_info label.
std::string_view version_number() noexcept;

}  // namespace volley::server

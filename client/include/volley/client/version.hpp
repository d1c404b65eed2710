// Library identity, including the libenet version it runs on.
#pragma once

#include <string>

namespace volley::client {

// "volley <semver> on libenet <major.minor.patch>" (the libenet linked at run time).
std::string version();

}  // namespace volley::client

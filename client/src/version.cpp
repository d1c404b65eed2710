#include "volley/client/version.hpp"

#include <enet/enet.h>

namespace volley::client {

std::string version() {
  const ENetVersion v = enet_linked_version();
  return "volley " VOLLEY_VERSION " on libenet " + std::to_string(ENET_VERSION_GET_MAJOR(v)) + "." +
         std::to_string(ENET_VERSION_GET_MINOR(v)) + "." + std::to_string(ENET_VERSION_GET_PATCH(v));
}

}  // namespace volley::client

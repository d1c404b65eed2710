// Secrets from the operating system's random source (not a seeded generator): the handshake's
// SipHash key, drawn when the Server opens and again at each cookie-key rotation.
#pragma once

#include "siphash.hpp"

namespace volley::server {

SipKey random_key();

}  // namespace volley::server

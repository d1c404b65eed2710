# Peer state machine sources (issue 4), appended to volley::protocol by CMakeLists.txt.
list(APPEND VOLLEY_PROTOCOL_SOURCES
  src/buffer_pool.cpp
  src/counters.cpp
  src/fragment_assembly.cpp
  src/handshake.cpp
  src/inbound.cpp
  src/outbound.cpp
  src/packet_loss.cpp
  src/peer.cpp
  src/peer_state.cpp
  src/receive_channel.cpp
  src/reliable_send.cpp
  src/rtt.cpp
  src/send_window.cpp
  src/throttle.cpp
  src/unsequenced_window.cpp)

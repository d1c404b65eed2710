// Packet-loss statistics on their own: 10 s epochs, 1/8 gain on the mean, 1/4 on the variance.
#include <doctest/doctest.h>

#include "packet_loss.hpp"

using namespace volley::protocol;
using detail::PacketLoss;

TEST_CASE("packet loss: one epoch of 10 s averages the lost share into mean and variance") {
  PacketLoss loss;
  loss.update(from_ms(0));  // opens the first epoch
  for (int i = 0; i < 4; ++i) loss.on_sent();
  loss.on_lost(1);
  loss.update(from_ms(9999));
  CHECK(loss.loss() == 0);  // the epoch is not over
  loss.update(from_ms(10000));
  CHECK(loss.loss() == 65536 / 4 / 8);
  CHECK(loss.variance() == 65536 / 4 / 4);
  // The next epoch starts empty: an epoch without sends changes nothing.
  loss.update(from_ms(20000));
  CHECK(loss.loss() == 2048);
  for (int i = 0; i < 2; ++i) loss.on_sent();
  loss.update(from_ms(30000));
  CHECK(loss.loss() == 2048 * 7 / 8);               // no loss this time
  CHECK(loss.variance() == (4096 * 3 + 2048) / 4);
  loss.reset();
  CHECK(loss.loss() == 0);
  CHECK(loss.variance() == 0);
}

// Each public header of every layer is compiled alone, first in its own generated translation
// unit (see tests/CMakeLists.txt), so a header that forgets an include cannot hide behind
// another. This case proves those units were built and linked.
#include <doctest/doctest.h>

int volley_headers_compiled();

TEST_CASE("every public header compiles on its own") { CHECK(volley_headers_compiled() >= 8); }

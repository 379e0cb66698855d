// Compiled with runtime's include root only: this include must not resolve, because runtime may
// not depend on collectives. tests/CMakeLists.txt expects the compiler to fail on it.
#include "tidal/coll/types.h"

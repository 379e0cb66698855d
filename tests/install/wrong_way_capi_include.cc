// Compiled with the collectives' and runtime's include roots only: the C API's header must not
// resolve, because nothing in tidal depends on capi/. tests/CMakeLists.txt expects the compiler
// to fail on it.
#include <tidal.h>

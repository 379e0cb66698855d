// StreamCopy: memcpy with non-temporal (streaming) stores, for copying into a destination that is
// far larger than the caches and will not be read again soon.
//
// Why: an ordinary store to a line that is not cached first reads the line from memory (a
// read-for-ownership), so copying n bytes into cold memory moves 3n bytes through the memory
// system; a streaming store writes the line without reading it, 2n. On this kind of machine that
// makes a 256 KiB cache-resident source copied into a 64 MiB buffer 1.6-1.9x faster. For a
// destination that fits the cache it is slower (the next reader misses), so callers use it only
// above a size threshold (TIDAL_SHM_STREAM_BYTES for the on-host AllReduce).
//
// x86-64: SSE2 streaming stores (part of the base ISA), an sfence at the end so that the stores
// are globally visible before a following release store publishes them. Elsewhere: memcpy.
//
// Thread safety: a pure function of its arguments.
#pragma once

#include <cstddef>

namespace tidal::coll {

// Copies `bytes` from `src` to `dst` with streaming stores. REQUIRES: the ranges do not overlap.
void StreamCopy(void* dst, const void* src, size_t bytes);

}  // namespace tidal::coll

// IDX files (the MNIST / Fashion-MNIST container), read through zlib so that the gzip'd files of
// Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist/) load as they are.
//
// Format: magic 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 dimensions, then the
// elements in row-major order. Only type 0x08 (unsigned byte) is read: both the images (3 dims,
// N x 28 x 28) and the labels (1 dim, N) of (Fashion-)MNIST use it. Plain (not gzip'd) files are
// read too (zlib passes them through).
//
// Not a general dataset library: no other element types, no writing, no memory mapping.
//
// Thread safety: pure functions (each call opens its own file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tidal/core/status.h"

namespace tidal::train {

struct IdxArray {
  std::vector<uint32_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;   // product(dims) bytes, row-major

  // Elements per item: the product of dims[1..] (1 for a 1-d array).
  size_t item_size() const;
};

// Reads an IDX file of unsigned bytes. Returns kIoError when the file cannot be opened or ends
// early, kInvalidArgument when the magic, type or dimensions are malformed (each message names the
// file). Blocks on file I/O.
Result<IdxArray> ReadIdx(const std::string& path);

// A labelled set of images: n items of `pixels` bytes each, and n labels in [0, classes).
struct ImageSet {
  size_t n = 0;
  size_t pixels = 0;
  std::vector<uint8_t> images;  // n * pixels
  std::vector<uint8_t> labels;  // n
};

// Reads `<dir>/<prefix>-images-idx3-ubyte.gz` and `<dir>/<prefix>-labels-idx1-ubyte.gz`
// (prefix "train" or "t10k") and checks that they agree: the same item count, 3-d images, labels
// below `classes`. Returns the errors of ReadIdx, or kInvalidArgument naming the mismatch.
Result<ImageSet> ReadImageSet(const std::string& dir, const std::string& prefix, int classes);

}  // namespace tidal::train

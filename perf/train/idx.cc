#include "train/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace tidal::train {
namespace {

constexpr uint8_t kTypeUnsignedByte = 0x08;
constexpr size_t kMaxDims = 8;
constexpr size_t kMaxElements = size_t{1} << 32;  // 4 GiB: far above any IDX file we read

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly `bytes` bytes (gzread takes an unsigned count: read in pieces).
Status ReadExactly(gzFile_s* f, void* out, size_t bytes, const std::string& path) {
  auto* p = static_cast<uint8_t*>(out);
  while (bytes > 0) {
    const unsigned piece = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
    const int got = gzread(f, p, piece);
    if (got <= 0) {
      int err = Z_OK;
      const char* msg = gzerror(f, &err);
      return IoError("IDX file ", path, ": ",
                     got == 0 ? std::string("ends early") : std::string(msg ? msg : "read error"));
    }
    p += got;
    bytes -= static_cast<size_t>(got);
  }
  return Status::Ok();
}

uint32_t BigEndian32(const uint8_t* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

}  // namespace

size_t IdxArray::item_size() const {
  size_t s = 1;
  for (size_t i = 1; i < dims.size(); ++i) {
    s *= dims[i];
  }
  return s;
}

Result<IdxArray> ReadIdx(const std::string& path) {
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) {
    return IoError("IDX file ", path, ": cannot open (", std::strerror(errno),
                   "); on Debian it comes with the dataset-fashion-mnist package");
  }
  uint8_t magic[4];
  TIDAL_RETURN_IF_ERROR(ReadExactly(f.get(), magic, sizeof(magic), path));
  if (magic[0] != 0 || magic[1] != 0) {
    return InvalidArgumentError("IDX file ", path, ": bad magic (not an IDX file)");
  }
  if (magic[2] != kTypeUnsignedByte) {
    return InvalidArgumentError("IDX file ", path, ": element type 0x", std::hex, int{magic[2]},
                                " (only unsigned bytes, 0x08, are supported)");
  }
  const size_t ndims = magic[3];
  if (ndims == 0 || ndims > kMaxDims) {
    return InvalidArgumentError("IDX file ", path, ": ", ndims, " dimensions (expected 1-",
                                kMaxDims, ")");
  }
  IdxArray array;
  size_t elements = 1;
  for (size_t i = 0; i < ndims; ++i) {
    uint8_t b[4];
    TIDAL_RETURN_IF_ERROR(ReadExactly(f.get(), b, sizeof(b), path));
    const uint32_t d = BigEndian32(b);
    if (d == 0 || elements * d > kMaxElements) {
      return InvalidArgumentError("IDX file ", path, ": dimension ", i, " is ", d);
    }
    array.dims.push_back(d);
    elements *= d;
  }
  array.data.resize(elements);
  TIDAL_RETURN_IF_ERROR(ReadExactly(f.get(), array.data.data(), elements, path));
  return array;
}

Result<ImageSet> ReadImageSet(const std::string& dir, const std::string& prefix, int classes) {
  const std::string images_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  TIDAL_ASSIGN_OR_RETURN(IdxArray images, ReadIdx(images_path));
  TIDAL_ASSIGN_OR_RETURN(IdxArray labels, ReadIdx(labels_path));
  if (images.dims.size() != 3) {
    return InvalidArgumentError("IDX file ", images_path, ": ", images.dims.size(),
                                " dimensions (images have 3)");
  }
  if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0]) {
    return InvalidArgumentError("IDX files ", labels_path, " and ", images_path,
                                ": label and image counts differ");
  }
  for (uint8_t label : labels.data) {
    if (label >= classes) {
      return InvalidArgumentError("IDX file ", labels_path, ": label ", int{label},
                                  " out of range (", classes, " classes)");
    }
  }
  ImageSet set;
  set.n = images.dims[0];
  set.pixels = images.item_size();
  set.images = std::move(images.data);
  set.labels = std::move(labels.data);
  return set;
}

}  // namespace tidal::train

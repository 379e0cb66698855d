#include "tidal/transport/tag.h"

namespace tidal {

std::ostream& operator<<(std::ostream& os, const TagFields& fields) {
  return os << "tag(comm " << fields.comm << " seq " << fields.seq << " step " << fields.step
            << " src " << fields.source << ")";
}

}  // namespace tidal

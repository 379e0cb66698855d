#include "tidal/coll/selection_table.h"

#include <optional>

#include "tidal/coll/shm/shm_allreduce.h"
#include "tidal/core/knobs.h"
#include "tidal/core/strcat.h"

namespace tidal::coll {
namespace {

std::string SizeText(size_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB"};
  size_t unit = 0;
  while (unit + 1 < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return StrCat(bytes, " ", kUnits[unit]);
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

void TrimEnd(std::string& text) {
  while (!text.empty() && text.back() == ' ') text.pop_back();
}

std::string ShapeText(int n, const HostShape& shape) {
  if (shape.even()) {
    return StrCat(n, " ranks on ", shape.hosts, " host(s) x ", shape.ranks_per_host);
  }
  return StrCat(n, " ranks on ", shape.hosts, " hosts, uneven");
}

}  // namespace

std::vector<CollKind> SelectionKinds() {
  return {CollKind::kAllReduce, CollKind::kReduceScatter, CollKind::kAllGather,
          CollKind::kBroadcast, CollKind::kReduce,        CollKind::kAllToAll};
}

std::vector<size_t> SelectionSizes() {
  std::vector<size_t> sizes;
  for (size_t bytes = 4; bytes <= (size_t{1} << 30); bytes *= 4) sizes.push_back(bytes);
  return sizes;
}

std::string SelectedName(CollKind kind, size_t bytes, int n, const HostShape& shape) {
  Result<Algorithm> chosen = SelectAlgorithm(kind, Algorithm::kAuto, bytes, n, shape);
  if (!chosen.ok()) return StrCat("error: ", chosen.status().message());
  if (*chosen == Algorithm::kShm && kind == CollKind::kAllReduce) {
    Result<ShmConfig> config = ReadShmConfig(n, 0);
    if (!config.ok()) return StrCat("error: ", config.status().message());
    return StrCat("shm/", ShmProtocolName(*config, n, bytes));
  }
  return std::string(AlgorithmName(*chosen));
}

std::string SelectionTable(int n, const HostShape& shape) {
  constexpr size_t kWidth = 16;
  std::string text = StrCat("selection (kAuto) for ", ShapeText(n, shape), "\n");
  text += Pad("  size", 11);
  for (CollKind kind : SelectionKinds()) text += Pad(std::string(CollKindName(kind)), kWidth);
  TrimEnd(text);
  text += "\n";
  for (size_t bytes : SelectionSizes()) {
    text += Pad("  " + SizeText(bytes), 11);
    for (CollKind kind : SelectionKinds()) text += Pad(SelectedName(kind, bytes, n, shape), kWidth);
    TrimEnd(text);
    text += "\n";
  }
  text += "shm/: the on-host protocol of a plain AllReduce: one-shot (every rank reduces all\n";
  text += "buffers), last (the last rank to arrive reduces for all; TIDAL_SHM_REDUCER) or\n";
  text += "fused; an owned-shard AllReduce (SlowMo) reduce-scatters and all-gathers instead.\n";
  text += "sizes: the buffer (allreduce, broadcast, reduce), one rank's block (reduce_scatter,\n";
  text += "allgather), a rank's send buffer (alltoall); V variants select as their plain forms.\n";
  text += "forced by TIDAL_ALGO=<name> (every collective that has it) or per collective:\n";
  for (CollKind kind : SelectionKinds()) {
    const std::optional<Knob> knob = AlgorithmKnobFor(kind);
    std::string names;
    for (Algorithm a : AlgorithmsFor(kind))
      names += StrCat(names.empty() ? "" : " ", AlgorithmName(a));
    text += StrCat("  ", Pad(std::string(CollKindName(kind)), kWidth),
                   Pad(knob ? std::string(GetKnobInfo(*knob).name) : "(TIDAL_ALGO only)", 28),
                   names, "\n");
  }
  std::string set;
  for (Knob knob : {Knob::kAlgo, Knob::kAlgoAllReduce, Knob::kAlgoReduceScatter,
                    Knob::kAlgoAllGather, Knob::kAlgoBroadcast, Knob::kAlgoReduce,
                    Knob::kShmOneShotBytes, Knob::kShmReducer, Knob::kShmSlotBytes}) {
    if (!KnobIsSet(knob)) continue;
    set += StrCat(" ", GetKnobInfo(knob).name, "=", KnobString(knob));
  }
  text += StrCat("knobs set now:", set.empty() ? " none" : set, "\n");
  return text;
}

}  // namespace tidal::coll

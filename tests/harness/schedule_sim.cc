// The symbolic schedule executor (see schedule_sim.h).
//
// Thread safety: pure functions.
#include "harness/schedule_sim.h"

#include <algorithm>
#include <deque>
#include <sstream>
#include <unordered_map>

namespace tidal::testing {
namespace {

using coll::ElementRange;
using coll::Op;

struct Message {
  ElementRange range;
  uint32_t step = 0;
  uint32_t segment = 0;
  std::vector<SimElement> payload;
};

uint64_t QueueKey(int source, int destination, int n, uint32_t tag_step) {
  return ((static_cast<uint64_t>(source) * static_cast<uint64_t>(n) +
           static_cast<uint64_t>(destination))
          << 16) |
         tag_step;
}

std::string Describe(int position, size_t index, const Op& op) {
  std::ostringstream os;
  os << "position " << position << " op #" << index << " " << op;
  return os.str();
}

class Simulator {
 public:
  // In place when `inputs` is empty: sends then read the buffers they write.
  Simulator(const std::vector<coll::Schedule>& schedules, std::vector<SimBuffer> inputs,
            std::vector<SimBuffer> outputs)
      : schedules_(schedules),
        n_(static_cast<int>(schedules.size())),
        in_out_(!inputs.empty()),
        inputs_(std::move(inputs)) {
    result_.buffers = std::move(outputs);
    result_.sent_elements.assign(schedules.size(), 0);
    result_.recv_elements.assign(schedules.size(), 0);
    for (const SimBuffer& buffer : inputs_) NoteIds(buffer);
    for (const SimBuffer& buffer : result_.buffers) NoteIds(buffer);
  }

  SimResult Run() {
    if (n_ < 1 || n_ > 64) return Fail("need 1 to 64 positions");
    if (result_.buffers.size() != schedules_.size()) return Fail("one buffer per position");
    if (in_out_ && inputs_.size() != schedules_.size()) return Fail("one input per position");
    for (const SimBuffer& buffer : result_.buffers) {
      if (!in_out_ && buffer.size() != result_.buffers[0].size()) {
        return Fail("buffers differ in size");
      }
    }
    for (const coll::Schedule& schedule : schedules_) {
      if (schedule.segments_per_step != schedules_[0].segments_per_step) {
        return Fail("positions disagree on segments_per_step (the tag stride)");
      }
    }
    std::vector<size_t> pc(schedules_.size(), 0);
    for (;;) {
      bool progress = false;
      bool done = true;
      for (int p = 0; p < n_; ++p) {
        const std::vector<Op>& ops = schedules_[p].ops;
        while (pc[p] < ops.size()) {
          std::string error;
          const Step outcome = Execute(p, pc[p], error);
          if (outcome == Step::kFailed) return Fail(error);
          if (outcome == Step::kBlocked) break;
          ++pc[p];
          progress = true;
        }
        done = done && pc[p] == ops.size();
      }
      if (done) break;
      if (!progress) {
        std::ostringstream os;
        os << "deadlock:";
        for (int p = 0; p < n_; ++p) {
          if (pc[p] < schedules_[p].ops.size()) {
            os << " [" << Describe(p, pc[p], schedules_[p].ops[pc[p]]) << "]";
          }
        }
        return Fail(os.str());
      }
    }
    for (const auto& [key, queue] : queues_) {
      if (!queue.empty()) {
        std::ostringstream os;
        os << queue.size() << " message(s) never received, first " << queue.front().range
           << " step " << queue.front().step << " seg " << queue.front().segment;
        return Fail(os.str());
      }
    }
    result_.ok = true;
    return std::move(result_);
  }

 private:
  enum class Step { kDone, kBlocked, kFailed };

  SimResult Fail(std::string error) {
    result_.ok = false;
    result_.error = std::move(error);
    return std::move(result_);
  }

  Step Execute(int p, size_t index, std::string& error) {
    const coll::Schedule& schedule = schedules_[p];
    const Op& op = schedule.ops[index];
    auto fail = [&](const std::string& why) {
      error = Describe(p, index, op) + ": " + why;
      return Step::kFailed;
    };
    SimBuffer& buffer = result_.buffers[p];
    const SimBuffer& source = in_out_ ? inputs_[p] : buffer;
    const bool reads = op.kind == Op::kSend || op.kind == Op::kCopy;
    const bool writes = op.kind != Op::kSend;
    if (op.range.end() < op.range.begin || (reads && op.range.end() > source.size()) ||
        (writes && op.range.end() > buffer.size())) {
      return fail("range outside");
    }
    if (op.range.empty()) return fail("empty range");
    if (op.peer_position < 0 || op.peer_position >= n_) return fail("no such peer");
    if (op.kind == Op::kCopy) {
      if (op.peer_position != p) return fail("copy names another position");
      std::copy(source.begin() + Offset(op.range.begin), source.begin() + Offset(op.range.end()),
                buffer.begin() + Offset(op.range.begin));
      return Step::kDone;
    }
    if (op.peer_position == p) return fail("message to self");
    if (op.step >= schedule.num_steps) return fail("step >= num_steps");
    if (op.segment >= schedule.segments_per_step) return fail("segment >= segments_per_step");
    const uint32_t tag_step = coll::TagStep(op, schedule.segments_per_step);
    if (op.kind == Op::kSend) {
      Message message{op.range, op.step, op.segment,
                      SimBuffer(source.begin() + Offset(op.range.begin),
                                source.begin() + Offset(op.range.end()))};
      queues_[QueueKey(p, op.peer_position, n_, tag_step)].push_back(std::move(message));
      result_.sent_elements[p] += op.range.count;
      ++result_.messages;
      return Step::kDone;
    }
    auto it = queues_.find(QueueKey(op.peer_position, p, n_, tag_step));
    if (it == queues_.end() || it->second.empty()) return Step::kBlocked;
    Message message = std::move(it->second.front());
    it->second.pop_front();
    // In place every position lays the buffer out alike, so the ranges match; out of place only
    // the sizes must.
    const bool same_range =
        in_out_ ? message.range.count == op.range.count : message.range == op.range;
    if (!same_range || message.step != op.step || message.segment != op.segment) {
      std::ostringstream os;
      os << "matched a send of " << message.range << " step " << message.step << " seg "
         << message.segment;
      return fail(os.str());
    }
    result_.recv_elements[p] += op.range.count;
    for (size_t i = 0; i < op.range.count; ++i) {
      SimElement& mine = buffer[op.range.begin + i];
      const SimElement& theirs = message.payload[i];
      if (theirs.value_id == 0) return fail("received undefined data");
      if (op.kind == Op::kRecv) {
        mine = theirs;
        continue;
      }
      if (mine.value_id == 0) return fail("reduced into undefined data");
      if ((mine.contributors & theirs.contributors) != 0) {
        std::ostringstream os;
        os << "element " << op.range.begin + i << " counts a contribution twice (mask "
           << (mine.contributors & theirs.contributors) << ")";
        return fail(os.str());
      }
      mine.contributors |= theirs.contributors;
      mine.value_id = next_id_++;
    }
    return Step::kDone;
  }

  static ptrdiff_t Offset(size_t index) { return static_cast<ptrdiff_t>(index); }

  // Fresh ids (reductions) start above every id of the initial buffers.
  void NoteIds(const SimBuffer& buffer) {
    for (const SimElement& element : buffer) next_id_ = std::max(next_id_, element.value_id + 1);
  }

  const std::vector<coll::Schedule>& schedules_;
  const int n_;
  const bool in_out_;
  const std::vector<SimBuffer> inputs_;
  uint64_t next_id_ = 1;
  SimResult result_;
  std::unordered_map<uint64_t, std::deque<Message>> queues_;
};

}  // namespace

uint64_t AllPositions(int n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }

std::vector<SimBuffer> InputBuffers(int n, size_t count) {
  std::vector<SimBuffer> buffers(static_cast<size_t>(n), SimBuffer(count));
  uint64_t id = 1;
  for (int p = 0; p < n; ++p) {
    for (SimElement& element : buffers[static_cast<size_t>(p)]) {
      element = SimElement{uint64_t{1} << p, id++};
    }
  }
  return buffers;
}

std::vector<SimBuffer> ShardBuffers(int n, size_t count) {
  std::vector<ElementRange> chunks;
  for (int p = 0; p < n; ++p) chunks.push_back(coll::OwnedRange(p, n, count));
  return ChunkBuffers(chunks, count);
}

std::vector<SimBuffer> ChunkBuffers(std::span<const ElementRange> chunks, size_t count) {
  std::vector<SimBuffer> buffers(chunks.size(), SimBuffer(count));
  uint64_t id = 1;
  for (size_t p = 0; p < chunks.size(); ++p) {
    for (size_t e = chunks[p].begin; e < chunks[p].end(); ++e) {
      buffers[p][e] = SimElement{uint64_t{1} << p, id++};
    }
  }
  return buffers;
}

SimResult Simulate(const std::vector<coll::Schedule>& schedules, std::vector<SimBuffer> initial) {
  return Simulator(schedules, {}, std::move(initial)).Run();
}

SimResult SimulateInOut(const std::vector<coll::Schedule>& schedules, std::vector<SimBuffer> inputs,
                        std::vector<SimBuffer> outputs) {
  if (inputs.empty()) {
    SimResult result;
    result.error = "SimulateInOut needs one input buffer per position";
    return result;
  }
  return Simulator(schedules, std::move(inputs), std::move(outputs)).Run();
}

}  // namespace tidal::testing

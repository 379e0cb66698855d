// Private to the in-process transport: the shared state of one rank of an InProcFabric.
//
// Each rank owns a Mailbox (messages sent *to* it that no receive has matched yet, and its
// receives that no message has matched yet) and a CompletionQueue (its requests whose outcome is
// known, waiting for its Progress() to deliver them). Matching is exact on the stamped tag (which
// carries the source rank), first posted receive with first arrived message, so one FIFO queue
// per tag gives FIFO per (source, tag) without any global order.
//
// Matching copies data while the mailbox lock is held: eager messages from their own copy,
// rendezvous messages straight from the sender's buffer (it stays valid: the send request is
// pending until the completion produced here is delivered). Matching never completes a request; it
// returns Completions, which the caller pushes to the owners' completion queues after releasing the
// mailbox lock.
//
// Thread safety: Mailbox and CompletionQueue are thread-safe, each guarded by its own mutex. Lock
// order: a thread holds at most one lock at a time. Mailbox methods never take a completion-queue
// lock (they return completions instead), and CompletionQueue methods take no other lock. Hence no
// thread ever holds two locks, of the same rank or of different ranks, and no cycle can form.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "tidal/core/mutex.h"
#include "tidal/core/status.h"
#include "tidal/transport/request.h"
#include "tidal/transport/tag.h"

namespace tidal::inproc {

// The known outcome of `request`, owned by rank `owner`, not yet delivered.
struct Completion {
  int owner = -1;
  Request* request = nullptr;
  Status status;
  size_t bytes = 0;
  bool held_once = false;  // the shuffle held it back already; deliver it next time
};

// A message in flight to the mailbox's rank.
struct Message {
  int source = -1;
  Tag tag = 0;  // stamped with `source`
  size_t bytes = 0;
  // Eager: the copy made at post. Empty for rendezvous and zero-byte messages.
  std::vector<std::byte> payload;
  // Rendezvous: the sender's buffer and request; the request completes when the message matches.
  bool rendezvous = false;
  const void* send_data = nullptr;
  Request* send_request = nullptr;
};

// A receive posted by the mailbox's rank.
struct PostedRecv {
  void* data = nullptr;
  size_t capacity = 0;
  Request* request = nullptr;
};

// "rank 2 recv from rank 1 tag(comm 0 seq 3 step 1 src 1)": the request as its owner sees it.
// REQUIRES: `request` was posted (kind, peer and tag are set).
std::string DescribeRequest(int owner, const Request& request);

// `why` with the request's description in front, keeping the code.
Status ForRequest(const Status& why, int owner, const Request& request);

class Mailbox {
 public:
  explicit Mailbox(int rank) : rank_(rank) {}
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Delivers `message` (a send to this rank): matches the first posted receive for its tag, or
  // queues it. Rendezvous sends complete when matched; the caller completes eager sends.
  // Returns false (and consumes nothing) if this rank is dead: `*dead_status` says why.
  bool Deliver(Message& message, std::vector<Completion>* out, Status* dead_status)
      TIDAL_EXCLUDES(mu_);

  // Posts a receive for the stamped `tag`: matches the first queued message or queues the receive.
  // A receive from a failed source completes with that source's failure.
  void PostRecv(Tag tag, const PostedRecv& recv, std::vector<Completion>* out) TIDAL_EXCLUDES(mu_);

  // Removes an unmatched receive (kAborted). Returns false if it is not queued here.
  bool CancelRecv(Request* request, std::vector<Completion>* out) TIDAL_EXCLUDES(mu_);
  // Removes an unmatched rendezvous send (kAborted). Returns false if it is not queued here.
  bool CancelSend(Request* request, std::vector<Completion>* out) TIDAL_EXCLUDES(mu_);

  // `source` failed: this rank's receives from it (now and later) complete with `recv_status`;
  // its unmatched rendezvous sends here complete with `send_status`; its eager messages are
  // dropped. The first failure recorded for a source wins.
  void FailSource(int source, const Status& recv_status, const Status& send_status,
                  std::vector<Completion>* out) TIDAL_EXCLUDES(mu_);

  // Removes the unmatched rendezvous sends of `source` queued here, completing them with `why`.
  void RemoveSendsFrom(int source, const Status& why, std::vector<Completion>* out)
      TIDAL_EXCLUDES(mu_);

  // This rank died: later sends to it are refused with `died`, its unmatched receives complete
  // with `own_status`, senders of its unmatched rendezvous messages get `died`.
  void Kill(const Status& died, const Status& own_status, std::vector<Completion>* out)
      TIDAL_EXCLUDES(mu_);

 private:
  // Copies `message` into `recv` and emits the receive's (and a rendezvous send's) completion.
  void Match(Message& message, const PostedRecv& recv, std::vector<Completion>* out)
      TIDAL_REQUIRES(mu_);

  const int rank_;
  Mutex mu_;
  std::unordered_map<Tag, std::deque<Message>> unexpected_ TIDAL_GUARDED_BY(mu_);
  std::unordered_map<Tag, std::deque<PostedRecv>> posted_ TIDAL_GUARDED_BY(mu_);
  std::unordered_map<int, Status> failed_sources_ TIDAL_GUARDED_BY(mu_);
  Status dead_ TIDAL_GUARDED_BY(mu_);  // non-OK once this rank aborted
};

// The completions waiting for one rank's Progress(), and the rank's eventfd.
class CompletionQueue {
 public:
  // Creates the eventfd; aborts the process if the kernel refuses one.
  CompletionQueue();
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  // Queues a completion and wakes an armed owner. Any thread.
  void Push(Completion completion) TIDAL_EXCLUDES(mu_);
  // Moves every queued completion to the end of `out`. Owner thread.
  void TakeAll(std::vector<Completion>* out) TIDAL_EXCLUDES(mu_);
  // Replaces the status of every queued completion with `why` (the owner aborted).
  void OverrideAll(const Status& why) TIDAL_EXCLUDES(mu_);

  // Arm protocol (see Transport::Arm): drains the eventfd, then returns false if completions are
  // queued; otherwise the next Push makes the eventfd readable.
  bool Arm() TIDAL_EXCLUDES(mu_);
  void Signal();
  int event_fd() const { return event_fd_; }

 private:
  Mutex mu_;
  std::vector<Completion> items_ TIDAL_GUARDED_BY(mu_);
  std::atomic<bool> armed_{false};
  const int event_fd_;
};

// Pushes each completion to its owner's queue, `queue_of(owner)`, and clears `completions`.
// REQUIRES: no mailbox lock is held.
template <typename QueueOf>
void PushCompletions(std::vector<Completion>& completions, QueueOf&& queue_of) {
  for (Completion& c : completions) queue_of(c.owner).Push(std::move(c));
  completions.clear();
}

}  // namespace tidal::inproc

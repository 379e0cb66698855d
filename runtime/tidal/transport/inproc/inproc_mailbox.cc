#include "tidal/transport/inproc/inproc_mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "tidal/core/check.h"

namespace tidal::inproc {
namespace {

Completion MakeCompletion(int owner, Request* request, Status status, size_t bytes) {
  Completion c;
  c.owner = owner;
  c.request = request;
  c.status = std::move(status);
  c.bytes = bytes;
  return c;
}

// Removes from `queues` every entry for which `take(entry)` returns true, keeping the order of the
// rest, and drops queues left empty.
template <typename Map, typename Take>
void EraseIf(Map& queues, Take&& take) {
  for (auto it = queues.begin(); it != queues.end();) {
    auto& queue = it->second;
    for (auto entry = queue.begin(); entry != queue.end();) {
      entry = take(*entry) ? queue.erase(entry) : entry + 1;
    }
    it = queue.empty() ? queues.erase(it) : std::next(it);
  }
}

}  // namespace

std::string DescribeRequest(int owner, const Request& request) {
  const bool send = request.kind() == Request::Kind::kSend;
  return StrCat("rank ", owner, send ? " send to rank " : " recv from rank ", request.peer(), " ",
                ParseTag(request.tag()));
}

Status ForRequest(const Status& why, int owner, const Request& request) {
  return why.WithContext(DescribeRequest(owner, request));
}

bool Mailbox::Deliver(Message& message, std::vector<Completion>* out, Status* dead_status) {
  MutexLock lock(&mu_);
  if (!dead_.ok()) {
    *dead_status = dead_;
    return false;
  }
  auto posted = posted_.find(message.tag);
  if (posted == posted_.end()) {
    unexpected_[message.tag].push_back(std::move(message));
    return true;
  }
  const PostedRecv recv = posted->second.front();
  posted->second.pop_front();
  if (posted->second.empty()) posted_.erase(posted);
  Match(message, recv, out);
  return true;
}

void Mailbox::PostRecv(Tag tag, const PostedRecv& recv, std::vector<Completion>* out) {
  MutexLock lock(&mu_);
  auto failed = failed_sources_.find(static_cast<int>(TagSource(tag)));
  if (failed != failed_sources_.end()) {
    out->push_back(
        MakeCompletion(rank_, recv.request, ForRequest(failed->second, rank_, *recv.request), 0));
    return;
  }
  auto queued = unexpected_.find(tag);
  if (queued == unexpected_.end()) {
    posted_[tag].push_back(recv);
    return;
  }
  Message message = std::move(queued->second.front());
  queued->second.pop_front();
  if (queued->second.empty()) unexpected_.erase(queued);
  Match(message, recv, out);
}

void Mailbox::Match(Message& message, const PostedRecv& recv, std::vector<Completion>* out) {
  if (message.bytes > recv.capacity) {
    out->push_back(MakeCompletion(rank_, recv.request,
                                  IoError(DescribeRequest(rank_, *recv.request), ": message of ",
                                          message.bytes, " bytes truncated to ", recv.capacity),
                                  0));
  } else {
    if (message.bytes > 0) {
      const void* from = message.rendezvous ? message.send_data : message.payload.data();
      std::memcpy(recv.data, from, message.bytes);
    }
    out->push_back(MakeCompletion(rank_, recv.request, Status::Ok(), message.bytes));
  }
  // The sender learns nothing of the receiver's truncation, as with UCX's eager protocol.
  if (message.rendezvous) {
    out->push_back(
        MakeCompletion(message.source, message.send_request, Status::Ok(), message.bytes));
  }
}

bool Mailbox::CancelRecv(Request* request, std::vector<Completion>* out) {
  MutexLock lock(&mu_);
  auto queue = posted_.find(request->tag());
  if (queue == posted_.end()) return false;
  for (auto it = queue->second.begin(); it != queue->second.end(); ++it) {
    if (it->request != request) continue;
    queue->second.erase(it);
    if (queue->second.empty()) posted_.erase(queue);
    out->push_back(MakeCompletion(
        rank_, request, AbortedError(DescribeRequest(rank_, *request), ": cancelled"), 0));
    return true;
  }
  return false;
}

bool Mailbox::CancelSend(Request* request, std::vector<Completion>* out) {
  MutexLock lock(&mu_);
  auto queue = unexpected_.find(request->tag());
  if (queue == unexpected_.end()) return false;
  for (auto it = queue->second.begin(); it != queue->second.end(); ++it) {
    if (it->send_request != request) continue;
    const int source = it->source;
    queue->second.erase(it);
    if (queue->second.empty()) unexpected_.erase(queue);
    out->push_back(MakeCompletion(
        source, request, AbortedError(DescribeRequest(source, *request), ": cancelled"), 0));
    return true;
  }
  return false;
}

void Mailbox::FailSource(int source, const Status& recv_status, const Status& send_status,
                         std::vector<Completion>* out) {
  TIDAL_CHECK(!recv_status.ok() && !send_status.ok());
  MutexLock lock(&mu_);
  failed_sources_.try_emplace(source, recv_status);
  EraseIf(posted_, [&](const PostedRecv& recv) {
    if (static_cast<int>(TagSource(recv.request->tag())) != source) return false;
    out->push_back(
        MakeCompletion(rank_, recv.request, ForRequest(recv_status, rank_, *recv.request), 0));
    return true;
  });
  EraseIf(unexpected_, [&](const Message& message) {
    if (message.source != source) return false;
    if (message.rendezvous) {
      out->push_back(MakeCompletion(source, message.send_request,
                                    ForRequest(send_status, source, *message.send_request), 0));
    }
    return true;
  });
}

void Mailbox::RemoveSendsFrom(int source, const Status& why, std::vector<Completion>* out) {
  MutexLock lock(&mu_);
  EraseIf(unexpected_, [&](const Message& message) {
    if (message.source != source || !message.rendezvous) return false;
    out->push_back(MakeCompletion(source, message.send_request,
                                  ForRequest(why, source, *message.send_request), 0));
    return true;
  });
}

void Mailbox::Kill(const Status& died, const Status& own_status, std::vector<Completion>* out) {
  TIDAL_CHECK(!died.ok() && !own_status.ok());
  MutexLock lock(&mu_);
  if (dead_.ok()) dead_ = died;
  for (auto& [tag, queue] : posted_) {
    for (const PostedRecv& recv : queue) {
      out->push_back(
          MakeCompletion(rank_, recv.request, ForRequest(own_status, rank_, *recv.request), 0));
    }
  }
  posted_.clear();
  for (auto& [tag, queue] : unexpected_) {
    for (const Message& message : queue) {
      if (!message.rendezvous) continue;
      out->push_back(MakeCompletion(message.source, message.send_request,
                                    ForRequest(died, message.source, *message.send_request), 0));
    }
  }
  unexpected_.clear();
}

CompletionQueue::CompletionQueue() : event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  TIDAL_CHECK(event_fd_ >= 0) << "eventfd: " << std::strerror(errno);
}

CompletionQueue::~CompletionQueue() { ::close(event_fd_); }

void CompletionQueue::Push(Completion completion) {
  {
    MutexLock lock(&mu_);
    items_.push_back(std::move(completion));
  }
  if (armed_.exchange(false)) Signal();
}

void CompletionQueue::TakeAll(std::vector<Completion>* out) {
  MutexLock lock(&mu_);
  for (Completion& c : items_) out->push_back(std::move(c));
  items_.clear();
}

void CompletionQueue::OverrideAll(const Status& why) {
  MutexLock lock(&mu_);
  for (Completion& c : items_) {
    c.status = ForRequest(why, c.owner, *c.request);
    c.bytes = 0;
  }
}

bool CompletionQueue::Arm() {
  uint64_t count = 0;
  while (::read(event_fd_, &count, sizeof(count)) > 0) {
  }
  // Publish "armed" before looking at the queue; a Push that lands after the look sees it (the
  // queue's mutex orders the two), so a wake-up cannot be lost.
  armed_.store(true);
  MutexLock lock(&mu_);
  if (items_.empty()) return true;
  armed_.store(false);
  return false;
}

void CompletionQueue::Signal() {
  const uint64_t one = 1;
  // EAGAIN (counter saturated) still leaves the fd readable: nothing to do.
  [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof(one));
}

}  // namespace tidal::inproc

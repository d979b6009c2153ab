// Sealed memfds, and mapping a segment from any open descriptor. A domain segment is written by
// containers whose code is not trusted, so its size must be beyond their reach: a file that
// shrinks under a mapping makes every process touching the lost pages die of SIGBUS, and one that
// grows fills memory nobody accounted for. A memfd sealed against shrinking and growing
// (F_SEAL_SHRINK | F_SEAL_GROW, then F_SEAL_SEAL so no seal can be added or removed: what
// Chromium and Wayland do with memory shared by a less trusted process) keeps its size for its
// whole life, whoever holds it. Writing inside it and punching holes (which read back as zeros)
// stay possible: its contents are untrusted anyway.
#include "shm.h"

#include "errno_name.h"  // and <cerrno>
#include <algorithm>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U  // Linux 6.3: not executable, ever (glibc headers may predate it)
#endif

namespace faasflow {

namespace {
constexpr int kSizeSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
}

// memfdCreate(name, size) -> fd: a memfd of exactly `size` bytes whose size can never change.
// Close-on-exec: a child gets it only where the spawn passes it on purpose. Not executable where
// the kernel knows how (MFD_NOEXEC_SEAL; without it, 6.3+ kernels log a warning per process).
Napi::Value ShmAddon::MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  off_t size = 0;
  if (!ArgNameSize(info, &name, &size)) return env.Undefined();
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
  if (fd < 0 && errno == EINVAL) fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return Throw(env, errno, "memfd_create", name);
  const char* failed = nullptr;
  if (ftruncate(fd, size) != 0) failed = "ftruncate";
  else if (fcntl(fd, F_ADD_SEALS, kSizeSeals) != 0) failed = "fcntl(F_ADD_SEALS)";
  if (failed != nullptr) {
    int err = errno;
    close(fd);
    return Throw(env, err, failed, name);
  }
  return Napi::Number::New(env, fd);
}

// seals(fd) -> the F_SEAL_* bits of the file, or -1 when it cannot be sealed (not a memfd).
Napi::Value ShmAddon::Seals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ArgFd(info, "seals(fd)", &fd)) return env.Undefined();
  return Napi::Number::New(env, fcntl(fd, F_GET_SEALS));
}

// cloexec(fd): the descriptor is not passed on to programs this process executes.
Napi::Value ShmAddon::Cloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ArgFd(info, "cloexec(fd)", &fd)) return env.Undefined();
  const int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return Throw(env, errno, "fcntl(F_SETFD)", "descriptor " + std::to_string(fd));
  return env.Undefined();
}

// mapFd(fd, writable, name) -> as map(): the whole file behind `fd`, which stays the caller's.
Napi::Value ShmAddon::MapFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[2].IsString()) {
    Napi::TypeError::New(env, "mapFd(fd, writable, name)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int fd = info[0].As<Napi::Number>().Int32Value();
  return MapDescriptor(env, fd, info[1].ToBoolean().Value(), info[2].As<Napi::String>().Utf8Value());
}

Napi::Value ShmAddon::MapDescriptor(Napi::Env env, int fd, bool writable, const std::string& name) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Throw(env, errno, "fstat", name);
  if (st.st_size <= 0) return Throw(env, EINVAL, "mmap", name);
  const size_t size = static_cast<size_t>(st.st_size);
  // A read-only attach is a private copy-on-write mapping: JS hands out Uint8Arrays that
  // cannot be made read-only, and one store through a PROT_READ mapping is a SIGSEGV that
  // kills the process (`top`, `shm inspect`). Privately, a stray store lands in a page of this
  // process only: the segment and every other process are untouched, nothing faults.
  // Pages never written still read the live shared data. MAP_NORESERVE: no commit charge for
  // the whole size (the copies are never meant to happen). Where the kernel still refuses
  // (strict overcommit), the plain read-only shared mapping is used instead.
  void* base = MAP_FAILED;
  int err = 0;
  bool privateCopy = false;
  if (writable) {
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    err = errno;
  } else {
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    err = errno;
    privateCopy = base != MAP_FAILED;
    if (base == MAP_FAILED && err == ENOMEM) {
      base = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      err = errno;
    }
  }
  if (base == MAP_FAILED) return Throw(env, err, "mmap", name);

  Mapping m;
  m.base = base;
  m.size = size;
  Napi::Array views = Napi::Array::New(env);
  for (uint64_t off = 0, i = 0; off < size; off += kViewBytes, ++i) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(kViewBytes, size - off));
    // Released by unmap() or the cleanup hook, never by the garbage collector, and not counted
    // by V8 as external memory (mapping-view.cc).
    Napi::ArrayBuffer ab = MappingView(env, static_cast<char*>(base) + off, len);
    views.Set(static_cast<uint32_t>(i), ab);
    m.views.push_back(Napi::Persistent(ab));
  }
  size_t slot = mappings_.size();
  for (size_t i = 0; i < mappings_.size(); ++i) {
    if (mappings_[i].base == nullptr) { slot = i; break; }
  }
  if (slot == mappings_.size()) mappings_.emplace_back();
  mappings_[slot] = std::move(m);

  Napi::Object result = Napi::Object::New(env);
  result.Set("size", Napi::Number::New(env, static_cast<double>(size)));
  result.Set("views", views);
  result.Set("handle", Napi::Number::New(env, static_cast<double>(slot)));
  // Whether stores through the views are harmless (read-write, or a private read-only copy).
  result.Set("storesSafe", Napi::Boolean::New(env, writable || privateCopy));
  // Which file this is: a segment re-created under the same name is another inode.
  result.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  return result;
}

}  // namespace faasflow

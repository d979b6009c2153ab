// The segment addon's shared parts: the addon class (its methods are in shm.cc for /dev/shm files
// and in memfd.cc for sealed memfds and mapping any descriptor), a mapping and its JS views (made
// in mapping-view.cc).
#pragma once

#include <napi.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace faasflow {

// Each JS view covers at most 1 GiB: Node 20 aborts on an external ArrayBuffer over 4 GiB, and
// 1 GiB is a multiple of every (power-of-two) packet size class, so no packet straddles two views.
constexpr uint64_t kViewBytes = uint64_t{1} << 30;

struct Mapping {
  void* base = nullptr;
  size_t size = 0;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> views;
};

// An ArrayBuffer over `length` bytes at `data` that frees nothing and that V8 does not count as
// external memory (mapping-view.cc); the caller keeps the memory mapped while the view lives.
Napi::ArrayBuffer MappingView(Napi::Env env, void* data, size_t length);

class ShmAddon : public Napi::Addon<ShmAddon> {
 public:
  ShmAddon(Napi::Env env, Napi::Object exports);

 private:
  Napi::FunctionReference errorClass_;
  std::vector<Mapping> mappings_;

  // shm.cc
  Napi::Value Throw(Napi::Env env, int err, const char* syscall, const std::string& name);
  bool ArgName(const Napi::CallbackInfo& info, std::string* out);
  // (name, size) arguments: false, with a TypeError thrown, when they are not a string and a number.
  bool ArgNameSize(const Napi::CallbackInfo& info, std::string* name, off_t* size);
  // A descriptor as the first argument: false, with a TypeError naming `usage`, when it is none.
  bool ArgFd(const Napi::CallbackInfo& info, const char* usage, int* fd);
  Napi::Value SetErrorClass(const Napi::CallbackInfo& info);
  Napi::Value Create(const Napi::CallbackInfo& info);
  Napi::Value Map(const Napi::CallbackInfo& info);
  Napi::Value Unmap(const Napi::CallbackInfo& info);
  Napi::Value Unlink(const Napi::CallbackInfo& info);
  Napi::Value Stat(const Napi::CallbackInfo& info);
  Napi::Value Resident(const Napi::CallbackInfo& info);
  Napi::Value Statfs(const Napi::CallbackInfo& info);

  // memfd.cc
  Napi::Value MemfdCreate(const Napi::CallbackInfo& info);
  Napi::Value MapFd(const Napi::CallbackInfo& info);
  Napi::Value Seals(const Napi::CallbackInfo& info);
  Napi::Value Cloexec(const Napi::CallbackInfo& info);
  // Maps the whole of the open file `fd` (the caller closes it): what map() and mapFd() share.
  Napi::Value MapDescriptor(Napi::Env env, int fd, bool writable, const std::string& name);
};

}  // namespace faasflow

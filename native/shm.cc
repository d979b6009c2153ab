// The segment half of faasflow's C++: what Node cannot do by itself with shared memory (shm_open,
// mmap, munmap, statvfs, mincore, detaching the views when a mapping goes away). Sealed memfds and
// the mapping of any descriptor are memfd.cc's; the ArrayBuffers over a mapping are made in
// mapping-view.cc (with V8, see why there); a handler's per-packet views are view.cc's;
// process-level calls (affinity, process groups, socket pairs, polling) are sys.cc's. Validation,
// layout and friendly messages live in src/shm/. Errors are thrown as the JS ShmError class handed
// in by setErrorClass().
#include "shm.h"

#include "errno_name.h"  // and <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace faasflow {

ShmAddon::ShmAddon(Napi::Env env, Napi::Object exports) {
  DefineAddon(exports, {
    InstanceMethod("setErrorClass", &ShmAddon::SetErrorClass),
    InstanceMethod("create", &ShmAddon::Create),
    InstanceMethod("map", &ShmAddon::Map),
    InstanceMethod("unmap", &ShmAddon::Unmap),
    InstanceMethod("unlink", &ShmAddon::Unlink),
    InstanceMethod("stat", &ShmAddon::Stat),
    InstanceMethod("statfs", &ShmAddon::Statfs),
    InstanceMethod("resident", &ShmAddon::Resident),
    InstanceMethod("memfdCreate", &ShmAddon::MemfdCreate),
    InstanceMethod("mapFd", &ShmAddon::MapFd),
    InstanceMethod("seals", &ShmAddon::Seals),
    InstanceMethod("cloexec", &ShmAddon::Cloexec),
  });
  exports.Set("viewBytes", Napi::Number::New(env, static_cast<double>(kViewBytes)));
  // Mappings still open when the environment goes away (worker exit, process exit) are
  // released here, so a worker that forgets unmap() does not leak address space.
  env.AddCleanupHook([this]() {
    for (auto& m : mappings_) {
      if (m.base != nullptr) munmap(m.base, m.size);
      m.base = nullptr;
    }
  });
}

Napi::Value ShmAddon::Throw(Napi::Env env, int err, const char* syscall, const std::string& name) {
  std::string message = std::string(syscall) + " " + name + ": " + std::strerror(err);
  Napi::Object error;
  if (!errorClass_.IsEmpty()) {
    error = errorClass_.New({Napi::String::New(env, message), Napi::String::New(env, ErrnoName(err))});
  } else {
    error = Napi::Error::New(env, message).Value();
    error.Set("code", ErrnoName(err));
  }
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", syscall);
  error.Set("segment", name);
  Napi::Error(env, error).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ShmAddon::ArgName(const Napi::CallbackInfo& info, std::string* out) {
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(info.Env(), "segment name must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[0].As<Napi::String>().Utf8Value();
  return true;
}

bool ShmAddon::ArgNameSize(const Napi::CallbackInfo& info, std::string* name, off_t* size) {
  if (!ArgName(info, name)) return false;
  if (info.Length() < 2 || !info[1].IsNumber()) {
    Napi::TypeError::New(info.Env(), "size must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *size = static_cast<off_t>(info[1].As<Napi::Number>().DoubleValue());
  return true;
}

bool ShmAddon::ArgFd(const Napi::CallbackInfo& info, const char* usage, int* fd) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return false;
  }
  *fd = info[0].As<Napi::Number>().Int32Value();
  return true;
}

Napi::Value ShmAddon::SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), "error class must be a function").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  errorClass_ = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// create(name, size, mode = 0600, gid = -1, allocate = false): a new segment, O_EXCL so an
// existing one is never silently reused. The mode is set with fchmod (shm_open's is filtered by
// the umask) and the group with fchown, before the size: nobody can open the segment with wider
// rights than asked even for an instant. `allocate`: every page is allocated now
// (posix_fallocate), so a /dev/shm that fills up later can never leave a page of it unbacked
// (which tmpfs answers with SIGBUS in whoever touches it first); a full /dev/shm fails here.
Napi::Value ShmAddon::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  off_t size = 0;
  if (!ArgNameSize(info, &name, &size)) return env.Undefined();
  const mode_t mode = info.Length() > 2 && info[2].IsNumber() ? static_cast<mode_t>(info[2].As<Napi::Number>().Uint32Value() & 0777) : 0600;
  const int64_t gid = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : -1;
  const bool allocate = info.Length() > 4 && info[4].ToBoolean().Value();
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) return Throw(env, errno, "shm_open", name);
  const char* failed = nullptr;
  int err = 0;
  if (gid >= 0 && fchown(fd, static_cast<uid_t>(-1), static_cast<gid_t>(gid)) != 0) failed = "fchown";
  else if (fchmod(fd, mode) != 0) failed = "fchmod";
  else if (ftruncate(fd, size) != 0) failed = "ftruncate";
  if (failed != nullptr) err = errno;
  // posix_fallocate returns the error instead of setting errno.
  if (failed == nullptr && allocate && (err = posix_fallocate(fd, 0, size)) != 0) failed = "posix_fallocate";
  close(fd);
  if (failed != nullptr) {
    shm_unlink(name.c_str());
    return Throw(env, err, failed, name);
  }
  return env.Undefined();
}

// map(name, writable) -> { size, views: ArrayBuffer[], handle, storesSafe, ino }
Napi::Value ShmAddon::Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!ArgName(info, &name)) return env.Undefined();
  const bool writable = info.Length() > 1 && info[1].ToBoolean().Value();
  int fd = shm_open(name.c_str(), writable ? O_RDWR : O_RDONLY, 0);
  if (fd < 0) return Throw(env, errno, "shm_open", name);
  Napi::Value result = MapDescriptor(env, fd, writable, name);
  close(fd);
  return result;
}

// unmap(handle): detaches every view first, so a stale JS reference reads zero bytes instead
// of faulting on unmapped memory.
Napi::Value ShmAddon::Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "handle must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int64_t slot = info[0].As<Napi::Number>().Int64Value();
  if (slot < 0 || static_cast<size_t>(slot) >= mappings_.size() || mappings_[slot].base == nullptr) {
    return Napi::Boolean::New(env, false);
  }
  Mapping& m = mappings_[slot];
  for (auto& ref : m.views) {
    if (!ref.IsEmpty()) {
      Napi::ArrayBuffer ab = ref.Value();
      if (!ab.IsDetached()) ab.Detach();
    }
  }
  m.views.clear();
  munmap(m.base, m.size);
  m.base = nullptr;
  m.size = 0;
  return Napi::Boolean::New(env, true);
}

Napi::Value ShmAddon::Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!ArgName(info, &name)) return env.Undefined();
  if (shm_unlink(name.c_str()) != 0) return Throw(env, errno, "shm_unlink", name);
  return env.Undefined();
}

// stat(name) -> { size, touched, mode, uid, mtimeMs }; touched is what tmpfs really holds.
Napi::Value ShmAddon::Stat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!ArgName(info, &name)) return env.Undefined();
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return Throw(env, errno, "shm_open", name);
  struct stat st;
  int rc = fstat(fd, &st);
  int err = errno;
  close(fd);
  if (rc != 0) return Throw(env, err, "fstat", name);
  Napi::Object out = Napi::Object::New(env);
  out.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  out.Set("touched", Napi::Number::New(env, static_cast<double>(st.st_blocks) * 512.0));
  out.Set("mode", Napi::Number::New(env, st.st_mode & 07777));
  out.Set("uid", Napi::Number::New(env, st.st_uid));
  out.Set("mtimeMs", Napi::Number::New(env, st.st_mtim.tv_sec * 1e3 + st.st_mtim.tv_nsec / 1e6));
  return out;
}

// resident(handle, offset, length) -> bytes of that range backed by memory (mincore), so pool
// usage can say which classes really cost RAM.
Napi::Value ShmAddon::Resident(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "resident(handle, offset, length)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int64_t slot = info[0].As<Napi::Number>().Int64Value();
  if (slot < 0 || static_cast<size_t>(slot) >= mappings_.size() || mappings_[slot].base == nullptr) {
    return Napi::Number::New(env, 0);
  }
  const Mapping& m = mappings_[slot];
  const long page = sysconf(_SC_PAGESIZE);
  uint64_t off = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  uint64_t len = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  off -= off % page;
  if (off >= m.size) return Napi::Number::New(env, 0);
  if (off + len > m.size) len = m.size - off;
  const size_t pages = (len + page - 1) / page;
  std::vector<unsigned char> vec(pages);
  if (mincore(static_cast<char*>(m.base) + off, len, vec.data()) != 0) return Throw(env, errno, "mincore", "segment");
  double resident = 0;
  for (unsigned char v : vec) resident += (v & 1);
  return Napi::Number::New(env, resident * page);
}

// statfs(path) -> { total, free, available } in bytes, for the /dev/shm capacity checks.
Napi::Value ShmAddon::Statfs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ArgName(info, &path)) return env.Undefined();
  struct statvfs sv;
  if (statvfs(path.c_str(), &sv) != 0) return Throw(env, errno, "statvfs", path);
  Napi::Object out = Napi::Object::New(env);
  const double frsize = static_cast<double>(sv.f_frsize);
  out.Set("total", Napi::Number::New(env, frsize * static_cast<double>(sv.f_blocks)));
  out.Set("free", Napi::Number::New(env, frsize * static_cast<double>(sv.f_bfree)));
  out.Set("available", Napi::Number::New(env, frsize * static_cast<double>(sv.f_bavail)));
  return out;
}

}  // namespace faasflow

using faasflow::ShmAddon;
NODE_API_ADDON(ShmAddon)

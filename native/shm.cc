// The segment half of faasflow's C++: what Node cannot do by itself with shared memory (shm_open,
// mmap, munmap, statvfs, mincore, detaching the views when a mapping goes away). A handler's
// per-packet views are view.cc's; process-level calls (affinity, process groups, socket pairs,
// polling) are sys.cc's. Validation, layout and friendly messages live in src/shm/. Errors are
// thrown as the JS ShmError class handed in by setErrorClass().
#include <napi.h>

#include "errno_name.h"  // and <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <vector>

namespace {
// Each JS view covers at most 1 GiB: Node 20 aborts on an external ArrayBuffer over 4 GiB, and
// 1 GiB is a multiple of every (power-of-two) packet size class, so no packet straddles two views.
constexpr uint64_t kViewBytes = uint64_t{1} << 30;

struct Mapping {
  void* base = nullptr;
  size_t size = 0;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> views;
};

class ShmAddon : public Napi::Addon<ShmAddon> {
 public:
  ShmAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
      InstanceMethod("setErrorClass", &ShmAddon::SetErrorClass),
      InstanceMethod("create", &ShmAddon::Create),
      InstanceMethod("map", &ShmAddon::Map),
      InstanceMethod("unmap", &ShmAddon::Unmap),
      InstanceMethod("unlink", &ShmAddon::Unlink),
      InstanceMethod("stat", &ShmAddon::Stat),
      InstanceMethod("statfs", &ShmAddon::Statfs),
      InstanceMethod("resident", &ShmAddon::Resident),
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

 private:
  Napi::FunctionReference errorClass_;
  std::vector<Mapping> mappings_;

  Napi::Value Throw(Napi::Env env, int err, const char* syscall, const std::string& name) {
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

  bool ArgName(const Napi::CallbackInfo& info, std::string* out) {
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(info.Env(), "segment name must be a string").ThrowAsJavaScriptException();
      return false;
    }
    *out = info[0].As<Napi::String>().Utf8Value();
    return true;
  }

  Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(info.Env(), "error class must be a function").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    errorClass_ = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }

  // create(name, size, mode = 0600, gid = -1): a new segment, O_EXCL so an existing one is never
  // silently reused. The mode is set with fchmod (shm_open's is filtered by the umask) and the
  // group with fchown, before the size: nobody can open the segment with wider rights than asked
  // even for an instant.
  Napi::Value Create(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name;
    if (!ArgName(info, &name)) return env.Undefined();
    if (info.Length() < 2 || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "size must be a number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const double size = info[1].As<Napi::Number>().DoubleValue();
    const mode_t mode = info.Length() > 2 && info[2].IsNumber() ? static_cast<mode_t>(info[2].As<Napi::Number>().Uint32Value() & 0777) : 0600;
    const int64_t gid = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : -1;
    int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) return Throw(env, errno, "shm_open", name);
    const char* failed = nullptr;
    if (gid >= 0 && fchown(fd, static_cast<uid_t>(-1), static_cast<gid_t>(gid)) != 0) failed = "fchown";
    else if (fchmod(fd, mode) != 0) failed = "fchmod";
    if (failed != nullptr) {
      int err = errno;
      close(fd);
      shm_unlink(name.c_str());
      return Throw(env, err, failed, name);
    }
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      int err = errno;
      close(fd);
      shm_unlink(name.c_str());
      return Throw(env, err, "ftruncate", name);
    }
    close(fd);
    return env.Undefined();
  }

  // map(name, writable) -> { size, views: ArrayBuffer[], handle, storesSafe }
  Napi::Value Map(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name;
    if (!ArgName(info, &name)) return env.Undefined();
    const bool writable = info.Length() > 1 && info[1].ToBoolean().Value();
    int fd = shm_open(name.c_str(), writable ? O_RDWR : O_RDONLY, 0);
    if (fd < 0) return Throw(env, errno, "shm_open", name);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      return Throw(env, err, "fstat", name);
    }
    if (st.st_size <= 0) {
      close(fd);
      return Throw(env, EINVAL, "mmap", name);
    }
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
    close(fd);
    if (base == MAP_FAILED) return Throw(env, err, "mmap", name);

    Mapping m;
    m.base = base;
    m.size = size;
    Napi::Array views = Napi::Array::New(env);
    for (uint64_t off = 0, i = 0; off < size; off += kViewBytes, ++i) {
      const size_t len = static_cast<size_t>(std::min<uint64_t>(kViewBytes, size - off));
      // No finalizer work: the memory belongs to the mapping and is released by unmap() or the
      // cleanup hook, never by the garbage collector.
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, static_cast<char*>(base) + off, len,
                                                    [](Napi::Env, void*) {});
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
    return result;
  }

  // unmap(handle): detaches every view first, so a stale JS reference reads zero bytes instead
  // of faulting on unmapped memory.
  Napi::Value Unmap(const Napi::CallbackInfo& info) {
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

  Napi::Value Unlink(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name;
    if (!ArgName(info, &name)) return env.Undefined();
    if (shm_unlink(name.c_str()) != 0) return Throw(env, errno, "shm_unlink", name);
    return env.Undefined();
  }

  // stat(name) -> { size, touched, mode, uid, mtimeMs }; touched is what tmpfs really holds.
  Napi::Value Stat(const Napi::CallbackInfo& info) {
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
  Napi::Value Resident(const Napi::CallbackInfo& info) {
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
  Napi::Value Statfs(const Napi::CallbackInfo& info) {
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
};

}  // namespace

NODE_API_ADDON(ShmAddon)

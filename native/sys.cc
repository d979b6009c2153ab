// The process half of faasflow's C++: what Node has no API for. CPU affinity, a process group
// inside the current session, connected socket pairs for the links between gateways and
// containers, polling a socket for a reply without sleeping, the kernel's Landlock ABI (for
// saying which isolation this machine can give), and giving a segment's pages back. Segments are in shm.cc.
#include <napi.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif

namespace {

class SysAddon : public Napi::Addon<SysAddon> {
 public:
  SysAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
      InstanceMethod("spinRecv", &SysAddon::SpinRecv),
      InstanceMethod("setAffinity", &SysAddon::SetAffinity),
      InstanceMethod("ownProcessGroup", &SysAddon::OwnProcessGroup),
      InstanceMethod("socketPair", &SysAddon::SocketPair),
      InstanceMethod("closeFd", &SysAddon::CloseFd),
      InstanceMethod("landlockAbi", &SysAddon::LandlockAbi),
      InstanceMethod("listenTcp", &SysAddon::ListenTcp),
      InstanceMethod("peerCred", &SysAddon::PeerCred),
      InstanceMethod("releasePages", &SysAddon::ReleasePages),
    });
  }

 private:
  static int64_t NowNs(clockid_t clock = CLOCK_MONOTONIC) {
    timespec ts;
    clock_gettime(clock, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }

  // Errors carry the errno name as `code`, like Node's own system errors.
  static Napi::Value Throw(Napi::Env env, int err, const char* syscall) {
    Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + std::strerror(err));
    e.Set("code", err == EPERM ? "EPERM" : err == EINVAL ? "EINVAL" : err == EMFILE ? "EMFILE" : err == ENFILE ? "ENFILE" : err == EBADF ? "EBADF" : "EIO");
    e.Set("errno", Napi::Number::New(env, err));
    e.Set("syscall", syscall);
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // releasePages(view, offset, length): gives the pages of [offset, offset + length) of a shared
  // mapping's view back to its file (madvise MADV_REMOVE: a hole, as fallocate's punch-hole makes);
  // the next write there faults in a zero page. Whole pages only. The caller owns the range.
  Napi::Value ReleasePages(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsArrayBuffer() || !info[1].IsNumber() || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "releasePages(view: ArrayBuffer, offset: number, length: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::ArrayBuffer view = info[0].As<Napi::ArrayBuffer>();
    const double off = info[1].As<Napi::Number>().DoubleValue();
    const double len = info[2].As<Napi::Number>().DoubleValue();
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    if (!(off >= 0 && len > 0 && off + len <= static_cast<double>(view.ByteLength())) || off != static_cast<double>(static_cast<uint64_t>(off / page)) * page || len != static_cast<double>(static_cast<uint64_t>(len / page)) * page) {
      Napi::RangeError::New(env, "releasePages: the range must be whole pages inside the view").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (madvise(static_cast<char*>(view.Data()) + static_cast<size_t>(off), static_cast<size_t>(len), MADV_REMOVE) != 0) return Throw(env, errno, "madvise");
    return env.Undefined();
  }

  // setAffinity(cpus): pins the calling process to those CPUs (Node has no API for it).
  Napi::Value SetAffinity(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) {
      Napi::TypeError::New(env, "setAffinity(cpus: number[])").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array cpus = info[0].As<Napi::Array>();
    cpu_set_t set;
    CPU_ZERO(&set);
    for (uint32_t i = 0; i < cpus.Length(); ++i) {
      Napi::Value v = cpus.Get(i);
      const int cpu = v.IsNumber() ? v.As<Napi::Number>().Int32Value() : -1;
      if (cpu < 0 || cpu >= CPU_SETSIZE) {
        Napi::RangeError::New(env, "CPU numbers must be 0.." + std::to_string(CPU_SETSIZE - 1)).ThrowAsJavaScriptException();
        return env.Undefined();
      }
      CPU_SET(cpu, &set);
    }
    if (sched_setaffinity(0, sizeof(set), &set) != 0) return Throw(env, errno, "sched_setaffinity");
    return env.Undefined();
  }

  // ownProcessGroup() -> pgid: makes the calling process the leader of a new process group in its
  // current session (Node only offers setsid, through spawn's `detached`). A new session would
  // also put the process in its own scheduler autogroup, where sched_yield no longer lets its peers
  // on the same CPU run: measured 25-30 us more per small request. A group is all that is needed
  // to kill what a handler starts along with its container.
  Napi::Value OwnProcessGroup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (setpgid(0, 0) != 0) return Throw(env, errno, "setpgid");
    return Napi::Number::New(env, static_cast<double>(getpgrp()));
  }

  // spinRecv(fd, buffer, micros, cpuOut?) -> bytes read (> 0); 0 when nothing came within `micros`;
  // -1 at end of stream (left unread for the event loop to see); -errno on a socket error. With
  // cpuOut (a Float64Array), cpuOut[0] gets the CPU time the poll used, in us: less than its wall
  // time whenever the yields let other work run. Polls a
  // non-blocking socket without sleeping: a process asleep in epoll costs a cross-CPU wake-up
  // (~20 us on a VM) per message, which is most of a small request's latency. The caller bounds
  // how often and how long it spins (spin.ts).
  Napi::Value SpinRecv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "spinRecv(fd: number, buffer: Uint8Array, micros: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
    const int64_t deadline = NowNs() + static_cast<int64_t>(info[2].As<Napi::Number>().DoubleValue() * 1000.0);
    double* cpuOut = nullptr;
    if (info.Length() > 3 && info[3].IsTypedArray() && info[3].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
      Napi::Float64Array out = info[3].As<Napi::Float64Array>();
      if (out.ElementLength() > 0) cpuOut = out.Data();
    }
    const int64_t cpu0 = cpuOut != nullptr ? NowNs(CLOCK_THREAD_CPUTIME_ID) : 0;
    ssize_t result = 0;
    for (;;) {
      const ssize_t n = recv(fd, buf.Data(), buf.ByteLength(), MSG_DONTWAIT);
      if (n > 0) {
        result = n;
        break;
      }
      if (n == 0) {
        result = -1;
        break;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        result = -errno;
        break;
      }
      if (NowNs() >= deadline) break;
      // The peer this process waits for may be runnable on this very CPU (the scheduler put both
      // here): without a yield, it would wait out the whole spin. With nothing else runnable
      // here, sched_yield returns at once.
      sched_yield();
    }
    if (cpuOut != nullptr) *cpuOut = static_cast<double>(NowNs(CLOCK_THREAD_CPUTIME_ID) - cpu0) / 1000.0;
    return Napi::Number::New(env, static_cast<double>(result));
  }

  // socketPair() -> [fd, fd]: a connected pair of Unix stream sockets, close-on-exec. The supervisor
  // gives one end to a gateway and the other to a container: the link exists only between the two
  // processes it was made for, so there is no socket a third process could connect to.
  Napi::Value SocketPair(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return Throw(env, errno, "socketpair");
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(uint32_t{0}, Napi::Number::New(env, fds[0]));
    out.Set(uint32_t{1}, Napi::Number::New(env, fds[1]));
    return out;
  }

  // closeFd(fd): for a socket-pair end that was handed to another process and is not ours to use.
  Napi::Value CloseFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "closeFd(fd: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (close(info[0].As<Napi::Number>().Int32Value()) != 0) return Throw(env, errno, "close");
    return env.Undefined();
  }

  // listenTcp(host, port, backlog, reusePort) -> fd: a listening TCP socket for server.listen({ fd }).
  // Node 20 has no reusePort option: with SO_REUSEPORT each gateway process has its own socket on
  // the same port and its own accept queue, and the kernel spreads new connections over them, so a
  // gateway that dies takes only its own connections with it; the others keep answering. Only
  // sockets of the same user can join a port's group. Errors carry Node's codes (EADDRINUSE,
  // EACCES, EADDRNOTAVAIL) so the caller can say what to do.
  Napi::Value ListenTcp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "listenTcp(host: string, port: number, backlog: number, reusePort: boolean)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const std::string host = info[0].As<Napi::String>().Utf8Value();
    const std::string port = std::to_string(info[1].As<Napi::Number>().Int32Value());
    const int backlog = info[2].As<Napi::Number>().Int32Value();
    const bool reuse = info[3].ToBoolean().Value();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
    if (gai != 0) {
      Napi::Error e = Napi::Error::New(env, std::string("getaddrinfo ") + host + ": " + gai_strerror(gai));
      e.Set("code", "EADDRNOTAVAIL");
      e.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int fd = -1;
    int err = 0;
    const char* failed = "socket";
    for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
      fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
      if (fd < 0) {
        err = errno;
        continue;
      }
      const int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        err = errno;
        failed = "setsockopt(SO_REUSEPORT)";
      } else if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
        err = errno;
        failed = "bind";
      } else if (listen(fd, backlog) != 0) {
        err = errno;
        failed = "listen";
      } else {
        break;
      }
      close(fd);
      fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
      Napi::Error e = Napi::Error::New(env, std::string(failed) + " " + host + ":" + port + ": " + std::strerror(err));
      e.Set("code", err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "EIO");
      e.Set("errno", Napi::Number::New(env, err));
      e.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, fd);
  }

  // peerCred(fd) -> { pid, uid, gid } of the process at the other end of a Unix socket, as the
  // kernel recorded it when the connection was made (SO_PEERCRED): who is asking, not who it says.
  Napi::Value PeerCred(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "peerCred(fd: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(info[0].As<Napi::Number>().Int32Value(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return Throw(env, errno, "getsockopt(SO_PEERCRED)");
    Napi::Object out = Napi::Object::New(env);
    out.Set("pid", Napi::Number::New(env, cred.pid));
    out.Set("uid", Napi::Number::New(env, cred.uid));
    out.Set("gid", Napi::Number::New(env, cred.gid));
    return out;
  }

  // landlockAbi() -> the kernel's Landlock ABI version, 0 when it has none (or it is disabled).
  Napi::Value LandlockAbi(const Napi::CallbackInfo& info) {
    const long abi = syscall(__NR_landlock_create_ruleset, nullptr, 0, 1U);
    return Napi::Number::New(info.Env(), abi > 0 ? static_cast<double>(abi) : 0);
  }
};

}  // namespace

NODE_API_ADDON(SysAddon)

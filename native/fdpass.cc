// Handing descriptors (a container's links to the gateways) from the supervisor to a container.
// Node passes descriptors only over its own IPC channel, which containers no longer have: its
// parser runs inside the supervisor, unbounded, and throws on a handler's bytes. So each container
// gets a SOCK_SEQPACKET pair used one way only: the supervisor sends one descriptor per record (with
// a 32-bit tag that the `link` message on the message channel repeats), and its own end is shut
// for reading, so the container cannot even queue a byte there. The supervisor never reads it.
#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

const char* ErrnoCode(int err) {
  switch (err) {
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ETOOMANYREFS: return "ETOOMANYREFS";
    case ECONNRESET: return "ECONNRESET";
    case EINVAL: return "EINVAL";
    default: return "EIO";
  }
}

Napi::Value Throw(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + std::strerror(err));
  e.Set("code", ErrnoCode(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", syscall);
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool Ints(const Napi::CallbackInfo& info, size_t n, const char* usage) {
  for (size_t i = 0; i < n; ++i) {
    if (info.Length() <= i || !info[i].IsNumber()) {
      Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

// fdChannel() -> [supervisor's end, container's end]: both close-on-exec (spawn puts the
// container's at its place in the stdio list); the supervisor's is shut for reading.
Napi::Value FdChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return Throw(env, errno, "socketpair");
  if (shutdown(fds[0], SHUT_RD) != 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return Throw(env, err, "shutdown");
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(uint32_t{0}, Napi::Number::New(env, fds[0]));
  out.Set(uint32_t{1}, Napi::Number::New(env, fds[1]));
  return out;
}

// sendFd(socket, fd, tag) -> 0 when sent, else the errno: EAGAIN (the container has not taken the
// ones queued before: 512 by default), EPIPE (it is gone). Never blocks.
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ints(info, 3, "sendFd(socket: number, fd: number, tag: number)")) return env.Undefined();
  const int sock = info[0].As<Napi::Number>().Int32Value();
  const int fd = info[1].As<Napi::Number>().Int32Value();
  uint32_t tag = info[2].As<Napi::Number>().Uint32Value();
  iovec iov{&tag, sizeof tag};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? errno : 0);
}

// recvFd(socket) -> { fd, tag }, or null when nothing is queued. The descriptor comes
// close-on-exec. fd is -1 when a record came without one (this process was at its descriptor
// limit: the kernel drops it); any further descriptors in a record are closed.
Napi::Value RecvFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ints(info, 1, "recvFd(socket: number)")) return env.Undefined();
  const int sock = info[0].As<Napi::Number>().Int32Value();
  uint32_t tag = 0;
  iovec iov{&tag, sizeof tag};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return env.Null();
  if (n < 0) return Throw(env, errno, "recvmsg");
  int fd = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (fd < 0) fd = got;
      else close(got);
    }
  }
  if (n != static_cast<ssize_t>(sizeof tag)) tag = 0;
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("tag", Napi::Number::New(env, tag));
  return out;
}

// setCloexec(fd): for the channel descriptors a container inherits at its stdio places (spawn
// clears the flag there), so what its handler starts does not inherit them too.
Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Ints(info, 1, "setCloexec(fd: number)")) return env.Undefined();
  const int fd = info[0].As<Napi::Number>().Int32Value();
  const int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return Throw(env, errno, "fcntl");
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("fdChannel", Napi::Function::New(env, FdChannel, "fdChannel"));
  exports.Set("sendFd", Napi::Function::New(env, SendFd, "sendFd"));
  exports.Set("recvFd", Napi::Function::New(env, RecvFd, "recvFd"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  return exports;
}

}  // namespace

NODE_API_MODULE(faasflow_fdpass, Init)

/*
 * ffrate: an open-loop (fixed-rate) HTTP/1.1 load client for the faasflow benchmark.
 *
 * Why. wrk is closed-loop: a connection sends its next request when the previous answer arrived.
 * When the server stalls for 300 ms, wrk stops sending for 300 ms too and records the one or two
 * stalled requests, not the hundreds that users arriving at the offered rate would have sent
 * meanwhile; its percentiles describe the server at the load the server chose to tolerate. This is
 * "coordinated omission" (Gil Tene; wrk2 and HdrHistogram correct it).
 * How. Request i is intended at t0 + i/R (CLOCK_MONOTONIC) whatever the server does, and goes out
 * on an idle keep-alive connection or waits in a FIFO queue (the index range [sent_i, due_i)) for
 * the first one to free up. Latency runs from the intended time to the answer's last byte, so a
 * stall is charged to every request scheduled during it. A timerfd armed at the next absolute
 * deadline (next send, or the 10 ms tick that expires timeouts and retries connects) wakes a
 * blocking epoll_wait: no busy-wait, no ms rounding. Every latency is kept (uint32 µs) and sorted:
 * exact nearest-rank percentiles, as in the harness's summary.ts.
 * Counting. All but errors covers requests intended after --warmup; errors (failed connects,
 * resets, a close with a request outstanding, malformed answers) the whole run. A request lost to
 * an error is not retried. achieved: 2xx answers per measured second; seconds: from the end of
 * warmup to the last measured answer (at least --duration). Build: cc -O2 -Wall -Wextra ... -lm
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define NS 1000000000ULL
#define TICK_NS 10000000ULL
#define RBUF 65536 /* per connection: bodies are skipped as they arrive, only a header block must fit */
#define USAGE "\nusage: ffrate --url http://HOST[:PORT]/PATH --body FILE --rate R --connections C --duration S [--warmup S] [--timeout S]"
#define DIE(code, ...) (fprintf(stderr, "ffrate: " __VA_ARGS__), fputc('\n', stderr), exit(code))
#define BAD_URL(why) DIE(2, "bad --url \"%s\": %s", url_arg, why)
enum { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };
enum { P_HEAD, P_BODY, P_CSIZE, P_CDATA, P_TRAILER, P_EOF }; /* what the parser expects next */
struct conn {
  int fd, state, ps, status, close_after, fails, has_req;
  uint32_t gen; /* bumped on close: events of a previous socket in the same epoll batch are ignored */
  uint64_t retry_at, intended, deadline, remaining;
  size_t woff, rlen; char *rbuf;
};
static const char *url_arg, *body_arg;
static char host[256], port[8] = "80", path_part[4096], *req; /* req: head and body, written by every connection */
static double rate, duration, warmup, timeout_s = 10;
static struct addrinfo *addr; static struct conn *conns;
static long nconn, idle_count, inflight;
static int ep, tfd, scheduling_done, last_errno;
static size_t req_len, lat_n, lat_cap;
static uint64_t t0, t_measure, t_end, timeout_ns, due_i, sent_i, armed, last_answer;
static unsigned long long n_intended, n_answered, n_non2xx, n_errors, n_timeouts;
static uint32_t *lat; /* every measured latency, µs */
static uint64_t now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * NS + (uint64_t)t.tv_nsec; }
static uint64_t intended_at(uint64_t i) { return t0 + (uint64_t)((double)i * 1e9 / rate); }
static int measured(uint64_t intended) { return intended >= t_measure; }
static int work_left(void) { return !(scheduling_done && sent_i == due_i); }
static double num_arg(const char *name, const char *v, int positive, int integer) {
  char *end; double d = strtod(v, &end);
  if (end == v || *end || !isfinite(d) || d < 0 || (positive && d == 0) || (integer && d != floor(d)))
    DIE(2, "%s: cannot use \"%s\", it takes a%s %s", name, v, integer ? "n integer" : " number", positive ? "above 0" : "of 0 or more");
  return d;
}
static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!v) DIE(2, "%s needs a value" USAGE, a);
    if (!strcmp(a, "--url")) url_arg = v;
    else if (!strcmp(a, "--body")) body_arg = v;
    else if (!strcmp(a, "--rate")) rate = num_arg(a, v, 1, 0);
    else if (!strcmp(a, "--connections")) nconn = (long)fmin(num_arg(a, v, 1, 1), 1e6);
    else if (!strcmp(a, "--duration")) duration = num_arg(a, v, 1, 0);
    else if (!strcmp(a, "--warmup")) warmup = num_arg(a, v, 0, 0);
    else if (!strcmp(a, "--timeout")) timeout_s = num_arg(a, v, 1, 0);
    else DIE(2, "unknown argument \"%s\"" USAGE, a);
  }
  const char *missing = !url_arg ? "--url" : !body_arg ? "--body" : !rate ? "--rate" : !nconn ? "--connections" : !duration ? "--duration" : 0;
  if (missing) DIE(2, "missing %s" USAGE, missing);
}
/* http://host[:port][/path]; https is refused rather than spoken badly. */
static void parse_url(void) {
  const char *u = url_arg + 7; int n = 0;
  if (strncasecmp(url_arg, "http://", 7)) BAD_URL("only http://HOST[:PORT]/PATH is supported");
  if (sscanf(u, "%255[^:/?#@]%n", host, &n) != 1 || u[n] == '@') BAD_URL("no host");
  if (*(u += n) == ':' && (sscanf(++u, "%5[0-9]%n", port, &n) != 1 || !strchr("/?#", u[n]) || atoi(port) < 1 || atoi(port) > 65535))
    BAD_URL("bad port");
  if (u[-1] == ':') u += n;
  if ((size_t)snprintf(path_part, sizeof path_part, "%s%.*s", *u == '/' ? "" : "/", (int)strcspn(u, "#"), u) >= sizeof path_part)
    BAD_URL("path too long");
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  if ((n = getaddrinfo(host, port, &hints, &addr))) DIE(2, "bad --url \"%s\": cannot resolve %s: %s", url_arg, host, gai_strerror(n));
}
static void build_request(void) {
  FILE *f = fopen(body_arg, "rb"); struct stat st;
  if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode))
    DIE(2, "cannot read --body %s: %s", body_arg, f ? "not a regular file" : strerror(errno));
  size_t blen = (size_t)st.st_size;
  int hl = asprintf(&req, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
                    path_part, host, port, blen);
  if (hl < 0 || !(req = realloc(req, (req_len = (size_t)hl + blen) + 1))) DIE(2, "out of memory for a %zu-byte body", blen);
  if (blen && fread(req + hl, 1, blen, f) != blen) DIE(2, "cannot read --body %s: short read", body_arg);
  fclose(f);
}
static void set_idle(struct conn *c) { c->state = C_IDLE, c->fails = 0, idle_count++; }
static void conn_open(struct conn *c, uint64_t now, int block);
/* A request still on the socket is lost (the caller counts it). A clean close reopens at once; after a failure the
 * retry waits for a tick, longer while the target keeps refusing, so a dead server does not make this spin. */
static void conn_close(struct conn *c, uint64_t now, int failed) {
  if (c->state == C_CLOSED) return;
  idle_count -= c->state == C_IDLE, inflight -= c->has_req;
  close(c->fd), c->fd = -1, c->gen++, c->state = C_CLOSED, c->rlen = 0, c->ps = P_HEAD, c->has_req = 0, c->fails = failed ? c->fails + 1 : 0;
  c->retry_at = now + TICK_NS * (uint64_t)(c->fails < 50 ? c->fails : 50);
  if (!failed && work_left()) conn_open(c, now, 0);
}
static void fail(struct conn *c, uint64_t now, int err) { n_errors++, last_errno = err, conn_close(c, now, 1); }
/* block: before the clock starts, a blocking connect bounded by --timeout (SO_SNDTIMEO). Epoll is
 * edge-triggered for both directions and set once: reads drain to EAGAIN, writes resume on EPOLLOUT. */
static void conn_open(struct conn *c, uint64_t now, int block) {
  int one = 1, rc, err;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u64 = ((uint64_t)c->gen << 32) | (uint64_t)(c - conns + 1)};
  struct timeval tv = {.tv_sec = (time_t)timeout_s, .tv_usec = (long)(fmod(timeout_s, 1) * 1e6)};
  if ((c->fd = socket(addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (block ? 0 : SOCK_NONBLOCK), 0)) < 0) DIE(1, "socket: %s", strerror(errno));
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  c->state = C_CONNECTING, rc = connect(c->fd, addr->ai_addr, addr->ai_addrlen), err = errno;
  if ((rc == 0 || (err == EINPROGRESS && !block)) && (fcntl(c->fd, F_SETFL, O_NONBLOCK) || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)))
    DIE(1, "epoll_ctl: %s", strerror(errno));
  if (rc == 0) set_idle(c);
  else if (err != EINPROGRESS || block) fail(c, now, err == EINPROGRESS ? ETIMEDOUT : err);
}
/* Writes what the socket takes; the rest goes out on the next EPOLLOUT. */
static void conn_write(struct conn *c, uint64_t now) {
  for (ssize_t n; c->woff < req_len;)
    if ((n = send(c->fd, req + c->woff, req_len - c->woff, MSG_NOSIGNAL)) > 0) c->woff += (size_t)n;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    else if (n >= 0 || errno != EINTR) { fail(c, now, n < 0 ? errno : EPIPE); return; }
}
/* The queue's head goes to the next idle connection, round robin so that every one stays warm. */
static void dispatch(uint64_t now) {
  static long rr;
  for (struct conn *c = NULL; sent_i < due_i && idle_count > 0; c = NULL) {
    for (long k = 0; k < nconn && !c; k++, rr = (rr + 1) % nconn) c = conns[rr].state == C_IDLE ? &conns[rr] : NULL;
    if (!c) return;
    idle_count--, inflight++;
    c->state = C_BUSY, c->has_req = 1, c->woff = 0, c->intended = intended_at(sent_i++), c->deadline = now + timeout_ns;
    conn_write(c, now);
  }
}
/* Back to idle, or reopened when the server asked to close or answered before it had the whole body. 0: closed. */
static int complete(struct conn *c, uint64_t now) {
  if (measured(c->intended)) {
    n_answered++, n_non2xx += c->status < 200 || c->status > 299, last_answer = now;
    if (lat_n == lat_cap && !(lat = realloc(lat, (lat_cap = lat_cap ? lat_cap * 2 : 65536) * sizeof *lat))) DIE(1, "out of memory");
    uint64_t us = now > c->intended ? (now - c->intended + 500) / 1000 : 0;
    lat[lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
  }
  c->has_req = 0, inflight--, c->ps = P_HEAD;
  if (c->close_after || c->woff < req_len) return conn_close(c, now, 0), 0;
  return set_idle(c), 1;
}
/* The value of header `name` ("\nname:") in a lowercased header block, trimmed. */
static const char *header(const char *h, const char *end, const char *name, size_t *len) {
  const char *v = memmem(h, (size_t)(end - h), name, strlen(name)), *e;
  if (!v) return NULL;
  for (v += strlen(name); *v == ' ' || *v == '\t'; v++) {}
  for (e = memchr(v, '\n', (size_t)(end - v)); e > v && isspace((unsigned char)e[-1]); e--) {}
  return *len = (size_t)(e - v), v;
}
/* Status line and headers in [h, end), lowercased in place: status, body framing. -1: not HTTP/1.x. */
static int parse_head(struct conn *c, char *h, char *end) {
  const char *v; size_t vl;
  if (end - h < 12 || strncmp(h, "HTTP/1.", 7) || h[8] != ' ' || strspn(h + 9, "0123456789") < 3 || h[9] == '0') return -1;
  c->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
  for (char *q = h; q < end; q++) *q = (char)tolower((unsigned char)*q);
  int keep = h[7] == '1', chunked = (v = header(h, end, "\ntransfer-encoding:", &vl)) && memmem(v, vl, "chunked", 7);
  if ((v = header(h, end, "\nconnection:", &vl))) keep = memmem(v, vl, "close", 5) ? 0 : memmem(v, vl, "keep-alive", 10) ? 1 : keep;
  c->close_after = !keep, c->remaining = 0;
  if ((v = header(h, end, "\ncontent-length:", &vl)) && (!vl || vl > 18 || strspn(v, "0123456789") < vl)) return -1;
  if (c->status / 100 == 1 && c->status != 101) c->ps = P_HEAD; /* interim: the real answer follows */
  else if (c->status == 204 || c->status == 304) c->ps = P_BODY;
  else if (chunked) c->ps = P_CSIZE;
  else if (v) c->remaining = strtoull(v, NULL, 10), c->ps = P_BODY;
  else c->ps = P_EOF, c->close_after = 1; /* the body runs to the end of the connection */
  return 0;
}
/* Takes `got` more bytes in c->rbuf: any number of answers or parts of one, split anywhere. Bodies are skipped as
 * they arrive; an incomplete header block or chunk line waits for the next read. 0: the connection was closed. */
static int consume(struct conn *c, uint64_t now, size_t got) {
  size_t p = 0, avail;
  char *b = c->rbuf, *e;
  for (c->rlen += got; (avail = c->rlen - p) > 0;) {
    if (c->ps == P_HEAD) {
      if (!(e = memmem(b + p, avail, "\r\n\r\n", 4))) break;
      if (!c->has_req || parse_head(c, b + p, e + 2) < 0) return fail(c, now, EPROTO), 0; /* garbage, or unasked for */
      p = (size_t)(e + 4 - b);
      if (c->ps == P_BODY && !c->remaining && !complete(c, now)) return 0;
    } else if (c->ps == P_BODY || c->ps == P_CDATA) {
      uint64_t n = avail < c->remaining ? avail : c->remaining;
      p += n, c->remaining -= n;
      if (!c->remaining && c->ps == P_CDATA) c->ps = P_CSIZE;
      else if (!c->remaining && !complete(c, now)) return 0;
    } else if (c->ps == P_EOF) {
      p = c->rlen;
    } else { /* a line: a chunk's size (or the empty line after its data), or a trailer */
      if (!(e = memchr(b + p, '\n', avail))) break;
      char *line = b + p;
      size_t ll = (size_t)(e - line), k = 0; uint64_t size = 0;
      p += ll + 1, ll -= ll && line[ll - 1] == '\r';
      if (c->ps == P_TRAILER && !ll && !complete(c, now)) return 0;
      if (c->ps == P_TRAILER || !ll) continue;
      for (; k < ll && k < 16 && isxdigit((unsigned char)line[k]); k++) /* hex size, then maybe ";extensions" */
        size = size * 16 + (uint64_t)(isdigit((unsigned char)line[k]) ? line[k] - '0' : (line[k] | 0x20) - 'a' + 10);
      if (!k || (k < ll && line[k] != ';' && line[k] != ' ' && line[k] != '\t')) return fail(c, now, EPROTO), 0;
      c->remaining = size, c->ps = size ? P_CDATA : P_TRAILER;
    }
  }
  memmove(b, b + p, c->rlen -= p);
  if (c->rlen == RBUF) return fail(c, now, EMSGSIZE), 0; /* a header block that does not end */
  return 1;
}
static void conn_read(struct conn *c, uint64_t now) {
  ssize_t n;
  if (!c->rbuf && !(c->rbuf = malloc(RBUF))) DIE(1, "out of memory");
  while ((n = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen)) != 0) { /* to EAGAIN: epoll is edge-triggered */
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno != EINTR) break;
    if (n > 0 && !consume(c, now, (size_t)n)) return;
  }
  if (c->has_req && c->ps == P_EOF) complete(c, now); /* end of connection: ends a body that runs to EOF */
  else if (c->has_req || c->rlen) fail(c, now, n < 0 ? errno : ECONNRESET);
  else conn_close(c, now, 0);
}
static void on_event(uint64_t data, uint32_t events, uint64_t now) {
  struct conn *c = &conns[(data & 0xffffffffu) - 1];
  int err = 0; socklen_t l = sizeof err;
  if (c->state == C_CLOSED || c->gen != (uint32_t)(data >> 32)) return; /* a previous socket's */
  if (c->state == C_CONNECTING) {
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) || err) fail(c, now, err ? err : errno);
    if (c->state != C_CONNECTING || !(events & EPOLLOUT)) return;
    set_idle(c);
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_read(c, now);
  if (c->state == C_BUSY && c->woff < req_len && (events & EPOLLOUT)) conn_write(c, now);
}
/* Past --timeout: a timeout, not an error; the connection might still bring the late answer, so it is replaced. */
static void housekeeping(uint64_t now) {
  for (struct conn *c = conns; c < conns + nconn; c++)
    if (c->has_req && now >= c->deadline) n_timeouts += measured(c->intended), conn_close(c, now, 0);
    else if (c->state == C_CLOSED && now >= c->retry_at && work_left()) conn_open(c, now, 0);
}
static int cmp_u32(const void *a, const void *b) { return (*(const uint32_t *)a > *(const uint32_t *)b) - (*(const uint32_t *)a < *(const uint32_t *)b); }
static uint32_t pct(double q) { size_t r = (size_t)ceil(q * (double)lat_n); return lat_n ? lat[r ? r - 1 : 0] : 0; } /* nearest rank */
int main(int argc, char **argv) {
  struct epoll_event tev = {.events = EPOLLIN, .data.u64 = 0}, evs[256]; /* data 0: the timer */
  signal(SIGPIPE, SIG_IGN);
  parse_args(argc, argv), parse_url(), build_request();
  timeout_ns = (uint64_t)llround(timeout_s * 1e9);
  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
      epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) || !(conns = calloc((size_t)nconn, sizeof *conns)))
    DIE(1, "setting up epoll: %s", strerror(errno));
  /* Every connection opens before the clock starts, so set-up is not charged to the first requests. */
  for (long k = 0; k < nconn; k++) conn_open(&conns[k], now_ns(), 1);
  if (!idle_count) DIE(1, "cannot connect to %s:%s (%s): none of %ld connections opened", host, port, strerror(last_errno), nconn);
  t0 = now_ns(), t_measure = t0 + (uint64_t)llround(warmup * 1e9), t_end = t_measure + (uint64_t)llround(duration * 1e9);
  for (uint64_t hard_stop = t_end + timeout_ns, next_tick = t0 + TICK_NS, now, next, at;;) {
    for (now = now_ns(); !scheduling_done && (at = intended_at(due_i)) <= now && at < t_end; due_i++) n_intended += measured(at);
    scheduling_done = intended_at(due_i) >= t_end; /* due_i is then the number of requests of the run */
    if (now >= next_tick) housekeeping(now), next_tick = now + TICK_NS;
    dispatch(now);
    if ((!work_left() && !inflight) || now >= hard_stop) break; /* after the duration: drain, up to --timeout */
    next = next_tick < hard_stop ? next_tick : hard_stop;
    if (!scheduling_done && intended_at(due_i) < next) next = intended_at(due_i);
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(next / NS), .tv_nsec = (long)(next % NS)}};
    if (next != armed && timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL)) DIE(1, "timerfd_settime: %s", strerror(errno));
    armed = next;
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno != EINTR) DIE(1, "epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++)
      if (evs[i].data.u64) on_event(evs[i].data.u64, evs[i].events, now_ns());
      else while (read(tfd, &next, sizeof next) > 0) armed = 0; /* fired: arm again even for the same time */
  }
  /* What is still queued or in flight at the hard stop never got its answer in time. */
  for (uint64_t i = sent_i; i < due_i; i++) n_timeouts += measured(intended_at(i));
  for (long k = 0; k < nconn; k++) n_timeouts += conns[k].has_req && measured(conns[k].intended);
  qsort(lat, lat_n, sizeof *lat, cmp_u32);
  double secs = (double)((last_answer > t_end ? last_answer : t_end) - t_measure) / 1e9;
  printf("FFRATE intended=%llu answered=%llu non2xx=%llu errors=%llu timeouts=%llu p50=%u p99=%u p999=%u max=%u achieved=%.1f seconds=%.3f\n",
         n_intended, n_answered, n_non2xx, n_errors, n_timeouts, pct(0.5), pct(0.99), pct(0.999), lat_n ? lat[lat_n - 1] : 0,
         (double)(n_answered - n_non2xx) / secs, secs);
  return 0;
}

/*
 * Native reference for bench/run.mjs: the same counter operations in C, compiled with the
 * machine's `cc -O2 -pthread` at bench time.
 *
 * The memory is laid out like the library's MigrationStats, from the same source: the header's
 * constants from build/stats-core.h (generated from assembly/stats-core.ts) and every cell's offset
 * from the library's layout planner (bench/native.mjs passes them in); the operations are the ones QEMU's stats64.h compiles to on a 64-bit host: __atomic builtins,
 * sequentially consistent, inlined into the loop.
 *
 *   native single MS          fixed-time single-thread runs, one JSON object of ns/op
 *   native threads MODE N MS  N pthreads adding 1 for MS ms; MODE is `same` (one shared slot) or
 *                             `different` (each thread its own lane); prints
 *                             {"ops":…,"seconds":…,"exact":true|false}
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "stats-core.h"

/* The byte offsets of QEMU's layout come from the library's own layout planner: bench/native.mjs
   passes them as -D definitions (LANES_OFFSET, LANE_STRIDE, LAYOUT_BYTES, ZERO_PAGES_BASE, ...). */
#define CELL(offset) ((uint64_t *)(memory + (offset)))
#define LANE_CELL(lane, offset) CELL(LANES_OFFSET + (lane) * LANE_STRIDE + (offset))
#define CHUNK 1000 /* adds between two looks at the stop flag, as in bench/thread-worker.mjs */

static _Alignas(128) uint8_t memory[LAYOUT_BYTES];
static uint32_t lanes_ever = 1;
static volatile uint64_t sink;

static double cpu_seconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static inline void stat_add(uint64_t *slot, uint64_t v) { __atomic_fetch_add(slot, v, __ATOMIC_SEQ_CST); }

/* get() of a laned cell: its base cell plus the same cell in every lane ever claimed. */
static inline uint64_t laned_get(uint32_t base, uint32_t lane_offset) {
  uint32_t ever = __atomic_load_n(&lanes_ever, __ATOMIC_SEQ_CST);
  uint64_t sum = __atomic_load_n(CELL(base), __ATOMIC_SEQ_CST);
  for (uint32_t k = 0; k < ever; k++) sum += __atomic_load_n(LANE_CELL(k, lane_offset), __ATOMIC_SEQ_CST);
  return sum;
}

/* migration_rate_exceeded() without the stream error: the limiter's counters are side by side. */
static inline int rate_exceeded(void) {
  uint64_t budget = __atomic_load_n(CELL(RATE_MAX), __ATOMIC_SEQ_CST);
  if (budget == 0) return 0;
  uint64_t used = 0;
  for (uint32_t i = 0; i < LIMITER_COUNT; i++) used += laned_get(LIMITER_BASE + 8 * i, LIMITER_LANE + 8 * i);
  return used - __atomic_load_n(CELL(RATE_START), __ATOMIC_SEQ_CST) > budget;
}

/* Runs `body` in chunks of CHUNK until `ms` have passed; returns ns per operation. */
#define FIXED_TIME(ms, ops_per_iter, body)                                    \
  ({                                                                          \
    double t0 = now_ns(), t;                                                  \
    uint64_t iters = 0;                                                       \
    do {                                                                      \
      for (int i_ = 0; i_ < CHUNK; i_++) { body; }                            \
      iters += CHUNK;                                                         \
      t = now_ns();                                                           \
    } while (t - t0 < (ms) * 1e6);                                            \
    (t - t0) / ((double)iters * (ops_per_iter));                              \
  })

static int single(double ms) {
  uint64_t *zero = LANE_CELL(0, ZERO_PAGES_LANE);
  uint64_t acc = 0;
  /* Warm-up: caches, frequency. */
  FIXED_TIME(ms, 1, stat_add(zero, 1));
  __atomic_store_n(CELL(RATE_MAX), UINT64_C(100000000000000), __ATOMIC_SEQ_CST);
  double add = FIXED_TIME(ms, 1, stat_add(zero, 1));
  double get = FIXED_TIME(ms, 1, acc += laned_get(ZERO_PAGES_BASE, ZERO_PAGES_LANE));
  double packet = FIXED_TIME(ms, 3, {
    stat_add(LANE_CELL(0, NORMAL_PAGES_LANE), 1);
    stat_add(zero, 2);
    stat_add(LANE_CELL(0, MULTIFD_BYTES_LANE), 4096);
  });
  double rate = FIXED_TIME(ms, 1, acc += rate_exceeded());
  /* What the lane's owner could do instead of a locked add, since no one else writes its lane:
     a relaxed load and store (a plain add on x86-64). Not what the library does; see docs/design.md (lanes). */
  double relaxed = FIXED_TIME(ms, 1, __atomic_store_n(zero, __atomic_load_n(zero, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED));
  sink = acc;
  printf("{\"add\":%.4f,\"get\":%.4f,\"packetPerUpdate\":%.4f,\"rateExceeded\":%.4f,\"relaxedLaneAdd\":%.4f}\n", add, get, packet, rate,
         relaxed);
  return 0;
}

struct thread_arg {
  uint64_t *slot;
  uint64_t ops;
};

static volatile int stop_flag;
static volatile int go_flag;

static void *adder(void *p) {
  struct thread_arg *a = p;
  while (!__atomic_load_n(&go_flag, __ATOMIC_ACQUIRE)) {
  }
  uint64_t ops = 0;
  while (!__atomic_load_n(&stop_flag, __ATOMIC_RELAXED)) {
    for (int i = 0; i < CHUNK; i++) stat_add(a->slot, 1);
    ops += CHUNK;
  }
  a->ops = ops;
  return NULL;
}

static int threads(const char *mode, int n, double ms) {
  int same = strcmp(mode, "same") == 0;
  pthread_t tid[64];
  struct thread_arg args[64];
  if (n < 1 || n > 64 || n > LANES) return 2;
  for (int i = 0; i < n; i++) {
    args[i].slot = same ? LANE_CELL(0, ZERO_PAGES_LANE) : LANE_CELL(i, ZERO_PAGES_LANE);
    args[i].ops = 0;
    if (pthread_create(&tid[i], NULL, adder, &args[i]) != 0) return 3;
  }
  double cpu0 = cpu_seconds();
  double t0 = now_ns();
  __atomic_store_n(&go_flag, 1, __ATOMIC_RELEASE);
  struct timespec d = {(time_t)(ms / 1000), (long)((ms - 1000 * (time_t)(ms / 1000)) * 1e6)};
  nanosleep(&d, NULL);
  __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
  uint64_t total = 0;
  for (int i = 0; i < n; i++) {
    pthread_join(tid[i], NULL);
    total += args[i].ops;
  }
  double seconds = (now_ns() - t0) / 1e9;
  double cpu = cpu_seconds() - cpu0;
  uint64_t counted = 0;
  if (same) counted = *LANE_CELL(0, ZERO_PAGES_LANE);
  else
    for (int i = 0; i < n; i++) counted += *LANE_CELL(i, ZERO_PAGES_LANE);
  printf("{\"ops\":%llu,\"seconds\":%.6f,\"cpuSeconds\":%.6f,\"exact\":%s}\n", (unsigned long long)total, seconds, cpu,
         counted == total ? "true" : "false");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "single") == 0) return single(atof(argv[2]));
  if (argc == 5 && strcmp(argv[1], "threads") == 0) return threads(argv[2], atoi(argv[3]), atof(argv[4]));
  fprintf(stderr, "usage: native single MS | native threads same|different N MS\n");
  return 2;
}

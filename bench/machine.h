/* machine.h: what `make bench` measures of the machine itself, the limits
 * its figures are fractions of: the read bandwidth of a buffer (of 1 GiB,
 * and of each model's weights) at a given number of threads, and the FP32
 * FMA peak of one core.  machine.c holds the portable parts and picks the
 * kernels; machine_avx2.c and machine_avx512.c are the only files compiled
 * with -m flags, and run only where the CPU has the instructions.
 */
#ifndef BENCH_MACHINE_H
#define BENCH_MACHINE_H

#include <stddef.h>

/* Sum of p[0..n-1]: the read kernel.  n is a multiple of 64 (floats); p is
 * 64-byte aligned. */
float machine_sum_sse2(const float *p, size_t n);
float machine_sum_avx2(const float *p, size_t n);

/* iters iterations of independent FMA chains, enough of them to hide the
 * FMA latency on both of a core's FMA pipes; returns the FLOPs done (2 per
 * lane per FMA) and stores a result in *sink so that the work is kept. */
double machine_fma_scalar(long iters, float *sink);
double machine_fma_avx2(long iters, float *sink);
double machine_fma_avx512(long iters, float *sink);

/* What the CPU runs, the name of the instruction set the figures use. */
typedef struct machine_cpu {
	char model[128];	/* /proc/cpuinfo "model name", or "?" */
	int cpus;		/* online CPUs */
	int avx2;		/* AVX2 and FMA */
	int avx512;		/* AVX-512F */
} machine_cpu;

void machine_cpu_probe(machine_cpu *c);

/* The best read bandwidth, in bytes/s, of the first `bytes` of buf (64-byte
 * aligned, bytes a multiple of 256) summed by `threads` threads, each its
 * own contiguous slice, over passes that take about `seconds` in all (at
 * least 5, after an untimed first pass).  *passes gets their number and
 * *median the bandwidth of the median pass.
 * A thread that cannot be started ends the program (exit status 1). */
double machine_read_bw(const machine_cpu *c, const float *buf, size_t bytes,
                       int threads, double seconds, int *passes, double *median);

/* The FP32 FMA peak in FLOP/s of `threads` threads together, each running
 * independent FMA chains of the instruction set isa ("avx512", "avx2" or
 * "scalar"), best of 5 runs of about 0.2 s; -1 when the CPU lacks isa. */
double machine_fma_peak(const machine_cpu *c, const char *isa, int threads);

/* Seconds from a fixed point (monotonic). */
double machine_now(void);

/* The best time of fn(ctx) over runs of about `seconds` in all (at least
 * three, at most 1000), after one untimed run: a shared machine's other
 * work only ever slows a run down. */
double machine_best_time(void (*fn)(void *), void *ctx, double seconds);

#endif

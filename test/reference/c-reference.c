/*
 * Reference figures from C on this kind of machine (x86-64, gcc, glibc), for the tests of
 * src/printf.ts, src/hmp.ts (size_to_str) and src/window.ts.
 *
 * It prints JSON: glibc's %.17g / %.2f / %.3g of many doubles (given by their bits), QEMU's
 * size_to_str() rule applied to byte counts, and the per-window formulas of QEMU's
 * migration_update_counters() written out in the same C types and operation order.
 * Regenerate the fixture with:
 *
 *   gcc -O2 -std=c11 -o /tmp/c-reference test/reference/c-reference.c -lm
 *   /tmp/c-reference > test/fixtures/c-reference.json
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: a fixed sequence, so the fixture is reproducible. */
static uint64_t next_u64(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A value with a random number of significant bits, so that every magnitude shows up. */
static uint64_t random_width_u64(void)
{
    unsigned bits = (unsigned)(next_u64() % 65);
    return bits == 64 ? next_u64() : next_u64() & ((1ULL << bits) - 1);
}

static uint64_t bits_of(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static double double_of(uint64_t b)
{
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static void print_format_case(double x, int *first)
{
    printf("%s\n    {\"bits\": \"%016" PRIx64 "\", \"g17\": \"%.17g\", \"g3\": \"%0.3g\"",
           *first ? "" : ",", bits_of(x), x, x);
    if (fabs(x) < 1e25 || isnan(x) || isinf(x)) {
        printf(", \"f2\": \"%0.2f\"", x);
    }
    printf("}");
    *first = 0;
}

static void print_size_case(uint64_t val, int *first)
{
    static const char *suffixes[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    int e;
    frexp(val / (1000.0 / 1024.0), &e);
    e = (e - 1) / 10;
    printf("%s\n    {\"bytes\": \"%" PRIu64 "\", \"text\": \"%0.3g %sB\"}", *first ? "" : ",", val,
           (double)val / (double)(1ULL << (e * 10)), suffixes[e]);
    *first = 0;
}

static void print_window_case(uint64_t transferred, uint64_t time_spent, uint64_t pages,
                              uint64_t downtime_limit, uint64_t switchover_bw,
                              uint64_t dirty_bytes, int *first)
{
    double bandwidth = (double)transferred / time_spent;
    double expected_bw_per_ms = switchover_bw ? switchover_bw / 1000 : bandwidth;
    double threshold = expected_bw_per_ms * downtime_limit;
    double mbps = (((double)transferred * 8.0) / ((double)time_spent / 1000.0)) / 1000.0 / 1000.0;
    double pps = (double)pages / (((double)time_spent / 1000.0));
    double expected = dirty_bytes / expected_bw_per_ms;
    /*
     * A switch-over bandwidth of 1-999 B/s is 0 B/ms: the expected downtime is then +inf (or NaN
     * when nothing is dirty), whose conversion to int64_t C leaves undefined. It is printed as
     * "inf" or "nan" (never converted here); the tests check the library's documented value.
     */
    const char *undefined_expected = isnan(expected) ? "nan" : isinf(expected) ? "inf" : NULL;

    /* Leave out the other conversions out of range, which the tests cover apart. */
    if (!(threshold < 18446744073709551616.0) ||
        (!undefined_expected && !(expected < 9223372036854775808.0))) {
        return;
    }
    printf("%s\n    {\"transferred\": \"%" PRIu64 "\", \"timeSpentMs\": %" PRIu64
           ", \"pages\": \"%" PRIu64 "\", \"downtimeLimitMs\": %" PRIu64
           ", \"switchover\": \"%" PRIu64 "\", \"dirtyBytes\": \"%" PRIu64 "\""
           ", \"bandwidthBits\": \"%016" PRIx64 "\", \"thresholdSize\": \"%" PRIu64 "\""
           ", \"mbpsBits\": \"%016" PRIx64 "\", \"pagesPerSecondBits\": \"%016" PRIx64 "\"",
           *first ? "" : ",", transferred, time_spent, pages, downtime_limit, switchover_bw,
           dirty_bytes, bits_of(bandwidth), (uint64_t)threshold, bits_of(mbps), bits_of(pps));
    if (undefined_expected) {
        printf(", \"expectedDowntime\": \"%s\"}", undefined_expected);
    } else {
        printf(", \"expectedDowntimeMs\": \"%" PRId64 "\"}", (int64_t)expected);
    }
    *first = 0;
}

int main(void)
{
    static const double chosen[] = {
        0.0, -0.0, 1.0, -1.0, 0.4, 0.1, 0.125, 0.375, 2.675, 1e-5, 1e-4, 9.9999e-5, 58.153,
        1000.0, 999.5, 999.9999, 1e16, 1e17, 1e21, 1e22, 1e23, 1000000000000000.25,
        1000000000000000.75, 9007199254740993.0, 1.7976931348623157e308, 4.9406564584124654e-324,
        2.2250738585072014e-308, 0.5, 1.5, 2.5, 0.005, 0.015, 0.025, 1e-300, 123456789.0,
        3.14159265358979, 1.0 / 3.0, 2.0 / 3.0, 18446744073709551615.0, 9223372036854775807.0,
        0.9921875, 1.024, 465224.0 * 8.0 / 64.0 / 1000.0,
    };
    int first = 1;

    printf("{\n  \"format\": [");
    for (size_t i = 0; i < sizeof chosen / sizeof chosen[0]; i++) {
        print_format_case(chosen[i], &first);
    }
    print_format_case(INFINITY, &first);
    print_format_case(-INFINITY, &first);
    print_format_case(NAN, &first);
    for (int i = 0; i < 700; i++) {
        /* Random bit patterns (every exponent), then values near human scales. */
        double x = double_of(next_u64());
        if (isnan(x)) {
            continue;
        }
        print_format_case(x, &first);
    }
    for (int i = 0; i < 700; i++) {
        double x = (double)random_width_u64() / (double)(1ULL << (next_u64() % 40));
        print_format_case(next_u64() & 1 ? -x : x, &first);
    }
    for (int i = 0; i < 150; i++) {
        /* Exact ties at two decimals or 17 digits: k + m/8 with k of various sizes. */
        double x = (double)(next_u64() % 100000000000000ULL) + (double)(next_u64() % 8) / 8.0;
        print_format_case(x, &first);
        print_format_case((double)(next_u64() % 1000) + 0.125, &first);
    }
    printf("\n  ],\n  \"sizeToStr\": [");
    first = 1;
    static const uint64_t sizes[] = {
        0, 1, 999, 1000, 1016, 1023, 1024, 1025, 4096, 65536, 1023999, 1024000, 1048575, 1048576,
        1073741824, 4315938816ULL, 1099511627776ULL, 1125899906842624ULL, 1152921504606846976ULL,
        9223372036854775807ULL, 9223372036854775808ULL, 18446744073709551615ULL,
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        print_size_case(sizes[i], &first);
    }
    for (int i = 0; i < 500; i++) {
        print_size_case(random_width_u64(), &first);
    }
    printf("\n  ],\n  \"window\": [");
    first = 1;
    print_window_case(12500000, 100, 0, 300, 0, 50000000, &first);
    print_window_case(465224, 164, 119, 300, 0, 4096, &first);
    for (int i = 0; i < 600; i++) {
        uint64_t transferred = random_width_u64();
        uint64_t time_spent = 100 + next_u64() % (i % 3 == 0 ? 1000 : 1ULL << 40);
        uint64_t pages = random_width_u64();
        uint64_t downtime = next_u64() % 2000001;
        uint64_t switchover = i % 4 == 0 ? 1000 + random_width_u64() % (UINT64_MAX - 1000) : 0;
        uint64_t dirty = random_width_u64();
        print_window_case(transferred, time_spent, pages, downtime, switchover, dirty, &first);
    }
    /* avail-switchover-bandwidth of 1-999 B/s, which QEMU accepts: 0 B/ms after its division. */
    print_window_case(20000, 100, 5, 300, 1, 0, &first);
    print_window_case(20000, 100, 5, 300, 999, 4096, &first);
    print_window_case(10000, 100, 5, 300, 999, 4096, &first);
    print_window_case(20000, 250, 0, 0, 500, 18446744073709551615ULL, &first);
    for (int i = 0; i < 60; i++) {
        uint64_t transferred = random_width_u64();
        uint64_t time_spent = 100 + next_u64() % 100000;
        uint64_t pages = random_width_u64();
        uint64_t downtime = next_u64() % 2000001;
        uint64_t switchover = 1 + next_u64() % 999;
        uint64_t dirty = i % 5 == 0 ? 0 : random_width_u64();
        print_window_case(transferred, time_spent, pages, downtime, switchover, dirty, &first);
    }
    printf("\n  ]\n}\n");
    return 0;
}

// The CPU's instruction-set features, read with CPUID: what picks smallnet's kernel variant.
#ifndef SMALLNET_CPU_H
#define SMALLNET_CPU_H

#include <stdint.h>

/// One bit per feature that an x86-64 micro-architecture level requires. `OS_YMM` and
/// `OS_ZMM` say that the operating system saves the AVX and AVX-512 registers (XGETBV).
enum {
    // x86-64-v2
    SMALLNET_CPU_SSE3 = 1u << 0,
    SMALLNET_CPU_SSSE3 = 1u << 1,
    SMALLNET_CPU_SSE4_1 = 1u << 2,
    SMALLNET_CPU_SSE4_2 = 1u << 3,
    SMALLNET_CPU_POPCNT = 1u << 4,
    SMALLNET_CPU_CX16 = 1u << 5,
    SMALLNET_CPU_LAHF = 1u << 6,
    // x86-64-v3
    SMALLNET_CPU_AVX = 1u << 7,
    SMALLNET_CPU_AVX2 = 1u << 8,
    SMALLNET_CPU_FMA = 1u << 9,
    SMALLNET_CPU_BMI1 = 1u << 10,
    SMALLNET_CPU_BMI2 = 1u << 11,
    SMALLNET_CPU_F16C = 1u << 12,
    SMALLNET_CPU_LZCNT = 1u << 13,
    SMALLNET_CPU_MOVBE = 1u << 14,
    SMALLNET_CPU_OS_YMM = 1u << 15,
    // x86-64-v4
    SMALLNET_CPU_AVX512F = 1u << 16,
    SMALLNET_CPU_AVX512BW = 1u << 17,
    SMALLNET_CPU_AVX512CD = 1u << 18,
    SMALLNET_CPU_AVX512DQ = 1u << 19,
    SMALLNET_CPU_AVX512VL = 1u << 20,
    SMALLNET_CPU_OS_ZMM = 1u << 21,
};

/// The features of the CPU this runs on (0 on other architectures). Plain x86-64 code: safe
/// to call on any x86-64 CPU, before anything built for a higher level runs.
uint32_t smallnet_cpu_features(void);

#endif

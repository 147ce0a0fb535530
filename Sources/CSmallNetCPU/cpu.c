// CPUID and XGETBV, compiled for plain x86-64 so that it runs on any x86-64 CPU.
#include "smallnet_cpu.h"

#if defined(__x86_64__)
#include <cpuid.h>

/// XCR0: the register states the operating system saves on a context switch.
static uint64_t xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

uint32_t smallnet_cpu_features(void) {
    unsigned a, b, c, d;
    uint32_t f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & bit_SSE3) f |= SMALLNET_CPU_SSE3;
    if (c & bit_SSSE3) f |= SMALLNET_CPU_SSSE3;
    if (c & bit_SSE4_1) f |= SMALLNET_CPU_SSE4_1;
    if (c & bit_SSE4_2) f |= SMALLNET_CPU_SSE4_2;
    if (c & bit_POPCNT) f |= SMALLNET_CPU_POPCNT;
    if (c & bit_CMPXCHG16B) f |= SMALLNET_CPU_CX16;
    if (c & bit_AVX) f |= SMALLNET_CPU_AVX;
    if (c & bit_FMA) f |= SMALLNET_CPU_FMA;
    if (c & bit_F16C) f |= SMALLNET_CPU_F16C;
    if (c & bit_MOVBE) f |= SMALLNET_CPU_MOVBE;
    uint64_t os = (c & bit_OSXSAVE) ? xcr0() : 0;
    if ((os & 0x06) == 0x06) f |= SMALLNET_CPU_OS_YMM;  // XMM and YMM state
    if ((os & 0xE6) == 0xE6) f |= SMALLNET_CPU_OS_ZMM;  // and opmask, ZMM0-15 high halves, ZMM16-31

    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (b & bit_AVX2) f |= SMALLNET_CPU_AVX2;
        if (b & bit_BMI) f |= SMALLNET_CPU_BMI1;
        if (b & bit_BMI2) f |= SMALLNET_CPU_BMI2;
        if (b & bit_AVX512F) f |= SMALLNET_CPU_AVX512F;
        if (b & bit_AVX512BW) f |= SMALLNET_CPU_AVX512BW;
        if (b & bit_AVX512CD) f |= SMALLNET_CPU_AVX512CD;
        if (b & bit_AVX512DQ) f |= SMALLNET_CPU_AVX512DQ;
        if (b & bit_AVX512VL) f |= SMALLNET_CPU_AVX512VL;
    }
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) {
        if (c & bit_LAHF_LM) f |= SMALLNET_CPU_LAHF;
        if (c & bit_ABM) f |= SMALLNET_CPU_LZCNT;
    }
    return f;
}
#else
uint32_t smallnet_cpu_features(void) { return 0; }
#endif

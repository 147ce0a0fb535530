/*
 * fuzz_idx_gz.c — the IDX reader on files as they are on disk, gzip-compressed or not: one or
 * more gzip members, zero padding, trailing bytes, truncated or corrupt streams (see fuzz_idx.c).
 */
#define FUZZ_IDX_GZIP 1
#include "fuzz_idx.c"

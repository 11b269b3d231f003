/**
 * glibc malloc settings, the same as gpu-service/Dockerfile's (see the engine
 * README, "Memory"): buffers over 128 KiB get their own mapping, returned to
 * the system when freed, on transparent huge pages so that mapping them
 * again costs few page faults. Benchmarks run their measured processes with it.
 */
export const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '131072', GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' };

/* The device's copy bandwidth, measured in the same run as the steps that
 * bench/membound.R sets against it: cuMemcpyDtoD of one buffer into another,
 * (bytes read + bytes written) / time, the median of 10 copies after 2 warm-ups,
 * timed with events on the default stream.
 *
 * Built by the benchmark (R CMD SHLIB), not part of the package: it reaches the
 * CUDA driver (libcuda.so.1) through dlopen, as bench/pool_peak.c does, and
 * works in the device's primary context, the one cellshard's runtime calls use.
 *
 *   .Call("d2d_copy_bandwidth", device, bytes)  -> bytes/s (NA without a GPU)
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

#include <R.h>
#include <Rinternals.h>

typedef int (*fn_init)(unsigned int);
typedef int (*fn_device_get)(int*, int);
typedef int (*fn_retain)(void**, int);
typedef int (*fn_set_current)(void*);
typedef int (*fn_alloc)(uint64_t*, size_t);
typedef int (*fn_free)(uint64_t);
typedef int (*fn_copy)(uint64_t, uint64_t, size_t, void*);
typedef int (*fn_event_create)(void**, unsigned int);
typedef int (*fn_event_record)(void*, void*);
typedef int (*fn_event_sync)(void*);
typedef int (*fn_event_elapsed)(float*, void*, void*);
typedef int (*fn_event_destroy)(void*);

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

SEXP d2d_copy_bandwidth(SEXP device, SEXP bytes_sexp) {
  void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_GLOBAL);
  if (!lib) return Rf_ScalarReal(NA_REAL);
  fn_init init = (fn_init)dlsym(lib, "cuInit");
  fn_device_get device_get = (fn_device_get)dlsym(lib, "cuDeviceGet");
  fn_retain retain = (fn_retain)dlsym(lib, "cuDevicePrimaryCtxRetain");
  fn_set_current set_current = (fn_set_current)dlsym(lib, "cuCtxSetCurrent");
  fn_alloc alloc = (fn_alloc)dlsym(lib, "cuMemAlloc_v2");
  fn_free mem_free = (fn_free)dlsym(lib, "cuMemFree_v2");
  fn_copy copy = (fn_copy)dlsym(lib, "cuMemcpyDtoDAsync_v2");
  fn_event_create event_create = (fn_event_create)dlsym(lib, "cuEventCreate");
  fn_event_record event_record = (fn_event_record)dlsym(lib, "cuEventRecord");
  fn_event_sync event_sync = (fn_event_sync)dlsym(lib, "cuEventSynchronize");
  fn_event_elapsed event_elapsed = (fn_event_elapsed)dlsym(lib, "cuEventElapsedTime");
  fn_event_destroy event_destroy = (fn_event_destroy)dlsym(lib, "cuEventDestroy_v2");
  if (!init || !device_get || !retain || !set_current || !alloc || !mem_free || !copy ||
      !event_create || !event_record || !event_sync || !event_elapsed || !event_destroy)
    return Rf_ScalarReal(NA_REAL);
  int dev = 0;
  void* ctx = NULL;
  if (init(0) != 0 || device_get(&dev, Rf_asInteger(device)) != 0 || retain(&ctx, dev) != 0 ||
      set_current(ctx) != 0)
    return Rf_ScalarReal(NA_REAL);
  const size_t bytes = (size_t)Rf_asReal(bytes_sexp);
  uint64_t a = 0, b = 0;
  if (alloc(&a, bytes) != 0) return Rf_ScalarReal(NA_REAL);
  if (alloc(&b, bytes) != 0) {
    mem_free(a);
    return Rf_ScalarReal(NA_REAL);
  }
  void *start = NULL, *stop = NULL;
  event_create(&start, 0);
  event_create(&stop, 0);
  double rates[10];
  int n = 0, failed = 0;
  for (int k = 0; k < 12 && !failed; ++k) {
    float ms = 0;
    failed = event_record(start, NULL) || copy(b, a, bytes, NULL) || event_record(stop, NULL) ||
             event_sync(stop) || event_elapsed(&ms, start, stop);
    if (!failed && k >= 2) rates[n++] = 2.0 * (double)bytes / ((double)ms * 1e-3);
  }
  event_destroy(start);
  event_destroy(stop);
  mem_free(a);
  mem_free(b);
  if (failed || n == 0) return Rf_ScalarReal(NA_REAL);
  qsort(rates, n, sizeof(double), cmp_double);
  return Rf_ScalarReal(0.5 * (rates[(n - 1) / 2] + rates[n / 2]));
}

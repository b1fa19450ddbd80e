/* The high-water mark of a GPU's default stream-ordered memory pool, for the
 * benchmarks' "peak device memory per step" (bench/gpu_steps.R). cellshard
 * takes all its device memory from that pool (src/cuda/device_memory.cu), so
 * the pool's used-memory high-water mark between a reset and a reading is the
 * most the step held at once, its input included.
 *
 * Built by the benchmark driver (R CMD SHLIB), not part of the package: it
 * talks to the CUDA driver (libcuda.so.1, already loaded by cellshard) through
 * dlopen, so it builds without a GPU and answers NA where there is none.
 *
 *   .Call("pool_peak_reset", device)  -> bytes in use now
 *   .Call("pool_peak_read", device)   -> c(used now, used high, reserved now, reserved high)
 */
#include <dlfcn.h>
#include <stdint.h>

#include <R.h>
#include <Rinternals.h>

/* Values of cuda.h's CUmemPool_attribute (stable since CUDA 11.2). */
enum {
  ATTR_RESERVED_MEM_CURRENT = 5,
  ATTR_RESERVED_MEM_HIGH = 6,
  ATTR_USED_MEM_CURRENT = 7,
  ATTR_USED_MEM_HIGH = 8
};

typedef int (*init_fn)(unsigned int);
typedef int (*device_get_fn)(int*, int);
typedef int (*default_pool_fn)(void**, int);
typedef int (*pool_attr_fn)(void*, int, void*);

static init_fn cu_init;
static device_get_fn cu_device_get;
static default_pool_fn cu_default_pool;
static pool_attr_fn cu_get_attr, cu_set_attr;

/* 1 when the driver's functions are at hand, 0 otherwise (no driver: no GPU). */
static int load_driver(void) {
  static int state = -1;
  if (state >= 0) return state;
  state = 0;
  void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_GLOBAL);
  if (!lib) return state;
  cu_init = (init_fn)dlsym(lib, "cuInit");
  cu_device_get = (device_get_fn)dlsym(lib, "cuDeviceGet");
  cu_default_pool = (default_pool_fn)dlsym(lib, "cuDeviceGetDefaultMemPool");
  cu_get_attr = (pool_attr_fn)dlsym(lib, "cuMemPoolGetAttribute");
  cu_set_attr = (pool_attr_fn)dlsym(lib, "cuMemPoolSetAttribute");
  if (cu_init && cu_device_get && cu_default_pool && cu_get_attr && cu_set_attr &&
      cu_init(0) == 0)
    state = 1;
  return state;
}

static void* pool_of(SEXP device) {
  int ordinal = Rf_asInteger(device), dev = 0;
  void* pool = NULL;
  if (!load_driver() || cu_device_get(&dev, ordinal) != 0 || cu_default_pool(&pool, dev) != 0)
    return NULL;
  return pool;
}

static double attribute(void* pool, int attr) {
  uint64_t v = 0;
  return cu_get_attr(pool, attr, &v) == 0 ? (double)v : NA_REAL;
}

SEXP pool_peak_reset(SEXP device) {
  void* pool = pool_of(device);
  if (!pool) return Rf_ScalarReal(NA_REAL);
  uint64_t zero = 0;  /* the only value accepted: resets the mark to the current use */
  cu_set_attr(pool, ATTR_USED_MEM_HIGH, &zero);
  cu_set_attr(pool, ATTR_RESERVED_MEM_HIGH, &zero);
  return Rf_ScalarReal(attribute(pool, ATTR_USED_MEM_CURRENT));
}

SEXP pool_peak_read(SEXP device) {
  SEXP out = PROTECT(Rf_allocVector(REALSXP, 4));
  void* pool = pool_of(device);
  const int attrs[4] = {ATTR_USED_MEM_CURRENT, ATTR_USED_MEM_HIGH, ATTR_RESERVED_MEM_CURRENT,
                        ATTR_RESERVED_MEM_HIGH};
  for (int k = 0; k < 4; ++k) REAL(out)[k] = pool ? attribute(pool, attrs[k]) : NA_REAL;
  UNPROTECT(1);
  return out;
}

// Rcpp glue for the device memory budget (core/memory_budget.h) and what
// users see of out-of-core streaming: the budget, what cellshard holds, and
// the link's measured bandwidth.
#include <Rcpp.h>

#include "core/backend.h"
#include "core/memory_budget.h"
#include "core/shard_stream.h"
#include "r_handle.h"

using namespace cellshard;

// [[Rcpp::export]]
void cs_set_memory_budget(double bytes) { set_memory_budget(bytes); }

// One row per device: budget, resident limit, bytes held, size of a streamed
// shard; and the bytes held in pinned host memory.
// [[Rcpp::export]]
Rcpp::List cs_budget_info(Rcpp::IntegerVector devices) {
  CS_R_BEGIN
  Rcpp::NumericVector budget, limit, held, shard;
  for (int d : devices) {
    budget.push_back(double(memory_budget(d)));
    limit.push_back(double(resident_limit(d)));
    held.push_back(double(held_bytes(d)));
    shard.push_back(double(stream_shard_bytes(d)));
  }
  return Rcpp::List::create(Rcpp::_["budget"] = budget, Rcpp::_["resident_limit"] = limit,
                            Rcpp::_["held"] = held, Rcpp::_["stream_shard"] = shard,
                            Rcpp::_["pinned"] = double(held_bytes(kPinned)),
                            Rcpp::_["user_budget"] = user_memory_budget());
  CS_R_END
}

// [[Rcpp::export]]
double cs_upload_bandwidth(int device) {
  CS_R_BEGIN
  return link_bandwidth(device, true);
  CS_R_END
}

// Device -> pinned host, for benchmarks of what streaming writes back.
// [[Rcpp::export]]
double cs_download_bandwidth(int device) {
  CS_R_BEGIN
  return link_bandwidth(device, false);
  CS_R_END
}

// Bytes streamed so far: staged into the devices, written back to pinned memory.
// [[Rcpp::export]]
Rcpp::NumericVector cs_stream_counters() {
  StreamCounters c = stream_counters();
  return Rcpp::NumericVector::create(Rcpp::_["to_device"] = c.to_device,
                                     Rcpp::_["to_host"] = c.to_host);
}

// Rcpp glue: runs a long core operation so that R can show its progress and
// the user can interrupt it, without any thread but R's main one calling R.
#pragma once
#include <Rcpp.h>

#include <functional>

namespace cellshard {

// With `reporter` NULL, runs `work` here, on R's main thread: nothing changes.
// With an R function(phase, done, total), runs `work` on a worker thread under
// a current Progress (core/progress.h), while this thread calls the reporter
// a few times a second and checks for the user's interrupt. On an interrupt
// (or an error in the reporter), the workers are asked to stop at their next
// unit of work and joined before the condition goes on to R; the work's own
// exceptions are rethrown here. `work` must not touch R objects: copy inputs
// to C++ containers first, and write results into memory allocated before.
void run_with_progress(SEXP reporter, const std::function<void()>& work);

}  // namespace cellshard

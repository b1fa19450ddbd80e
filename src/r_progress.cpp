#include "r_progress.h"

#include <chrono>
#include <exception>
#include <string>
#include <thread>

#include "core/progress.h"

namespace cellshard {

void run_with_progress(SEXP reporter, const std::function<void()>& work) {
  if (Rf_isNull(reporter)) {
    work();
    return;
  }
  Rcpp::Function report(reporter);
  Progress progress;
  ProgressScope scope(&progress);
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
    progress.finish();
  });
  try {
    // Five reports a second: cheap for R, smooth enough for a progress bar.
    while (!progress.wait_finished(std::chrono::milliseconds(200))) {
      Rcpp::checkUserInterrupt();
      report(std::string(progress.phase_name()), double(progress.done()), double(progress.total()));
    }
  } catch (...) {
    progress.request_stop();
    worker.join();
    throw;
  }
  worker.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace cellshard

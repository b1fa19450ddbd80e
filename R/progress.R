# Progress of long calls into the device code, shown with cli.
#
# The C++ side (src/r_progress.h) runs the work on a worker thread and, from
# R's main thread, calls the reporter made here a few times a second with the
# phase the work is in and how far it has got. Only that thread calls R, so
# the device threads never do. Without a reporter (NULL: quiet) the work runs
# as if there were no progress at all.

# A reporter for the C++ work of `what` (a verb's name), or NULL when quiet:
# `show` defaults to options(cellshard.verbose), which is FALSE outside
# interactive sessions. Each phase gets a cli bar (a spinner when the work
# cannot be counted), shown only once the phase has taken 2 s (cli's
# cli.progress_show_after) and left on screen with its time; bars close when
# the frame `envir` (the verb's) exits, whatever way it exits.
.progressReporter <- function(what, show = .verbose(), envir = parent.frame()) {
    if (!isTRUE(show)) return(NULL)
    bar <- NULL
    current <- NULL
    function(phase, done, total) {
        if (!identical(phase, current)) {
            if (!is.null(bar)) cli::cli_progress_done(id = bar, .envir = envir)
            current <<- phase
            counted <- total > 1  # one unit (one shard) would sit at 0% until done
            format <- if (counted)
                "{cli::pb_name}{cli::pb_bar} {cli::pb_percent} | ETA {cli::pb_eta}" else
                "{cli::pb_name}{cli::pb_spin} {cli::pb_elapsed}"
            bar <<- cli::cli_progress_bar(
                name = paste0(what, ": ", phase), total = if (counted) total else NA,
                format = format, format_done = "{cli::pb_name}done in {cli::pb_elapsed}",
                clear = FALSE, .envir = envir)
        }
        if (is.null(bar)) return(invisible(NULL))  # this phase's bar reached its total
        cli::cli_progress_update(id = bar, set = if (total > 1) done else NULL,
                                 force = FALSE, .envir = envir)
        # cli closes a bar that reaches its total; another update of it is an error
        if (total > 1 && done >= total) bar <<- NULL
        invisible(NULL)
    }
}

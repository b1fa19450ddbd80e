# Every call into the device code goes through .deviceCall(), which turns the
# C++ side's tagged messages into R conditions a user can act on:
# - out of memory: run gc() (device memory held by unreachable R objects is
#   freed by their finalizers) and try once more, then signal a condition of
#   class "cellshard_out_of_memory";
# - stale handle: say how to bring the data back.

.tagged <- function(e, tag) grepl(tag, conditionMessage(e), fixed = TRUE)
.untag <- function(msg) sub("^\\[cellshard:[a-z]+\\] ", "", msg)

.deviceCall <- function(expr, source = NULL) {
    expr <- substitute(expr)
    env <- parent.frame()
    run <- function() eval(expr, env)
    .applyBudget()
    tryCatch(run(), error = function(e) {
        if (.tagged(e, "[cellshard:oom]")) {
            gc(full = TRUE)
            return(tryCatch(run(), error = function(e2) .rethrow(e2, source)))
        }
        .rethrow(e, source)
    })
}

.rethrow <- function(e, source) {
    msg <- .untag(conditionMessage(e))
    if (.tagged(e, "[cellshard:oom]"))
        stop(errorCondition(msg, class = "cellshard_out_of_memory", call = NULL))
    if (.tagged(e, "[cellshard:stale]")) {
        hint <- .reloadHint(source)
        stop(errorCondition(paste0(msg, ". ", hint), class = "cellshard_stale_handle",
                            call = NULL))
    }
    stop(errorCondition(msg, class = "cellshard_error", call = NULL))
}

.reloadHint <- function(source) {
    if (is.list(source) && identical(source$format, "synthetic"))
        return(sprintf("Bring it back with %s", source$call))
    if (is.list(source) && length(source$path) && nzchar(source$path)) {
        reader <- switch(source$format, h5ad = "readH5AD", tenx_h5 = "read10xH5",
                         tenx_mtx = "read10xMtx", "readH5AD")
        return(sprintf("Bring it back with %s(\"%s\")", reader, source$path))
    }
    "Bring it back with toDevice() on the original in-memory object"
}

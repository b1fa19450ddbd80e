# Each top-level statement of computePCA's body, as the package has it, timed
# on its own on `out`'s scaled matrix (runSeedPipeline's result): where the
# time of PCA goes, R included. The statements are evaluated one by one in a
# frame of the cellshard namespace with computePCA's arguments bound, so this
# follows the code as it changes. Median of `reps` runs (default 1) after a
# warm-up; R's garbage collected before each run, outside the clock. Sourced
# by bench/seed_share.R and bench/pca_parts.R with `out` defined.
local({
    ns <- asNamespace("cellshard")
    reps <- if (exists("reps", envir = globalenv())) get("reps", envir = globalenv()) else 1L
    clock <- function() proc.time()[["elapsed"]]
    statements <- as.list(body(ns$computePCA))[-1]
    labels <- vapply(statements, function(s) {
        text <- paste(trimws(deparse(s, width.cutoff = 500L)), collapse = " ")
        if (nchar(text) > 70) paste0(substr(text, 1, 67), "...") else text
    }, "")
    one_run <- function() {
        frame <- new.env(parent = ns)
        frame$sce <- out; frame$ncomponents <- 100; frame$zero.center <- TRUE
        frame$subset.row <- NULL; frame$assay.type <- NULL; frame$name <- "PCA"
        invisible(gc())
        seconds <- numeric(length(statements))
        for (i in seq_along(statements)) {
            t0 <- clock()
            eval(statements[[i]], frame)
            seconds[i] <- clock() - t0
        }
        list(seconds = seconds, phases = frame$seconds)
    }
    invisible(one_run())  # warm-up
    runs <- lapply(seq_len(reps), function(r) one_run())
    per_statement <- apply(do.call(rbind, lapply(runs, `[[`, "seconds")), 2, median)
    phases <- apply(do.call(rbind, lapply(runs, `[[`, "phases")), 2, median)
    cat(sprintf("\ncomputePCA statement by statement, median of %d runs (s):\n", reps))
    for (i in order(-per_statement)[seq_len(min(12, length(per_statement)))])
        cat(sprintf("  %7.4f  %s\n", per_statement[i], labels[i]))
    cat(sprintf("  %7.4f  all statements\n", sum(per_statement)))
    cat("its phases (metadata(sce)$PCA$seconds):\n")
    print(round(phases, 4))
})

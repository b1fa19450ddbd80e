# Damaged files must give R errors, never take the R session down. Seeded
# random byte changes and truncations of a small h5ad file and a 10x .h5 are
# read in a child R process, so that a crash (in cellshard or in libhdf5)
# shows as a failure naming the case instead of killing this session.

test_that("randomly damaged h5ad and 10x .h5 files give errors, never a crash", {
    sources <- list(h5ad = fixture("csr_f32.h5ad"),
                    tenx = system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"))
    if (!nzchar(sources$tenx)) sources$tenx <- fixture("tenx_v2.h5")
    dir <- tempfile("fuzz")
    dir.create(dir)
    set.seed(20261125)
    cases <- data.frame(file = character(), kind = character(), change = character())
    for (kind in names(sources)) {
        bytes <- readBin(sources[[kind]], "raw", file.size(sources[[kind]]))
        for (k in seq_len(150)) {
            b <- bytes
            if (stats::runif(1) < 0.7) {
                n <- sample.int(16, 1)
                at <- sample.int(length(b), n)
                b[at] <- as.raw(sample.int(256, n, replace = TRUE) - 1L)
                change <- paste(n, "bytes changed at", paste(at - 1L, collapse = ","))
            } else {
                keep <- sample.int(length(b) - 1L, 1)
                b <- b[seq_len(keep)]
                change <- paste("truncated to", keep, "bytes")
            }
            f <- file.path(dir, sprintf("%s_%03d.%s", kind, k, if (kind == "h5ad") "h5ad" else "h5"))
            writeBin(b, f)
            cases[nrow(cases) + 1, ] <- list(f, kind, change)
        }
    }
    log <- file.path(dir, "log.txt")
    script <- file.path(dir, "run.R")
    writeLines(c(
        sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
        "suppressPackageStartupMessages(library(cellshard))",
        sprintf("cases <- readRDS(%s)", deparse(file.path(dir, "cases.rds"))),
        sprintf("log <- file(%s, 'w')", deparse(log)),
        "for (i in seq_len(nrow(cases))) {",
        "  writeLines(paste('start', i), log); flush(log)",
        "  res <- tryCatch({",
        "    if (cases$kind[i] == 'h5ad') readH5AD(cases$file[i], devices = 'cpu', shards = 2)",
        "    else read10xH5(cases$file[i], devices = 'cpu', shards = 2)",
        "    'ok' }, error = function(e) paste('error', gsub('\\n', ' ', conditionMessage(e))))",
        "  writeLines(paste('end', i, res), log); flush(log)",
        "}",
        "writeLines('done', log); close(log)"), script)
    saveRDS(cases, file.path(dir, "cases.rds"))
    rscript <- file.path(R.home("bin"), "Rscript")
    status <- suppressWarnings(system2(rscript, shQuote(script), stdout = FALSE, stderr = FALSE,
                                       timeout = 900))
    lines <- readLines(log)
    if (!identical(lines[length(lines)], "done")) {
        last <- as.integer(sub("start ", "", grep("^start", lines, value = TRUE)))
        last <- last[length(last)]
        fail(sprintf("the reading process died (status %s) on case %d: %s (%s); file kept at %s",
                     format(status), last, cases$kind[last], cases$change[last], cases$file[last]))
        return()
    }
    ends <- grep("^end", lines, value = TRUE)
    expect_length(ends, nrow(cases))
    errors <- sub("^end [0-9]+ error ", "", grep("^end [0-9]+ error", ends, value = TRUE))
    # Every error names the damaged file.
    named <- vapply(seq_along(ends), function(i) {
        !startsWith(ends[i], sprintf("end %d error", i)) || grepl(basename(cases$file[i]), ends[i], fixed = TRUE)
    }, logical(1))
    expect_true(all(named), info = paste(ends[!named], collapse = "\n"))
    expect_gt(length(errors), nrow(cases) / 2)
    unlink(dir, recursive = TRUE)
})

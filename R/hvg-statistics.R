# Highly variable genes: everything after the per-gene sums.
#
# The devices reduce the cells to per-gene moments (mean and variance with
# ddof = 1, and for seurat_v3 the sums of clipped values); the functions here
# turn those into scanpy's columns and selections, in float64 on the host.
# The reference is scanpy's pp.highly_variable_genes (SPEC.md section 4); where
# scanpy and the SPEC differ, the comment at that spot says which one we follow.

# ---------------------------------------------------------------------------
# Dispersion flavours: cell_ranger and seurat
# ---------------------------------------------------------------------------

# flavor = "cell_ranger" on per-gene mean and variance of the log-normalised
# values (no expm1). Returns data.frame(means, dispersions, dispersions_norm,
# highly_variable), one row per gene, named after `means` when it has names.
# With n.top the cut-offs are ignored (scanpy warns when they are passed too;
# here the caller decides).
.hvgCellRanger <- function(means, variances, n.top = NULL, min.mean = 0.0125,
                           max.mean = 3, min.disp = 0.5, max.disp = Inf) {
    .hvgCheckMoments(means, variances)
    means[means == 0] <- 1e-12
    dispersions <- variances / means
    bins <- .hvgPercentileBins(means)
    dispersions_norm <- .hvgNormaliseMedianMad(dispersions, bins)
    .hvgDispersionResult(means, dispersions, dispersions_norm, n.top,
                         min.mean, max.mean, min.disp, max.disp)
}

# flavor = "seurat". `means` and `variances` are those of expm1(x) (the caller
# undoes the log, including a log1p base, before the device pass). Dispersion
# and mean are then taken to the log scale, as Seurat's mean.var.plot does.
.hvgSeurat <- function(means, variances, n.top = NULL, n.bins = 20, min.mean = 0.0125,
                       max.mean = 3, min.disp = 0.5, max.disp = Inf) {
    .hvgCheckMoments(means, variances)
    means[means == 0] <- 1e-12
    dispersions <- variances / means
    dispersions[dispersions == 0] <- NaN
    dispersions <- log(dispersions)
    means <- log1p(means)
    bins <- .hvgEqualWidthBins(means, n.bins)
    dispersions_norm <- .hvgNormaliseMeanSd(dispersions, bins)
    .hvgDispersionResult(means, dispersions, dispersions_norm, n.top,
                         min.mean, max.mean, min.disp, max.disp)
}

.hvgCheckMoments <- function(means, variances) {
    if (!is.numeric(means) || !is.numeric(variances) || length(means) != length(variances))
        stop("'means' and 'variances' must be numeric vectors of the same length")
    invisible(TRUE)
}

# Assembles the four columns and applies the selection rule.
.hvgDispersionResult <- function(means, dispersions, dispersions_norm, n.top,
                                 min.mean, max.mean, min.disp, max.disp) {
    highly_variable <- if (is.null(n.top)) {
        .hvgSelectCutoffs(means, dispersions_norm, min.mean, max.mean, min.disp, max.disp)
    } else {
        .hvgSelectTop(dispersions_norm, n.top)
    }
    data.frame(means = unname(means), dispersions = unname(dispersions),
               dispersions_norm = unname(dispersions_norm),
               highly_variable = unname(highly_variable),
               row.names = .hvgUniqueNames(names(means)))
}

# Gene names for row names, or NULL when there are none or they repeat
# (data.frame refuses repeated row names; rows stay in input order anyway).
.hvgUniqueNames <- function(genes) {
    if (is.null(genes) || anyDuplicated(genes)) NULL else genes
}

# A data.frame's gene names, or NULL when its row names are the automatic 1..n.
.hvgGeneNames <- function(df) {
    if (.row_names_info(df) < 0) NULL else rownames(df)
}

# ---------------------------------------------------------------------------
# Binning of the means
# ---------------------------------------------------------------------------

# cell_ranger bins: edges -Inf, p10, p15, ..., p100, +Inf of the means,
# right-closed. scanpy (pandas.cut) raises on duplicate edges, which happen
# when many genes share a mean; we merge them and say how many bins went.
# Returns the bin number of each gene.
.hvgPercentileBins <- function(means) {
    edges <- c(-Inf, .hvgPercentile(means, seq(10, 100, by = 5) / 100), Inf)
    merged <- length(edges) - length(unique(edges))
    if (merged > 0)
        warning(sprintf(paste0("cell_ranger: %d of the %d percentile bins of the means ",
                               "had duplicate edges and were merged into their neighbours"),
                        merged, length(edges) - 1L), call. = FALSE)
    .hvgRightClosedBin(means, unique(edges))
}

# numpy.percentile's default ("linear") on probabilities q in [0, 1]. R's
# quantile(type = 7) is the same rule; this copies numpy's arithmetic so that
# an edge equal to a gene's mean is the same double in both.
.hvgPercentile <- function(x, q) {
    s <- sort(x)
    n <- length(s)
    v <- (n - 1) * q
    lo <- floor(v)
    at_end <- v >= n - 1
    lo[at_end] <- n - 1
    a <- s[lo + 1]
    b <- s[pmin(lo + 2, n)]
    .hvgLerp(a, b, ifelse(at_end, 0, v - lo))
}

# numpy's _lerp: from the nearer end, so that t = 1 gives b exactly.
.hvgLerp <- function(a, b, t) {
    d <- b - a
    ifelse(t >= 0.5, b - d * (1 - t), a + d * t)
}

# seurat bins: pandas.cut(x, n.bins). Equal-width edges over [min, max] as
# numpy.linspace computes them; only the first edge moves down by 0.1% of the
# range (pandas, right-closed; R's cut() moves both ends), and a constant x
# gets the range +-0.1% around it.
.hvgEqualWidthBins <- function(x, n.bins) {
    stopifnot(length(n.bins) == 1, n.bins >= 1)
    rng <- range(x, na.rm = TRUE)
    mn <- rng[1]
    mx <- rng[2]
    if (mn == mx) {
        mn <- mn - if (mn != 0) 0.001 * abs(mn) else 0.001
        mx <- mx + if (mx != 0) 0.001 * abs(mx) else 0.001
        edges <- .hvgLinspace(mn, mx, n.bins + 1)
    } else {
        edges <- .hvgLinspace(mn, mx, n.bins + 1)
        edges[1] <- edges[1] - (mx - mn) * 0.001
    }
    .hvgRightClosedBin(x, edges)
}

.hvgLinspace <- function(from, to, n) {
    out <- from + (seq_len(n) - 1) * ((to - from) / (n - 1))
    out[n] <- to
    out
}

# Bin k holds edges[k] < x <= edges[k + 1] (pandas.cut, right = TRUE).
.hvgRightClosedBin <- function(x, edges) {
    findInterval(x, edges, left.open = TRUE)
}

# ---------------------------------------------------------------------------
# Normalisation of the dispersions within bins
# ---------------------------------------------------------------------------

# cell_ranger: (d - median) / (MAD / Phi^-1(3/4)) within each bin. The median
# skips NaN (pandas' groupby median); the MAD is statsmodels' robust.mad,
# median(|d - median(d)| / c), which is NaN when the bin holds a NaN.
.hvgNormaliseMedianMad <- function(dispersions, bins) {
    avg <- .hvgPerBin(dispersions, bins, function(d) stats::median(d[!is.na(d)]))
    dev <- .hvgPerBin(dispersions, bins, .hvgMadNormal)
    .hvgAsNaN((dispersions - avg) / dev)
}

.hvgMadNormal <- function(d) {
    if (anyNA(d)) return(NaN)
    stats::median(abs(d - stats::median(d)) / 0.6744897501960817)
}

# seurat: z-score within each bin (mean and sd with ddof = 1, skipping NaN).
# Where the sd is undefined (a bin with a single non-NaN dispersion) scanpy
# divides by the bin mean instead and subtracts 0, so that gene gets 1.
.hvgNormaliseMeanSd <- function(dispersions, bins) {
    avg <- .hvgPerBin(dispersions, bins, function(d) mean(d[!is.na(d)]))
    dev <- .hvgPerBin(dispersions, bins, function(d) stats::sd(d[!is.na(d)]))
    single <- is.na(dev)
    dev[single] <- avg[single]
    avg[single] <- 0
    .hvgAsNaN((dispersions - avg) / dev)
}

# Applies `stat` to the values of each bin; returns it for every gene.
.hvgPerBin <- function(values, bins, stat) {
    per_bin <- vapply(split(values, bins), stat, numeric(1))
    unname(per_bin[as.character(bins)])
}

# Undefined results are NaN, as in scanpy (R's median/sd of nothing give NA).
.hvgAsNaN <- function(x) {
    x[is.na(x)] <- NaN
    x
}

# ---------------------------------------------------------------------------
# Selection rules
# ---------------------------------------------------------------------------

# Without n.top: strict bounds on the mean and the normalised dispersion.
# scanpy HEAD passes the normalised dispersion through numpy.nan_to_num
# first (NaN -> 0, +-Inf -> +-largest double), so with a negative min.disp a
# NaN gene passes, and +Inf passes max.disp = Inf. We follow scanpy here.
.hvgSelectCutoffs <- function(means, dispersions_norm, min.mean, max.mean,
                              min.disp, max.disp) {
    d <- .hvgNanToNum(dispersions_norm)
    means > min.mean & means < max.mean & d > min.disp & d < max.disp
}

.hvgNanToNum <- function(x) {
    x[is.na(x)] <- 0
    x[x == Inf] <- .Machine$double.xmax
    x[x == -Inf] <- -.Machine$double.xmax
    x
}

# With n.top: every gene whose normalised dispersion is >= the n-th largest
# non-NaN one (ties can select more than n.top); NaN never passes unless the
# cut-off is -Inf. SPEC.md's rule (NaN counts as -Inf) is followed as written:
# scanpy HEAD also clamps +-Inf to +-largest double before comparing, which
# would drop every gene when the cut-off itself is +Inf; we keep infinities.
.hvgSelectTop <- function(dispersions_norm, n.top) {
    cutoff <- .hvgNthHighest(dispersions_norm, n.top)
    if (is.na(cutoff)) return(rep(FALSE, length(dispersions_norm)))
    d <- dispersions_norm
    d[is.na(d)] <- -Inf
    d >= cutoff
}

# The n-th largest non-NaN value. When there are fewer than n (n.top larger
# than the number of genes, or NaN dispersions), all of them are used and a
# warning says so; with none at all the result is NA (scanpy fails there).
.hvgNthHighest <- function(x, n) {
    .hvgCheckNTop(n)
    x <- x[!is.na(x)]
    if (n > length(x)) {
        warning(sprintf(paste0("n.top (%d) is larger than the number of genes with a ",
                               "normalised dispersion (%d); all of them are selected"),
                        as.integer(n), length(x)), call. = FALSE)
        n <- length(x)
    }
    if (n == 0) return(NA_real_)
    sort(x, decreasing = TRUE)[n]
}

.hvgCheckNTop <- function(n.top) {
    if (length(n.top) != 1 || is.na(n.top) || n.top < 1 || n.top != round(n.top))
        stop("'n.top' must be a single positive whole number")
    invisible(TRUE)
}

# ---------------------------------------------------------------------------
# Batches for cell_ranger and seurat
# ---------------------------------------------------------------------------

# A per-batch result computed on the genes detected in that batch (`detected`:
# logical over all genes, TRUE for the rows of `df`), expanded to all genes
# as scanpy does: every column 0 (highly_variable FALSE) for the others.
.hvgFillUndetected <- function(df, detected, genes = NULL) {
    stopifnot(is.logical(detected), nrow(df) == sum(detected))
    full <- data.frame(means = numeric(length(detected)), dispersions = 0,
                       dispersions_norm = 0, highly_variable = FALSE)
    full[detected, ] <- df[, names(full)]
    if (!is.null(genes)) rownames(full) <- genes
    full
}

# Combines per-batch results (a list of data.frames from .hvgCellRanger or
# .hvgSeurat, each over all genes in the same order, undetected genes filled
# by .hvgFillUndetected). means, dispersions and dispersions_norm are averaged
# over batches skipping NaN (pandas' groupby mean). With n.top: order by the
# number of batches in which a gene is selected, then by dispersions_norm
# (both descending, NaN last) and take exactly n.top; remaining ties keep
# scanpy's order, which is by gene name (its groupby sorts them) when the
# data.frames have row names. Without n.top: the cut-offs on the averages,
# NaN dispersions_norm set to 0 first (and kept as 0 in the result), as scanpy
# does; infinities are not clamped there.
.hvgCombineBatches <- function(per_batch, n.top = NULL, min.mean = 0.0125, max.mean = 3,
                               min.disp = 0.5, max.disp = Inf) {
    stopifnot(is.list(per_batch), length(per_batch) >= 1,
              length(unique(vapply(per_batch, nrow, integer(1)))) == 1)
    column <- function(name) do.call(cbind, lapply(per_batch, function(df) df[[name]]))
    out <- data.frame(means = rowMeans(column("means"), na.rm = TRUE),
                      dispersions = .hvgAsNaN(rowMeans(column("dispersions"), na.rm = TRUE)),
                      dispersions_norm = .hvgAsNaN(rowMeans(column("dispersions_norm"),
                                                            na.rm = TRUE)),
                      row.names = .hvgGeneNames(per_batch[[1]]))
    nbatches <- as.integer(rowSums(column("highly_variable")))
    if (is.null(n.top)) {
        out$dispersions_norm[is.na(out$dispersions_norm)] <- 0
        out$highly_variable <- out$means > min.mean & out$means < max.mean &
            out$dispersions_norm > min.disp & out$dispersions_norm < max.disp
    } else {
        out$highly_variable <- .hvgTopByBatchCount(nbatches, out$dispersions_norm,
                                                   n.top, .hvgNameOrder(per_batch[[1]]))
    }
    out$highly_variable_nbatches <- nbatches
    out$highly_variable_intersection <- nbatches == length(per_batch)
    out
}

# Exactly n.top genes (all genes when there are fewer, with a warning).
.hvgTopByBatchCount <- function(nbatches, dispersions_norm, n.top, tie_key) {
    .hvgCheckNTop(n.top)
    if (n.top > length(nbatches)) {
        warning(sprintf("n.top (%d) is larger than the number of genes (%d); all are selected",
                        as.integer(n.top), length(nbatches)), call. = FALSE)
    }
    o <- order(-nbatches, -dispersions_norm, tie_key, na.last = TRUE)
    seq_along(nbatches) %in% o[seq_len(min(n.top, length(o)))]
}

# Position of each gene in byte (code point) order of the row names, the
# order Python sorts strings in; the row position when there are no names.
.hvgNameOrder <- function(df) {
    genes <- .hvgGeneNames(df)
    if (is.null(genes)) return(seq_len(nrow(df)))
    match(genes, sort(unique(genes), method = "radix"))
}

# ---------------------------------------------------------------------------
# seurat_v3 / seurat_v3_paper (raw counts), around the device's clipped sums
# ---------------------------------------------------------------------------

# First half, per batch: the loess trend of log10(variance) on log10(mean)
# over the non-constant genes (R's stats::loess is the reference Seurat and
# scikit-misc both reproduce), its regularised sd, and the value at which each
# gene's counts are clipped. Constant genes get reg_std 1, as in scanpy (their
# standardised variance is 0 whatever it is).
.seuratV3Clip <- function(means, variances, n.cells, span = 0.3) {
    .hvgCheckMoments(means, variances)
    not_const <- variances > 0
    if (sum(not_const) < 2)
        stop("seurat_v3 needs at least two genes with non-zero variance in every batch")
    trend <- numeric(length(means))
    trend[not_const] <- .seuratV3Trend(means[not_const], variances[not_const], span)
    reg_std <- sqrt(10^trend)
    list(not_const = unname(not_const), reg_std = unname(reg_std),
         clip = unname(reg_std * sqrt(n.cells) + means))
}

# Fitted log10 variance of the loess (degree 2, interpolated surface).
.seuratV3Trend <- function(means, variances, span) {
    fit_data <- data.frame(log_mean = log10(unname(means)), log_var = log10(unname(variances)))
    fit <- stats::loess(log_var ~ log_mean, data = fit_data, span = span, degree = 2)
    unname(stats::fitted(fit))
}

# Second half, per batch: the variance of the clipped, standardised values,
# from the sums of min(x, clip) and min(x, clip)^2 over the batch's cells.
# Constant genes get exactly 0 (scanpy's formula gives 0 up to rounding).
.seuratV3Finish <- function(means, variances, reg_std, clip_sum, clip_sumsq, n.cells) {
    norm_var <- (n.cells * means^2 + clip_sumsq - 2 * clip_sum * means) /
        ((n.cells - 1) * reg_std^2)
    norm_var[!(variances > 0)] <- 0
    unname(norm_var)
}

# Ranking across batches. `norm_var_by_batch`: genes x batches matrix of the
# standardised variances. Per batch the rank is the 0-based position by
# decreasing norm_var (ties: lower gene index first; numpy's unstable argsort
# may break exact ties otherwise); ranks >= n.top do not count. Returns
# highly_variable_rank (median of the counted ranks, NA where none count; the
# rank itself with one batch), highly_variable_nbatches (batches with a
# counted rank), highly_variable (exactly n.top genes) and variances_norm
# (the mean over batches). seurat_v3 orders by (rank, -nbatches),
# seurat_v3_paper by (-nbatches, rank), NA ranks last, stable.
.seuratV3Select <- function(norm_var_by_batch, n.top,
                            flavor = c("seurat_v3", "seurat_v3_paper")) {
    flavor <- match.arg(flavor)
    .hvgCheckNTop(n.top)
    nv <- as.matrix(norm_var_by_batch)
    if (n.top > nrow(nv))
        warning(sprintf("n.top (%d) is larger than the number of genes (%d); all are selected",
                        as.integer(n.top), nrow(nv)), call. = FALSE)
    ranks <- matrix(apply(nv, 2, .seuratV3Ranks), nrow = nrow(nv))
    nbatches <- as.integer(rowSums(ranks < n.top))
    ranks[ranks >= n.top] <- NA
    rank <- apply(ranks, 1, function(r) stats::median(r, na.rm = TRUE))
    rank[is.nan(rank)] <- NA
    o <- switch(flavor,
                seurat_v3 = order(rank, -nbatches, na.last = TRUE),
                seurat_v3_paper = order(-nbatches, rank, na.last = TRUE))
    data.frame(highly_variable_rank = as.numeric(rank),
               highly_variable_nbatches = nbatches,
               highly_variable = seq_len(nrow(nv)) %in% o[seq_len(min(n.top, nrow(nv)))],
               variances_norm = rowMeans(nv),
               row.names = .hvgUniqueNames(rownames(nv)))
}

# 0-based rank by decreasing value, NaN last.
.seuratV3Ranks <- function(v) {
    r <- integer(length(v))
    r[order(-v, na.last = TRUE)] <- seq_along(v) - 1L
    r
}

# chefsi's sweeps on a known spectrum, in the eigenbasis (A = diag(lambda)),
# on the CPU: the same filter choices (src/core/chebyshev_filter.cpp, ported
# below), locking, deflation, Cholesky QR and Rayleigh-Ritz steps as
# src/cuda/chefsi_on_device.cu, so that the products with A, the sweeps and
# their degrees can be counted for other settings without a GPU. A product
# with diag(lambda) costs n x width here, not n^2 x width, so a whole solve
# takes seconds. The spectrum comes from bench/pca_spectrum.R (the seed
# pipeline's PCA matrix, one eigenvalue a line); the package's own count on
# it (sweeps, degrees, products) is what the first row should reproduce.
#   Rscript bench/chefsi_simulate.R spectrum.txt [k] [settings ...]
# Each setting is name=value[,name=value...] over block, tolerance,
# value_tolerance, max_degree, min_degree, max_ratio, low, estimates (how many
# of the first blocks, the start block's then the first sweep's, give the
# next filter their Rayleigh quotients in place of a Rayleigh-Ritz step: the
# package's 1 since session 21, 0 before; 2 made a Cholesky QR fail here on
# the geometric spectrum 1 + 100 x 0.97^i) (the package's defaults otherwise)
# and seed (the random start block's), e.g. "max_degree=72"
# "block=192,max_degree=90".
args <- commandArgs(trailingOnly = TRUE)
spectrum <- sort(scan(args[1], quiet = TRUE), decreasing = TRUE)
k <- if (length(args) >= 2) as.integer(args[2]) else 100L
settings <- if (length(args) >= 3) args[-(1:2)] else "default"

growth <- function(x) acosh(pmax(1, abs(x)))

# src/core/chebyshev_filter.cpp
chebyshev_filter <- function(theta, residual, wanted, target, ceiling, lim) {
    pa <- length(theta)
    wanted <- min(wanted, pa)
    high <- theta[1]; top <- theta[pa]
    width <- max(1e-6 * max(abs(top), abs(high)), 1e-300)
    low <- min(lim$low, high - width)
    center <- 0.5 * (high + low); half <- 0.5 * (high - low)
    mapped <- function(t) (t - center) / half
    scale_point <- max(1, mapped(theta[pa - wanted + 1]))
    need <- 0
    for (i in (pa - wanted + 1):pa) {
        r <- residual[i] / target
        if (!(r > 1)) next
        g <- growth(mapped(theta[i]))
        need <- max(need, if (g > 0) ceiling(acosh(r) / g) else lim$max_degree)
    }
    degree <- max(lim$min_degree, min(need, lim$max_degree))
    spread <- growth(mapped(max(top, ceiling))) - growth(scale_point)
    if (spread > 0) degree <- min(degree, max(1, floor(log(lim$max_ratio) / spread)))
    if (growth(scale_point) > 0) degree <- min(degree, floor(600 / growth(scale_point)))
    list(degree = max(1, degree), center = center, half = half, s = scale_point)
}

chebyshev_steps <- function(f) {
    c0 <- f$center; e <- f$half; s <- f$s
    steps <- list(c(1 / (e * s), -c0 / (e * s), 0))
    rho_prev <- 1; rho <- s
    if (f$degree > 1) for (j in 1:(f$degree - 1)) {
        rho_next <- 2 * s * rho - rho_prev
        alpha <- 2 * rho / (e * rho_next)
        steps[[length(steps) + 1]] <- c(alpha, -c0 * alpha, -rho_prev / rho_next)
        rho_prev <- rho; rho <- rho_next
    }
    steps
}

# Cholesky QR twice, columns scaled to unit length first (no shifted retry:
# a failure stops the simulation).
orthonormalize <- function(x) {
    x <- sweep(x, 2, sqrt(colSums(x^2)), "/")
    for (pass in 1:2) x <- x %*% solve(chol(crossprod(x)))
    x
}

simulate <- function(lambda, k, o) {
    n <- length(lambda)
    p <- min(max(o$block, k), n)
    set.seed(o$seed)
    products <- 0
    multiply <- function(y) { products <<- products + ncol(y); lambda * y }
    rayleigh_ritz <- function(x) {
        y <- multiply(x)
        h <- crossprod(x, y); h <- (h + t(h)) / 2
        e <- eigen(h, symmetric = TRUE)
        w <- e$vectors[, ncol(h):1, drop = FALSE]
        theta <- rev(e$values)
        xw <- x %*% w; yw <- y %*% w
        list(x = xw, z = yw, theta = theta,
             residual = sqrt(colSums((yw - sweep(xw, 2, theta, "*"))^2)))
    }
    # the block's Rayleigh quotients and residuals, not rotated (no
    # eigensolver): only bounds for the next filter, nothing locked
    quotients <- function(x) {
        y <- multiply(x)
        q <- colSums(x * y)
        list(x = x, z = y, theta = q, residual = sqrt(colSums((y - sweep(x, 2, q, "*"))^2)),
             estimate = TRUE)
    }
    x <- orthonormalize(matrix(runif(n * p), n, p))
    rr <- if (o$estimates > 0) quotients(x) else rayleigh_ritz(x)
    v <- matrix(0, n, 0); theta_locked <- numeric()
    top <- 0; sweeps <- 0; trace <- NULL
    frobenius <- sqrt(sum(lambda^2))
    repeat {
        pa <- length(rr$theta)
        estimate <- isTRUE(rr$estimate)
        top <- max(top, abs(if (estimate) max(rr$theta) else rr$theta[pa]))
        # locking_residual() of chefsi_on_device.cu: tolerance x top, or for a
        # pair within 1% of both neighbours the residual whose square over
        # the distance to the block's lowest Ritz value is value_tolerance x
        # |theta| (the block's lowest pair stays strict)
        above <- if (length(theta_locked)) min(theta_locked) else Inf
        allowed <- function(i) {
            strict <- o$tolerance * top
            if (!(o$value_tolerance > 0) || i == 1) return(strict)
            t <- rr$theta[i]; near <- 0.01 * abs(t)
            up <- if (i < pa) rr$theta[i + 1] else above
            if (!(up - t <= near) || !(t - rr$theta[i - 1] <= near)) return(strict)
            gap <- t - rr$theta[1]
            if (gap > 0) max(strict, sqrt(o$value_tolerance * abs(t) * gap)) else strict
        }
        lock_now <- 0
        while (!estimate && lock_now < pa && ncol(v) + lock_now < k &&
               rr$residual[pa - lock_now] <= allowed(pa - lock_now)) lock_now <- lock_now + 1
        if (lock_now > 0) {
            take <- (pa - lock_now + 1):pa
            v <- cbind(v, rr$x[, take, drop = FALSE])
            theta_locked <- c(theta_locked, rr$theta[take])
            keep <- seq_len(pa - lock_now)
            rr <- list(x = rr$x[, keep, drop = FALSE], z = rr$z[, keep, drop = FALSE],
                       theta = rr$theta[keep], residual = rr$residual[keep])
            pa <- pa - lock_now
        }
        if (ncol(v) == k) break
        ord <- if (estimate) order(rr$theta) else seq_len(pa)  # the filter's bounds, ascending
        f <- chebyshev_filter(rr$theta[ord], rr$residual[ord], k - ncol(v), 0.1 * o$tolerance * top,
                              if (sweeps == 0) frobenius else 0, o)
        if (sweeps >= 40 || products + (f$degree + 1) * pa > 12 * n) return(NULL)
        sweeps <- sweeps + 1
        trace <- rbind(trace, c(degree = f$degree, active = pa, locked = ncol(v)))
        shift <- theta_locked - f$center
        deflate <- function(y, alpha) if (ncol(v)) alpha * v %*% (shift * crossprod(v, y)) else 0
        steps <- chebyshev_steps(f)
        s <- steps[[1]]
        cur <- s[1] * rr$z + s[2] * rr$x - deflate(rr$x, s[1])
        prev <- rr$x
        for (s in steps[-1]) {
            nxt <- s[1] * (multiply(cur) - f$center * cur) + s[3] * prev - deflate(cur, s[1])
            prev <- cur; cur <- nxt
        }
        x <- cur
        if (ncol(v)) for (pass in 1:2) x <- x - v %*% crossprod(v, x)
        x <- orthonormalize(x)
        rr <- if (sweeps < o$estimates) quotients(x) else rayleigh_ritz(x)
    }
    ord <- order(theta_locked, decreasing = TRUE)
    values <- theta_locked[ord]
    # A = diag(lambda): the exact j-th vector is e_j. Separated: more than 1%
    # from both neighbours (the SPEC holds their vectors).
    gaps <- -diff(lambda[1:(k + 1)]) / lambda[2:(k + 1)]
    separated <- gaps > 0.01 & c(TRUE, gaps[-k] > 0.01)
    cosines <- abs(v[cbind(1:k, ord)])
    list(products = products + k, sweeps = sweeps, trace = trace,
         value_error = max(abs(values - lambda[1:k]) / lambda[1:k]),
         min_cos = min(cosines[separated]), separated = sum(separated))
}

defaults <- list(estimates = 1, block = 128, tolerance = 1e-8, max_degree = 60, min_degree = 4,
                 max_ratio = 1e8, low = 0, seed = 20240611, value_tolerance = 1e-6)
cat(sprintf("%d eigenvalues (largest %.6g, %dth %.6g, smallest %.6g), k = %d\n", length(spectrum),
            spectrum[1], k, spectrum[k], spectrum[length(spectrum)], k))
for (setting in settings) {
    o <- defaults
    if (setting != "default") for (kv in strsplit(strsplit(setting, ",")[[1]], "=")) o[[kv[1]]] <- as.numeric(kv[2])
    t0 <- proc.time()[["elapsed"]]
    r <- simulate(spectrum, k, o)
    if (is.null(r)) { cat(sprintf("%-40s did not converge within the budget\n", setting)); next }
    cat(sprintf("%-40s products %6d (%.2f n), sweeps %d, degrees %s, active %s, locked %s, max rel. value error %.2g, separated vectors' min |cos| %.12f (%d pairs) (%.0f s)\n",
                setting, r$products, r$products / length(spectrum), r$sweeps,
                paste(r$trace[, "degree"], collapse = " "), paste(r$trace[, "active"], collapse = " "),
                paste(r$trace[, "locked"], collapse = " "), r$value_error, r$min_cos, r$separated,
                proc.time()[["elapsed"]] - t0))
}

; binary-trees (the Benchmarks Game workload) on sr-scheme.
; Builds and checks complete binary trees of pairs; a leaf is (() . ()).
;   sr-scheme examples/scheme/binary_trees.scm          (depth 10)
; bench/bench_scheme.c loads this file and calls (binary-trees N).
(define (make-tree d)
  (if (= d 0)
      (cons '() '())
      (let ((d2 (- d 1)))
        (cons (make-tree d2) (make-tree d2)))))

(define (check-tree t)
  (if (null? (car t))
      1
      (+ 1 (check-tree (car t)) (check-tree (cdr t)))))

(define (pow2 k) (let loop ((k k) (r 1)) (if (= k 0) r (loop (- k 1) (* r 2)))))

; Runs the benchmark for max depth n; prints the usual report when verbose
; and returns the sum of every check.
(define (binary-trees n verbose)
  (define min-depth 4)
  (define max-depth (max (+ min-depth 2) n))
  (define total 0)
  (define (report . xs) (when verbose (for-each display xs) (newline)))
  (let ((c (check-tree (make-tree (+ max-depth 1)))))
    (set! total c)
    (report "stretch tree of depth " (+ max-depth 1) "\t check: " c))
  (let ((long-lived (make-tree max-depth)))
    (do ((d min-depth (+ d 2))) ((> d max-depth))
      (let ((iterations (pow2 (+ (- max-depth d) min-depth))))
        (do ((i 0 (+ i 1)) (sum 0 (+ sum (check-tree (make-tree d)))))
            ((= i iterations)
             (set! total (+ total sum))
             (report iterations "\t trees of depth " d "\t check: " sum)))))
    (let ((c (check-tree long-lived)))
      (set! total (+ total c))
      (report "long lived tree of depth " max-depth "\t check: " c)))
  total)

(when (not (get-environment-variable "SR_SCHEME_NO_MAIN"))
  (binary-trees 10 #t))

;; arg: --stats
; --stats: every field of sr_stats, one `name: value` line each, on stderr at
; exit; the collections this program caused are among them.
(define (make-loop) (letrec ((self (lambda () self))) self))
(make-loop)
(display (collect-garbage))
(newline)

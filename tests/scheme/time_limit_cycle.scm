;; arg: --time-limit
;; arg: 200
;; status: 1
;; any-stdout
; display of a cyclic list ends at the time limit.
(define ring (list 1 2 3))
(set-cdr! (cddr ring) ring)
(display ring)

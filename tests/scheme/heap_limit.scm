;; arg: --heap-limit
;; arg: 400000
;; status: 1
; Running out of the heap limit is a clean error.
(define (grow l) (grow (cons (make-vector 10 0) l)))
(display "growing") (newline)
(grow '())

;; arg: --stack-limit
;; arg: 1000000
;; status: 1
; Unbounded non-tail recursion hits the stack limit: a clean error, no crash.
(define (down n) (+ 1 (down (+ n 1))))
(down 0)

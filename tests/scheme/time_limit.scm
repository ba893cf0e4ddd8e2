;; arg: --time-limit
;; arg: 200
;; status: 1
; A program running past --time-limit ends with a clean error.
(define (forever i) (forever (+ i 1)))
(display "looping") (newline)
(forever 0)

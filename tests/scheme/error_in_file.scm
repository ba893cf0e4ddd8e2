;; status: 1
; An error in a file ends the run with status 1 after the output so far; the
; script frames name each procedure and the line of its call.
(define (check-positive n)
  (if (< n 0)
      (error "negative value:" n)
      n))
(define (process lst)
  (map check-positive lst))
(define (main)
  (display (process '(1 2 3)))
  (newline)
  (display (process '(4 -5 6)))
  (newline))
(main)
(display "not reached")

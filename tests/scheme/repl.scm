;; stdin
; The REPL: one protected execution per complete input; values are written.
(define x 41)
(+ x 1)
"a string" #\a 'sym
(define (fact n)
  (if (= n 0)
      1
      (* n (fact (- n 1)))))
(fact 20)
(car '())
(fact 5)
(display "displayed")
(list 1 2.5 "three" (vector 4))
(if #f #f)

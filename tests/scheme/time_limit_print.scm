;; arg: --time-limit
;; arg: 300
;; status: 1
;; any-stdout
; Printing never outlives the time limit: writing a cyclic list would go on
; forever, and writing a deeply nested list again and again grows the
; printer's work stack (released by the cleanup stack when the panic unwinds).
(define (nest k) (let loop ((i 0) (l '())) (if (= i k) l (loop (+ i 1) (list l)))))
(define deep (nest 300))
(define (write-forever i) (write deep) (newline) (write-forever (+ i 1)))
(write-forever 0)

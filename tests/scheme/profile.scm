;; arg: --profile
;; stderr-contains: scriptrt memory profile
;; stderr-contains: sc_cons_move
; --profile turns the profiler on and prints its text report on stderr at exit,
; while the program's data is alive: the list below is in it, with the stack
; that allocated it.
(define keep (let loop ((i 0) (l '())) (if (= i 1000) l (loop (+ i 1) (cons i l)))))
(display (length keep))
(newline)

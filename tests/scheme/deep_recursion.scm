; Deep non-tail recursion: 100,000 levels work with the default stack limit.
(define (depth n) (if (= n 0) 0 (+ 1 (depth (- n 1)))))
(display (depth 100000)) (newline)
(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))
(display (length (build 100000))) (newline)
(define (sum l) (if (null? l) 0 (+ (car l) (sum (cdr l)))))
(display (sum (build 100000))) (newline)
(display (length (map (lambda (x) (+ x 1)) (build 100000)))) (newline)

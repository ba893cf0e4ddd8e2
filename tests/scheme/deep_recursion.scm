; Deep non-tail recursion: 100,000 levels work with the default stack limit
; (3,000 when SR_SCHEME_TEST_SMALL is set: valgrind and the stress build, where
; a collection before every allocation makes long live lists quadratic).
(define n (if (get-environment-variable "SR_SCHEME_TEST_SMALL") 3000 100000))
(define (depth k) (if (= k 0) 0 (+ 1 (depth (- k 1)))))
(display (= (depth n) n)) (newline)
(define (build k) (if (= k 0) '() (cons k (build (- k 1)))))
(display (= (length (build n)) n)) (newline)
(define (sum l) (if (null? l) 0 (+ (car l) (sum (cdr l)))))
(display (= (sum (build n)) (quotient (* n (+ n 1)) 2))) (newline)
(display (= (length (map (lambda (x) (+ x 1)) (build n))) n)) (newline)

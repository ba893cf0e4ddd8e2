;; nofile
;; arg: -e
;; arg: (define (f x) (* x x)) (list (f 12) "s" #\c 'sym 1.5)

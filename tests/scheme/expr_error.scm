;; nofile
;; arg: -e
;; arg: (car (cdr '(1)))
;; status: 1

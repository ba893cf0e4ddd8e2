;; arg: --frobnicate
;; status: 2

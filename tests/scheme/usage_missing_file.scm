;; nofile
;; arg: no-such-file.scm
;; status: 2

; demo.scm - scriptrt's cycle collector at work under sr-scheme.
;
;   ./build/release/examples/sr-scheme --stats examples/scheme/demo.scm
;
; Every pair, vector, closure and environment below is a scriptrt object with
; a reference count. Reference counting alone frees a structure the moment its
; last reference goes - except when the structure refers to itself. Each part
; of this program builds such cycles, drops them, and asks the collector
; (collect-garbage) to find them; --stats then prints the runtime's figures.

(define (say . xs) (for-each display xs) (newline))
(define (live) (runtime-stat 'live-objects))

(define (collect what)
  (let* ((before (live))
         (freed (collect-garbage)))
    (say "  collect-garbage freed " freed " objects (" what "); live objects " before " -> " (live))))

(say "sr-scheme on scriptrt: building and dropping cyclic structures")
(collect-garbage)
(say "  live objects at the start: " (live))

; 1. Closures over their own environment. The account's environment holds the
;    procedures defined in it, and each procedure holds that environment.
(say "1. 2,000 bank accounts (closures over their own environment)")
(define (make-account balance)
  (define (deposit! n) (set! balance (+ balance n)) balance)
  (define (withdraw! n)
    (if (> n balance) (error "insufficient funds:" n) (begin (set! balance (- balance n)) balance)))
  (lambda (msg . args)
    (cond ((eq? msg 'deposit) (apply deposit! args))
          ((eq? msg 'withdraw) (apply withdraw! args))
          (else balance))))
(define (open-accounts n)
  (let loop ((i 0) (acc '()))
    (if (= i n) acc (loop (+ i 1) (cons (make-account (* i 10)) acc)))))
(define accounts (open-accounts 2000))
(for-each (lambda (a) (a 'deposit 5) (a 'withdraw 3)) accounts)
(say "  total balance: " (apply + (map (lambda (a) (a 'balance)) accounts)))
(set! accounts '())
(collect "accounts")

; 2. A doubly linked list: each node #(value prev next) points at its
;    neighbours, so every adjacent pair of nodes is a cycle.
(say "2. a doubly linked list of 5,000 nodes")
(define (make-dlist n)
  (let ((head (vector 0 #f #f)))
    (let loop ((i 1) (tail head))
      (if (= i n)
          head
          (let ((node (vector i tail #f)))
            (vector-set! tail 2 node)
            (loop (+ i 1) node))))))
(define (dlist-last node) (if (vector-ref node 2) (dlist-last (vector-ref node 2)) node))
(define (dlist-sum-backwards node acc)
  (if node (dlist-sum-backwards (vector-ref node 1) (+ acc (vector-ref node 0))) acc))
(define dl (make-dlist 5000))
(say "  sum walking backwards from the last node: " (dlist-sum-backwards (dlist-last dl) 0))
(set! dl #f)
(collect "doubly linked list")

; 3. A random graph: 1,000 nodes, 3 edges each, cycles everywhere.
(say "3. a random graph of 1,000 nodes and 3,000 edges")
(define seed 42)
(define (random n)
  (set! seed (modulo (+ (* seed 1103515245) 12345) 2147483648))
  (modulo (quotient seed 65536) n))
(define (make-graph n k)
  (let ((nodes (make-vector n #f)))
    (do ((i 0 (+ i 1))) ((= i n)) (vector-set! nodes i (vector i '())))
    (do ((i 0 (+ i 1))) ((= i n) nodes)
      (do ((j 0 (+ j 1))) ((= j k))
        (let ((node (vector-ref nodes i)))
          (vector-set! node 1 (cons (vector-ref nodes (random n)) (vector-ref node 1))))))))
(define (reachable graph start)
  ; depth-first search with an explicit stack; marks in a vector
  (let ((seen (make-vector (vector-length graph) #f)))
    (let loop ((stack (list (vector-ref graph start))) (count 0))
      (cond ((null? stack) count)
            ((vector-ref seen (vector-ref (car stack) 0)) (loop (cdr stack) count))
            (else
             (vector-set! seen (vector-ref (car stack) 0) #t)
             (loop (append (vector-ref (car stack) 1) (cdr stack)) (+ count 1)))))))
(define g (make-graph 1000 3))
(say "  nodes reachable from node 0: " (reachable g 0))
(set! g #f)
(collect "graph")

; 4. Garbage made in a loop is collected automatically (every gc_threshold
;    allocations) without any call from the program.
(say "4. 20,000 short-lived cycles made in a loop, collected automatically")
(define collections-before (runtime-stat 'gc-collections))
(define (churn i)
  (when (> i 0)
    (let ((ring (list 'a 'b 'c)))
      (set-cdr! (cddr ring) ring))       ; a three-pair ring, dropped at once
    (churn (- i 1))))
(churn 20000)
(say "  automatic collections during the loop: " (- (runtime-stat 'gc-collections) collections-before))
(collect "whatever was left")

(say "done: live objects " (live) ", heap in use " (runtime-stat 'heap-used) " bytes")

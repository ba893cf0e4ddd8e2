; Closures and cyclic structures are reclaimed by the cycle collector:
; (collect-garbage) returns the number of objects it freed, and the live object
; count returns to its baseline once every cycle is dropped.
(define (check name ok) (display name) (display (if ok ": ok" ": FAILED")) (newline))
(collect-garbage)
(define live0 (runtime-stat 'live-objects))
(define collected0 (runtime-stat 'gc-objects-collected))

; one vector that contains itself
(define v (make-vector 1 #f))
(vector-set! v 0 v)
(set! v #f)
(check "self-referencing vector: 1 object freed" (= (collect-garbage) 1))

; a closure whose environment binds the closure itself: the closure, its
; letrec frame, and the frame of the call that made them
(define (make-loop) (letrec ((self (lambda () self))) self))
(define f (make-loop))
(check "closure sees itself" (eq? (f) f))
(set! f #f)
(check "closure/environment cycle: 3 objects freed" (= (collect-garbage) 3))

; a pair whose cdr is itself
(define p (list 'x))
(set-cdr! p p)
(set! p #f)
(check "circular list: 1 object freed" (= (collect-garbage) 1))

; a doubly linked list of 1000 nodes: #(value prev next)
(define (make-dlist n)
  (let loop ((i 1) (head (vector 0 #f #f)) (tail #f))
    (let ((tail (or tail head)))
      (if (= i n)
          head
          (let ((node (vector i tail #f)))
            (vector-set! tail 2 node)
            (loop (+ i 1) head node))))))
(define dl (make-dlist 1000))
(define (dlist-sum node acc) (if node (dlist-sum (vector-ref node 2) (+ acc (vector-ref node 0))) acc))
(check "doubly linked list built" (= (dlist-sum dl 0) 499500))
(set! dl #f)
(check "doubly linked list: 1000 nodes freed" (= (collect-garbage) 1000))

; a graph: 200 nodes, each with edges to three others (cycles everywhere)
(define nodes (make-vector 200 #f))
(do ((i 0 (+ i 1))) ((= i 200))
  (vector-set! nodes i (vector i '())))
(do ((i 0 (+ i 1))) ((= i 200))
  (vector-set! (vector-ref nodes i) 1
               (list (vector-ref nodes (modulo (+ i 1) 200))
                     (vector-ref nodes (modulo (* i 7) 200))
                     (vector-ref nodes (modulo (+ (* i i) 3) 200)))))
(set! nodes #f)
; 1 vector of nodes + 200 node vectors + 600 edge pairs
(check "graph: 801 objects freed" (= (collect-garbage) 801))

; many short-lived closure cycles made in a loop, collected automatically
(define (churn k) (when (> k 0) (make-loop) (churn (- k 1))))
(churn 5000)
(collect-garbage)
(check "every cycle reclaimed: live objects back to the baseline" (= (runtime-stat 'live-objects) live0))
(check "the collector freed them (at least 1000 + 15000 + 806 objects)"
       (>= (- (runtime-stat 'gc-objects-collected) collected0) 16806))

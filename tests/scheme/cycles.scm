; Closures and cyclic structures are reclaimed by the cycle collector:
; (collect-garbage) returns the number of objects it freed - exactly the
; objects that stopped being live - and once every cycle is dropped the live
; object count is back at its baseline.
(define (check name ok) (display name) (display (if ok ": ok" ": FAILED")) (newline))

; Drops a structure with (drop!), collects, and checks that the collector freed
; exactly `expected` objects (or at least `at-least`, when expected is #f) and
; that the live count fell by exactly what it says it freed.
(define (collect-check name drop! expected at-least)
  (define r (make-vector 3 0))      ; made before the first measurement
  (drop!)                           ; what counting alone frees goes now
  (vector-set! r 0 (runtime-stat 'live-objects))
  (vector-set! r 1 (collect-garbage))
  (vector-set! r 2 (runtime-stat 'live-objects))
  (let ((freed (vector-ref r 1)))
    (check name (and (= freed (- (vector-ref r 0) (vector-ref r 2)))
                     (if expected (= freed expected) (>= freed at-least))))))

(define (make-loop) (letrec ((self (lambda () self))) self))

(define (make-dlist n)              ; #(value prev next) nodes
  (let loop ((i 1) (tail (vector 0 #f #f)) (head #f))
    (let ((head (or head tail)))
      (if (= i n)
          head
          (let ((node (vector i tail #f)))
            (vector-set! tail 2 node)
            (loop (+ i 1) node head))))))
(define (dlist-sum node acc) (if node (dlist-sum (vector-ref node 2) (+ acc (vector-ref node 0))) acc))

(define (make-graph n)              ; n nodes #(id edges), 3 edges each
  (let ((nodes (make-vector n #f)))
    (do ((i 0 (+ i 1))) ((= i n)) (vector-set! nodes i (vector i '())))
    (do ((i 0 (+ i 1))) ((= i n) nodes)
      (vector-set! (vector-ref nodes i) 1
                   (list (vector-ref nodes (modulo (+ i 1) n))
                         (vector-ref nodes (modulo (* i 7) n))
                         (vector-ref nodes (modulo (+ (* i i) 3) n)))))))

(define (churn k) (when (> k 0) (make-loop) (churn (- k 1))))

(define live0 0)
(define collected0 0)

(define (checks)
  (let ((v (make-vector 1 #f))
        (f (make-loop))
        (p (list 'x))
        (dl (make-dlist 1000))
        (g (make-graph 200)))
    (collect-garbage)                 ; what building them left behind
    ; one vector that contains itself
    (vector-set! v 0 v)
    (collect-check "self-referencing vector: 1 object freed" (lambda () (set! v #f)) 1 #f)
    ; a closure whose environment binds the closure itself: the closure, its
    ; letrec frame, and the frame of the call to make-loop
    (check "closure sees itself" (eq? (f) f))
    (collect-check "closure/environment cycle: 3 objects freed" (lambda () (set! f #f)) 3 #f)
    ; a pair whose cdr is itself
    (set-cdr! p p)
    (collect-check "circular list: 1 object freed" (lambda () (set! p #f)) 1 #f)
    ; a doubly linked list of 1000 nodes
    (check "doubly linked list built" (= (dlist-sum dl 0) 499500))
    (collect-check "doubly linked list: 1000 objects freed" (lambda () (set! dl #f)) 1000 #f)
    ; a graph: 200 node vectors and 600 edge pairs, cycles everywhere (the
    ; vector of nodes is not part of a cycle: counting frees it at once)
    (collect-check "graph: 800 objects freed" (lambda () (set! g #f)) 800 #f)))

(define (main)
  (collect-garbage)
  (set! live0 (runtime-stat 'live-objects))
  (set! collected0 (runtime-stat 'gc-objects-collected))
  (checks)
  (churn 5000)                      ; 5000 closure cycles, 3 objects each
  (collect-garbage)
  (check "every cycle reclaimed: live objects back to the baseline" (= (runtime-stat 'live-objects) live0))
  (check "the collector freed at least 1 + 3 + 1 + 1000 + 800 + 15000 objects"
         (>= (- (runtime-stat 'gc-objects-collected) collected0) 16805)))
(main)

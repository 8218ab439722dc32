;; The byte scans `warden search` spends its time in, 16 bytes per step (WebAssembly 128-bit
;; SIMD): finding a literal in a chunk of log, counting the newlines between the lines it hits (for
;; line numbers), and telling whether a hit line can be printed as it is. Compiled to byte-kernel.wasm by scripts/build-wasm.mjs; driven by
;; byte-kernel.ts, which copies each chunk into this module's memory. Offsets are byte addresses
;; in that memory; every access is bounds-checked by WebAssembly itself (a wrong offset traps, it
;; cannot read outside the memory).
(module
  (memory (export "memory") 17)

  ;; Newlines in [p, end). Bytes are compared 16 at a time; each lane of $acc counts its matches
  ;; (i8x16.eq gives -1, subtracted) for at most 255 steps before the lanes are summed, so that no
  ;; lane overflows.
  (func (export "countNewlines") (param $p i32) (param $end i32) (result i32)
    (local $n i32) (local $acc v128) (local $steps i32) (local $nl v128) (local $sum v128)
    (local.set $nl (i8x16.splat (i32.const 10)))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $acc (v128.const i64x2 0 0))
        (local.set $steps (i32.const 255))
        (block $steps_done
          (loop $step
            (br_if $steps_done (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
            (br_if $steps_done (i32.eqz (local.get $steps)))
            (local.set $acc (i8x16.sub (local.get $acc) (i8x16.eq (v128.load (local.get $p)) (local.get $nl))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
            (br $step)))
        (local.set $sum (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $acc))))
        (local.set $n (i32.add (local.get $n)
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $sum)) (i32x4.extract_lane 1 (local.get $sum)))
            (i32.add (i32x4.extract_lane 2 (local.get $sum)) (i32x4.extract_lane 3 (local.get $sum))))))
        (br $blocks)))
    ;; The last 0-15 bytes, one at a time.
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 10))
          (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $tail)))
    (local.get $n))

  ;; What the bytes [p, end) are, for printing a line as it is: 0 = printable ASCII (0x20-0x7e)
  ;; without '"' or '\', 1 = printable ASCII with one of those (fine as text, escaped in JSON),
  ;; 2 = some other byte (a control character, DEL, or UTF-8). Lines are short: the lanes are
  ;; or-ed together and looked at once, at the end.
  (func (export "classify") (param $p i32) (param $end i32) (result i32)
    (local $x v128) (local $other v128) (local $special v128) (local $b i32)
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $other (v128.or (local.get $other) (v128.or
          (i8x16.lt_u (local.get $x) (i8x16.splat (i32.const 0x20)))
          (i8x16.gt_u (local.get $x) (i8x16.splat (i32.const 0x7e))))))
        (local.set $special (v128.or (local.get $special) (v128.or
          (i8x16.eq (local.get $x) (i8x16.splat (i32.const 0x22)))
          (i8x16.eq (local.get $x) (i8x16.splat (i32.const 0x5c))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $blocks)))
    (if (v128.any_true (local.get $other)) (then (return (i32.const 2))))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $b (i32.load8_u (local.get $p)))
        (if (i32.or (i32.lt_u (local.get $b) (i32.const 0x20)) (i32.gt_u (local.get $b) (i32.const 0x7e)))
          (then (return (i32.const 2))))
        (if (i32.or (i32.eq (local.get $b) (i32.const 0x22)) (i32.eq (local.get $b) (i32.const 0x5c)))
          (then (local.set $special (i8x16.splat (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $tail)))
    (if (result i32) (v128.any_true (local.get $special)) (then (i32.const 1)) (else (i32.const 0))))

  ;; The first occurrence of the needle [q, q + len) in [p, end), or -1 (len >= 1). Per step, the
  ;; 16 positions whose first byte and last byte both match the needle's are candidates (one
  ;; compare of each kind, a bitmask); only those are compared in full. Needle bytes in a log
  ;; line (digits, dots) are common, a pair of them at the needle's distance is not.
  (func (export "find") (param $p i32) (param $end i32) (param $q i32) (param $len i32) (result i32)
    (local $first v128) (local $last v128) (local $mask i32) (local $at i32) (local $j i32) (local $lastOff i32)
    (local.set $lastOff (i32.sub (local.get $len) (i32.const 1)))
    (local.set $first (i8x16.splat (i32.load8_u (local.get $q))))
    (local.set $last (i8x16.splat (i32.load8_u (i32.add (local.get $q) (local.get $lastOff)))))
    (block $blocks_done
      (loop $blocks
        ;; A step reads [p, p + 16) and [p + lastOff, p + lastOff + 16): both inside [p, end).
        (br_if $blocks_done (i32.gt_u (i32.add (i32.add (local.get $p) (local.get $lastOff)) (i32.const 16)) (local.get $end)))
        (local.set $mask (i8x16.bitmask (v128.and
          (i8x16.eq (v128.load (local.get $p)) (local.get $first))
          (i8x16.eq (v128.load (i32.add (local.get $p) (local.get $lastOff))) (local.get $last)))))
        (block $candidates_done
          (loop $candidates
            (br_if $candidates_done (i32.eqz (local.get $mask)))
            (local.set $at (i32.add (local.get $p) (i32.ctz (local.get $mask))))
            ;; First and last byte match: compare the bytes between.
            (local.set $j (i32.const 1))
            (block $differs
              (loop $compare
                (if (i32.ge_u (local.get $j) (local.get $lastOff)) (then (return (local.get $at))))
                (br_if $differs (i32.ne
                  (i32.load8_u (i32.add (local.get $at) (local.get $j)))
                  (i32.load8_u (i32.add (local.get $q) (local.get $j)))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $compare)))
            ;; Clear the lowest candidate bit.
            (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
            (br $candidates)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $blocks)))
    ;; The positions left (fewer than 16 + lastOff bytes), one at a time.
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.gt_u (i32.add (local.get $p) (local.get $len)) (local.get $end)))
        (local.set $j (i32.const 0))
        (block $differs
          (loop $compare
            (if (i32.ge_u (local.get $j) (local.get $len)) (then (return (local.get $p))))
            (br_if $differs (i32.ne
              (i32.load8_u (i32.add (local.get $p) (local.get $j)))
              (i32.load8_u (i32.add (local.get $q) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $compare)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $tail)))
    (i32.const -1))
)

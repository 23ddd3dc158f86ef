;; Hopland start-up code (our own: the stock sdcc sm83 crt0's RAM-clear loop
;; reads instead of writing).
;; - Interrupt vectors are 8 bytes apart, so each one jumps out (or returns).
;; - makebin -Z writes the cartridge header over 0x104-0x14F.
;; - On reset: clear all of WRAM (the RAM map at 0xC000 starts zeroed, so
;;   LEVEL and SEED are 0 until the host writes them), copy initialised data,
;;   call main.

        .module crt0
        .globl  _main
        .globl  _vbl_flag

        .area   _HEADER (ABS)

        .org    0x00            ; rst 0x00 (unused)
        ret
        .org    0x38            ; rst 0x38: what executing 0xFF bytes lands on
        jr      .
        .org    0x40            ; v-blank interrupt
        jp      vbl_isr
        .org    0x48            ; LCD STAT (unused)
        reti
        .org    0x50            ; timer (unused)
        reti
        .org    0x58            ; serial (unused)
        reti
        .org    0x60            ; joypad (unused)
        reti

        .org    0x100           ; entry point, then the header (0x104-0x14F)
        nop
        jp      init

        .org    0x150
init:
        di
        ld      sp, #0xE000     ; stack at the top of WRAM
        ld      hl, #0xC000     ; clear WRAM 0xC000-0xDFFF
        ld      bc, #0x2000
1$:     xor     a
        ld      (hl+), a
        dec     bc
        ld      a, b
        or      c
        jr      nz, 1$
        call    gsinit
        call    _main
2$:     halt                    ; main never returns
        nop
        jr      2$

;; The frame loop halts until this sets vbl_flag; all the v-blank work is
;; done by the main loop (vblank.s), not here.
vbl_isr:
        push    af
        ld      a, #1
        ld      (_vbl_flag), a
        pop     af
        reti

        ;; Order of the areas for the linker: code in ROM, data in WRAM.
        .area   _HOME
        .area   _CODE
        .area   _INITIALIZER
        .area   _GSINIT
        .area   _GSFINAL
        .area   _DATA
        .area   _INITIALIZED
        .area   _BSEG
        .area   _BSS
        .area   _HEAP

        .area   _GSINIT
gsinit::
        ld      de, #s__INITIALIZED     ; copy initialised globals from ROM
        ld      hl, #s__INITIALIZER
        ld      bc, #l__INITIALIZER
3$:     ld      a, b
        or      c
        jr      z, 4$
        ld      a, (hl+)
        ld      (de), a
        inc     de
        dec     bc
        jr      3$
4$:
        .area   _GSFINAL
        ret
